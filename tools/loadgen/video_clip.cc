#include "tools/loadgen/video_clip.h"

#include <algorithm>
#include <cstdlib>

#include "pipeline/video/picture.h"
#include "pipeline/video/rtp_video.h"
#include "pipeline/video/video_codec.h"

namespace chorus::loadgen {
namespace {

constexpr size_t kMaxPayload = 1200;

// A diagonal gradient that scrolls, with a bright box travelling across: enough motion for the
// encoder to produce delta frames of a realistic size.
void Draw(int index, video::Picture* picture) {
  const int w = picture->width, h = picture->height;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      picture->y[static_cast<size_t>(y * w + x)] = static_cast<uint8_t>((x + y + index * 4) & 0xff);
    }
  }
  const int box = std::max(8, h / 6);
  const int bx = (index * 12) % std::max(1, w - box), by = (index * 7) % std::max(1, h - box);
  for (int y = by; y < by + box && y < h; ++y) {
    std::fill_n(picture->y.begin() + y * w + bx, std::min(box, w - bx), 235);
  }
  const int cw = picture->chroma_width(), ch = picture->chroma_height();
  for (int y = 0; y < ch; ++y) {
    for (int x = 0; x < cw; ++x) {
      picture->u[static_cast<size_t>(y * cw + x)] = static_cast<uint8_t>(96 + (x + index) % 64);
      picture->v[static_cast<size_t>(y * cw + x)] = static_cast<uint8_t>(160 - (y + index) % 64);
    }
  }
}

}  // namespace

absl::StatusOr<VideoClip> VideoClip::Create(int width, int height, int frames, int bitrate_bps) {
  if (width < 16 || height < 16 || width > 1920 || height > 1080 || width % 2 != 0 ||
      height % 2 != 0 || frames < 1 || frames > 1000) {
    return absl::InvalidArgumentError("video: even sizes from 16x16 to 1920x1080, 1-1000 frames");
  }
  video::VideoEncoderConfig config;
  config.codec = video::VideoCodec::kVp8;
  config.width = width;
  config.height = height;
  config.bitrate_bps = bitrate_bps;
  config.frame_rate = 25;
  config.keyframe_interval = frames;
  auto encoder = video::VideoEncoder::Create(config);
  if (!encoder.ok()) return encoder.status();
  video::Picture picture;
  picture.Allocate(width, height);
  VideoClip clip;
  std::vector<uint8_t> encoded;
  for (int i = 0; i < frames; ++i) {
    Draw(i, &picture);
    Frame frame;
    absl::Status status = (*encoder)->Encode(picture, i == 0, &encoded, &frame.keyframe);
    if (!status.ok()) return status;
    if (encoded.empty()) continue;
    frame.payloads = video::PacketizeVp8(encoded, kMaxPayload);
    if (!frame.payloads.empty()) clip.frames_.push_back(std::move(frame));
  }
  if (clip.frames_.empty() || !clip.frames_.front().keyframe) {
    return absl::InternalError("the VP8 encoder produced no keyframe for the video clip");
  }
  return clip;
}

}  // namespace chorus::loadgen
