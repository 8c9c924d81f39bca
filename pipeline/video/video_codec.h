#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/video/picture.h"
#include "pipeline/video/rtp_video.h"

struct AVCodecContext;
struct AVFrame;
struct AVPacket;

namespace chorus::video {

// Decodes one participant's video through libavcodec (vp8, h264), one frame in, at most one
// picture out, no frame delay. Survives corrupt frames (an error, the next keyframe recovers)
// and resolution changes (the picture takes the new size).
class VideoDecoder {
 public:
  static absl::StatusOr<std::unique_ptr<VideoDecoder>> Create(VideoCodec codec);
  ~VideoDecoder();

  // `*got` is false when the frame gave no picture (yet).
  absl::Status Decode(std::span<const uint8_t> frame, Picture* out, bool* got);

 private:
  VideoDecoder() = default;
  AVCodecContext* context_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* packet_ = nullptr;
};

struct VideoEncoderConfig {
  VideoCodec codec = VideoCodec::kVp8;
  int width = 640;  // even
  int height = 360;
  int bitrate_bps = 800'000;
  int frame_rate = 30;
  int keyframe_interval = 300;  // frames; keyframes are otherwise asked for (PLI, new viewer)
};

// Encodes one view through libavcodec: VP8 with libvpx in real time, H.264 with libx264 (zero
// latency, constrained baseline, parameter sets before every keyframe). No frame delay.
class VideoEncoder {
 public:
  static absl::StatusOr<std::unique_ptr<VideoEncoder>> Create(const VideoEncoderConfig& config);
  ~VideoEncoder();

  // Encodes `picture` (of the configured size); `*out` gets the encoded frame (VP8 bytes, or
  // H.264 Annex B), `*keyframe` whether it is one.
  absl::Status Encode(const Picture& picture, bool force_keyframe, std::vector<uint8_t>* out,
                      bool* keyframe);
  const VideoEncoderConfig& config() const { return config_; }

 private:
  explicit VideoEncoder(const VideoEncoderConfig& config) : config_(config) {}
  VideoEncoderConfig config_;
  AVCodecContext* context_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* packet_ = nullptr;
  int64_t pts_ = 0;
};

}  // namespace chorus::video
