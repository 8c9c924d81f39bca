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
struct OpusEncoder;

namespace chorus::codec {

struct AudioEncoderConfig {
  AudioCodec codec = AudioCodec::kOpus;
  // Opus only.
  int bitrate_bps = 32000;
  bool inband_fec = true;
  // The loss the encoder plans its in-band FEC for until receiver reports say otherwise
  // (SetPacketLossPercent()).
  int expected_loss_percent = 5;
  bool dtx = false;
  int complexity = 5;
};

// Encodes 20 ms of 48 kHz mono into one RTP payload. Opus through libopus itself (VoIP
// application, VBR, in-band FEC): libavcodec's wrapper applies the expected packet loss only when
// it opens the encoder, and the loss a listener reports changes during a call. G.711 and G.722
// through libavcodec (pcm_mulaw, pcm_alaw, g722), resampling with libswresample for G.711 (8 kHz)
// and G.722 (16 kHz). Thread: one media worker. Opus allocates nothing per frame; for the others
// the AVFrame is reused (libavcodec allocates the packet buffer it returns).
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

  // Opus: the packet loss, in percent (0 to 100, clamped), that in-band FEC is planned for
  // (OPUS_SET_PACKET_LOSS_PERC): the higher, the more of the bitrate goes into the redundant
  // copy of the previous frame. Takes effect with the next frame; cheap, but call it when the
  // value changes rather than every frame. Other codecs: ignored.
  void SetPacketLossPercent(int percent);
  // What the encoder uses now, read back from libopus; -1 for codecs other than Opus.
  int packet_loss_percent() const;
  // Whether in-band FEC is on, read back from libopus; false for codecs other than Opus.
  bool inband_fec() const;
  // Opus: the next frame is coded without prediction from the frames before it
  // (OPUS_SET_PREDICTION_DISABLED for one frame), for a receiver whose decoder did not decode
  // this encoder's previous frames (it was sent another stream's packets meanwhile): predicted
  // band energies would otherwise be added to the other stream's, a loud burst. Others: ignored.
  void EncodeNextIndependently() { independent_next_ = opus_ != nullptr; }

 private:
  explicit AudioEncoder(const AudioEncoderConfig& config) : config_(config) {}

  const AudioEncoderConfig config_;
  OpusEncoder* opus_ = nullptr;  // owned; Opus only (the libavcodec members stay null)
  AVCodecContext* context_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* packet_ = nullptr;
  SwrContext* resampler_ = nullptr;
  int codec_samples_ = kFrameSamples;  // samples per 20 ms at the codec's rate
  bool independent_next_ = false;
};

}  // namespace chorus::codec
