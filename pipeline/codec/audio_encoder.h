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

namespace chorus::codec {

struct AudioEncoderConfig {
  AudioCodec codec = AudioCodec::kOpus;
  // Opus only.
  int bitrate_bps = 32000;
  bool inband_fec = true;
  int expected_loss_percent = 5;
  bool dtx = false;
  int complexity = 5;
};

// Encodes 20 ms of 48 kHz mono into one RTP payload, through libavcodec (the libopus encoder
// wrapper, pcm_mulaw, pcm_alaw, g722), resampling with libswresample for G.711 (8 kHz) and G.722
// (16 kHz). Thread: one media worker; the AVFrame is reused (no allocation by our code per frame;
// libavcodec allocates the packet buffer it returns).
class AudioEncoder {
 public:
  static absl::StatusOr<std::unique_ptr<AudioEncoder>> Create(const AudioEncoderConfig& config);
  ~AudioEncoder();
  AudioEncoder(const AudioEncoder&) = delete;
  AudioEncoder& operator=(const AudioEncoder&) = delete;

  const AudioEncoderConfig& config() const { return config_; }
  // Encodes exactly 960 samples; returns the payload size written to `out` (0 when the encoder
  // produced nothing this time, e.g. while it fills its look-ahead), or -1 on error.
  int Encode(std::span<const int16_t> samples, std::span<uint8_t> out);
  uint32_t timestamp_increment() const { return TimestampIncrement(config_.codec); }

 private:
  explicit AudioEncoder(const AudioEncoderConfig& config) : config_(config) {}

  const AudioEncoderConfig config_;
  AVCodecContext* context_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* packet_ = nullptr;
  SwrContext* resampler_ = nullptr;
  int codec_samples_ = kFrameSamples;  // samples per 20 ms at the codec's rate
};

}  // namespace chorus::codec
