#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace chorus::loadgen {

// A camera's worth of VP8 video encoded once at start (through pipeline/video), already cut into
// RTP payloads (RFC 7741): a moving test pattern, `frames` frames at 25 per second, the first a
// keyframe and another every `frames` so that looping the clip restarts at a keyframe.
// Immutable after Create(); shared by every participant on the generator's thread.
class VideoClip {
 public:
  struct Frame {
    std::vector<std::vector<uint8_t>> payloads;  // in order; the last one carries the marker
    bool keyframe = false;
  };
  // Even `width` x `height` from 16x16 to 1920x1080; INVALID_ARGUMENT otherwise, INTERNAL when
  // the encoder fails.
  static absl::StatusOr<VideoClip> Create(int width, int height, int frames, int bitrate_bps);

  const Frame& frame(size_t index) const { return frames_[index % frames_.size()]; }
  size_t frames() const { return frames_.size(); }

 private:
  std::vector<Frame> frames_;
};

}  // namespace chorus::loadgen
