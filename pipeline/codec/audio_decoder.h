#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "pipeline/codec/audio_codec.h"

struct AVCodecContext;
struct AVFrame;
struct AVPacket;
struct SwrContext;
struct OpusDecoder;

namespace chorus::codec {

enum class DecodeResult : uint8_t { kOk, kCorrupt, kError };

// Decodes one RTP payload per 20 ms tick into 960 samples of 48 kHz mono.
//
// G.711 (PCMU/PCMA) and G.722 go through libavcodec, then libswresample to 48 kHz (state kept
// across frames; the resampler's start-up delay is padded once). Opus goes through libopus
// itself: libavcodec's decode API has no way to ask for packet-loss concealment or for in-band
// FEC (an empty packet means "drain"), and both are what keeps a lossy line intelligible.
// Stereo Opus is downmixed by libopus. Packets of 20 ms are the contract (Chorus asks for them);
// shorter ones are padded with silence, longer ones keep their first 20 ms.
// Concealment: Opus PLC; for G.711/G.722 the last frame repeated with 6 dB less each time,
// silent after 60 ms. Thread: one media worker. Our code allocates nothing per frame (libavcodec
// may, internally, for G.711/G.722 packet references).
class AudioDecoder {
 public:
  static absl::StatusOr<std::unique_ptr<AudioDecoder>> Create(AudioCodec codec);
  ~AudioDecoder();
  AudioDecoder(const AudioDecoder&) = delete;
  AudioDecoder& operator=(const AudioDecoder&) = delete;

  AudioCodec codec() const { return codec_; }
  // `out` holds at least 960 samples; exactly 960 are written on kOk.
  DecodeResult Decode(std::span<const uint8_t> payload, std::span<int16_t> out);
  // 20 ms of concealment for a lost frame.
  void Conceal(std::span<int16_t> out);
  // Rebuilds a lost frame from the in-band FEC of the next packet (Opus only; libopus conceals
  // when the packet carries no FEC). False for the other codecs or without a next packet: then
  // Conceal.
  bool DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> out);

 private:
  explicit AudioDecoder(AudioCodec codec) : codec_(codec) {}
  DecodeResult DecodeWithLibavcodec(std::span<const uint8_t> payload, std::span<int16_t> out);
  void Remember(std::span<const int16_t> frame);

  const AudioCodec codec_;
  OpusDecoder* opus_ = nullptr;
  AVCodecContext* context_ = nullptr;
  AVPacket* packet_ = nullptr;
  AVFrame* frame_ = nullptr;
  SwrContext* resampler_ = nullptr;
  std::array<uint8_t, 1500 + 64> payload_{};
  std::array<int16_t, kFrameSamples> last_{};
  int losses_in_a_row_ = 0;
};

}  // namespace chorus::codec
