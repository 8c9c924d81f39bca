#include "tools/loadgen/talk_clip.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "pipeline/codec/audio_codec.h"
#include "pipeline/codec/audio_encoder.h"
#include "pipeline/rtp/audio_level.h"

namespace chorus::loadgen {
namespace {

constexpr int kRateHz = codec::kInternalRateHz;
constexpr size_t kFrame = codec::kFrameSamples;

}  // namespace

std::vector<int16_t> TalkClip::Synthesize(int duration_ms) {
  const size_t samples = static_cast<size_t>(std::max(duration_ms, 20)) * kRateHz / 1000;
  std::vector<int16_t> pcm(samples);
  // A voiced sound: a fundamental gliding around 140 Hz with eight harmonics falling at 1/k, in
  // syllables of 180 ms whose envelope swings between 45 % and 100 % (never silent: a listener's
  // level detector must see the talk from its first frame). Peak about -12 dBov.
  constexpr double kSyllableS = 0.18;
  constexpr double kPeak = 0.25 * 32767.0;
  double phase = 0;
  for (size_t i = 0; i < samples; ++i) {
    const double t = static_cast<double>(i) / kRateHz;
    const double f0 = 140.0 + 25.0 * std::sin(2 * std::numbers::pi * 0.7 * t);
    phase += 2 * std::numbers::pi * f0 / kRateHz;
    double voice = 0;
    for (int k = 1; k <= 8; ++k) voice += std::sin(phase * k) / k;
    const double syllable = std::fmod(t, kSyllableS) / kSyllableS;
    const double envelope = 0.45 + 0.55 * std::sin(std::numbers::pi * syllable);
    const double attack = std::min(1.0, t / 0.005);  // 5 ms fade-in, no click
    pcm[i] = static_cast<int16_t>(
        std::clamp(kPeak * envelope * attack * voice / 2.2, -32767.0, 32767.0));
  }
  return pcm;
}

absl::StatusOr<TalkClip> TalkClip::Create(int duration_ms, int bitrate_bps) {
  codec::AudioEncoderConfig config;
  config.codec = codec::AudioCodec::kOpus;
  config.bitrate_bps = bitrate_bps;
  auto encoder = codec::AudioEncoder::Create(config);
  if (!encoder.ok()) return encoder.status();
  std::vector<int16_t> pcm = Synthesize(duration_ms);
  const size_t frames = pcm.size() / kFrame;
  pcm.resize((frames + 4) * kFrame, 0);  // silence after the clip flushes the look-ahead
  TalkClip clip;
  std::vector<uint8_t> out(1500);
  // libopus delays its output by its look-ahead: the payload returned for input frame i may carry
  // the end of frame i-1. Levels are those of the input frame; the few milliseconds of skew do
  // not matter to a level detector.
  for (size_t i = 0; i < frames + 4; ++i) {
    std::span<const int16_t> samples(pcm.data() + i * kFrame, kFrame);
    const int size = (*encoder)->Encode(samples, out);
    if (size < 0) return absl::InternalError("Opus encoding of the talk clip failed");
    if (size == 0) continue;
    EncodedFrame frame;
    frame.payload.assign(out.begin(), out.begin() + size);
    if (clip.talk_.size() < frames) {
      frame.level = rtp::LevelFromSamples(samples);
      frame.voice = true;
      clip.talk_.push_back(std::move(frame));
    } else {
      frame.level = rtp::kSilentLevel;
      clip.silence_ = std::move(frame);
    }
  }
  if (clip.talk_.empty() || clip.silence_.payload.empty()) {
    return absl::InternalError("the Opus encoder produced no frames for the talk clip");
  }
  return clip;
}

}  // namespace chorus::loadgen
