#include "pipeline/video/video_codec.h"

#include <libyuv/planar_functions.h>

#include <mutex>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
}

namespace chorus::video {
namespace {

std::string AvError(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof(text));
  return text;
}

}  // namespace

// ----- VideoDecoder -----

namespace {
// libavcodec reports corrupt input on its log; Chorus counts it instead.
void QuietLibav() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}
}  // namespace

absl::StatusOr<std::unique_ptr<VideoDecoder>> VideoDecoder::Create(VideoCodec codec) {
  QuietLibav();
  const AVCodec* av_codec =
      avcodec_find_decoder(codec == VideoCodec::kVp8 ? AV_CODEC_ID_VP8 : AV_CODEC_ID_H264);
  if (av_codec == nullptr) return absl::UnavailableError("libavcodec has no such video decoder");
  std::unique_ptr<VideoDecoder> decoder(new VideoDecoder());
  decoder->context_ = avcodec_alloc_context3(av_codec);
  decoder->frame_ = av_frame_alloc();
  decoder->packet_ = av_packet_alloc();
  if (decoder->context_ == nullptr || decoder->frame_ == nullptr || decoder->packet_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate a video decoder");
  }
  decoder->context_->thread_count = 1;
  decoder->context_->flags |= AV_CODEC_FLAG_LOW_DELAY;
  if (int rc = avcodec_open2(decoder->context_, av_codec, nullptr); rc < 0) {
    return absl::InternalError("cannot open the video decoder: " + AvError(rc));
  }
  return decoder;
}

VideoDecoder::~VideoDecoder() {
  av_packet_free(&packet_);
  av_frame_free(&frame_);
  avcodec_free_context(&context_);
}

absl::Status VideoDecoder::Decode(std::span<const uint8_t> frame, Picture* out, bool* got) {
  *got = false;
  if (frame.empty()) return absl::InvalidArgumentError("empty video frame");
  packet_->data = const_cast<uint8_t*>(frame.data());
  packet_->size = static_cast<int>(frame.size());
  int rc = avcodec_send_packet(context_, packet_);
  packet_->data = nullptr;
  packet_->size = 0;
  if (rc < 0 && rc != AVERROR(EAGAIN)) {
    return absl::DataLossError("the video frame does not decode: " + AvError(rc));
  }
  rc = avcodec_receive_frame(context_, frame_);
  if (rc == AVERROR(EAGAIN)) return absl::OkStatus();
  if (rc < 0) return absl::DataLossError("the video frame does not decode: " + AvError(rc));
  if ((frame_->format != AV_PIX_FMT_YUV420P && frame_->format != AV_PIX_FMT_YUVJ420P) ||
      frame_->width <= 0 || frame_->height <= 0 || frame_->width > 4096 || frame_->height > 4096) {
    av_frame_unref(frame_);
    return absl::UnimplementedError("decoded video is not 4:2:0 8-bit within 4096x4096");
  }
  if (out->width != frame_->width || out->height != frame_->height) {
    out->Allocate(frame_->width, frame_->height);
  }
  libyuv::I420Copy(frame_->data[0], frame_->linesize[0], frame_->data[1], frame_->linesize[1],
                   frame_->data[2], frame_->linesize[2], out->y.data(), out->width, out->u.data(),
                   out->chroma_width(), out->v.data(), out->chroma_width(), out->width,
                   out->height);
  av_frame_unref(frame_);
  *got = true;
  return absl::OkStatus();
}

// ----- VideoEncoder -----

absl::StatusOr<std::unique_ptr<VideoEncoder>> VideoEncoder::Create(
    const VideoEncoderConfig& config) {
  if (config.width < 16 || config.height < 16 || config.width > 4096 || config.height > 4096 ||
      config.width % 2 != 0 || config.height % 2 != 0) {
    return absl::InvalidArgumentError("video size must be even, 16 to 4096 pixels");
  }
  if (config.frame_rate < 1 || config.frame_rate > 60 || config.bitrate_bps < 50'000 ||
      config.bitrate_bps > 20'000'000) {
    return absl::InvalidArgumentError("video frame rate 1-60, bitrate 50 kb/s to 20 Mb/s");
  }
  const char* name = config.codec == VideoCodec::kVp8 ? "libvpx" : "libx264";
  const AVCodec* av_codec = avcodec_find_encoder_by_name(name);
  if (av_codec == nullptr) {
    return absl::UnavailableError(std::string("libavcodec has no ") + name + " encoder");
  }
  std::unique_ptr<VideoEncoder> encoder(new VideoEncoder(config));
  AVCodecContext* c = encoder->context_ = avcodec_alloc_context3(av_codec);
  encoder->frame_ = av_frame_alloc();
  encoder->packet_ = av_packet_alloc();
  if (c == nullptr || encoder->frame_ == nullptr || encoder->packet_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate a video encoder");
  }
  c->width = config.width;
  c->height = config.height;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->time_base = AVRational{1, config.frame_rate};
  c->framerate = AVRational{config.frame_rate, 1};
  c->bit_rate = config.bitrate_bps;
  c->gop_size = config.keyframe_interval;
  c->max_b_frames = 0;
  c->thread_count = 1;
  if (config.codec == VideoCodec::kVp8) {
    av_opt_set(c->priv_data, "deadline", "realtime", 0);
    av_opt_set_int(c->priv_data, "cpu-used", 16, 0);
    av_opt_set_int(c->priv_data, "lag-in-frames", 0, 0);
    av_opt_set(c->priv_data, "error-resilient", "default", 0);
    // Macroblocks whose prediction error is below this are coded as unchanged: letterboxes,
    // still backgrounds and the codec noise of decoded tiles cost nothing to encode. Halves a
    // 720p view's encode time on call-like content; quality is guarded by a test (slow fades
    // over a noisy texture keep their PSNR).
    av_opt_set_int(c->priv_data, "static-thresh", 1000, 0);
  } else {
    av_opt_set(c->priv_data, "preset", "veryfast", 0);
    av_opt_set(c->priv_data, "tune", "zerolatency", 0);
    av_opt_set(c->priv_data, "profile", "baseline", 0);
  }
  if (int rc = avcodec_open2(c, av_codec, nullptr); rc < 0) {
    return absl::InternalError(std::string("cannot open ") + name + ": " + AvError(rc));
  }
  AVFrame* f = encoder->frame_;
  f->format = AV_PIX_FMT_YUV420P;
  f->width = config.width;
  f->height = config.height;
  if (int rc = av_frame_get_buffer(f, 0); rc < 0) {
    return absl::ResourceExhaustedError("cannot allocate a video frame: " + AvError(rc));
  }
  return encoder;
}

VideoEncoder::~VideoEncoder() {
  av_packet_free(&packet_);
  av_frame_free(&frame_);
  avcodec_free_context(&context_);
}

absl::Status VideoEncoder::Encode(const Picture& picture, bool force_keyframe,
                                  std::vector<uint8_t>* out, bool* keyframe) {
  out->clear();
  *keyframe = false;
  if (picture.width != config_.width || picture.height != config_.height) {
    return absl::InvalidArgumentError("the picture is not of the encoder's size");
  }
  if (int rc = av_frame_make_writable(frame_); rc < 0) {
    return absl::ResourceExhaustedError("video frame not writable: " + AvError(rc));
  }
  libyuv::I420Copy(picture.y.data(), picture.width, picture.u.data(), picture.chroma_width(),
                   picture.v.data(), picture.chroma_width(), frame_->data[0], frame_->linesize[0],
                   frame_->data[1], frame_->linesize[1], frame_->data[2], frame_->linesize[2],
                   picture.width, picture.height);
  frame_->pts = pts_++;
  frame_->pict_type = force_keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  if (int rc = avcodec_send_frame(context_, frame_); rc < 0) {
    return absl::InternalError("the video encoder refused a frame: " + AvError(rc));
  }
  int rc = avcodec_receive_packet(context_, packet_);
  if (rc == AVERROR(EAGAIN)) return absl::OkStatus();
  if (rc < 0) return absl::InternalError("the video encoder failed: " + AvError(rc));
  out->assign(packet_->data, packet_->data + packet_->size);
  *keyframe = (packet_->flags & AV_PKT_FLAG_KEY) != 0;
  av_packet_unref(packet_);
  return absl::OkStatus();
}

}  // namespace chorus::video
