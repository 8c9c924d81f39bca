#include "pipeline/codec/audio_encoder.h"

#include <opus/opus.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

#include "pipeline/codec/ffmpeg_util.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
}

namespace chorus::codec {

absl::StatusOr<std::unique_ptr<AudioEncoder>> AudioEncoder::Create(
    const AudioEncoderConfig& config) {
  // libavcodec's own warnings would go to stderr as free text; Chorus logs JSON lines only.
  static std::once_flag quiet;
  std::call_once(quiet, [] { av_log_set_level(AV_LOG_ERROR); });
  if (config.codec == AudioCodec::kOpus &&
      (config.bitrate_bps < 6000 || config.bitrate_bps > 510000)) {
    return absl::InvalidArgumentError("Opus bitrate must be 6000 to 510000 bit/s");
  }
  std::unique_ptr<AudioEncoder> encoder(new AudioEncoder(config));
  if (config.codec == AudioCodec::kOpus) {
    if (config.expected_loss_percent < 0 || config.expected_loss_percent > 100) {
      return absl::InvalidArgumentError("Opus expected loss must be 0 to 100 percent");
    }
    int error = 0;
    encoder->opus_ = opus_encoder_create(kInternalRateHz, 1, OPUS_APPLICATION_VOIP, &error);
    if (error != OPUS_OK || encoder->opus_ == nullptr) {
      return absl::InternalError(std::string("cannot create the Opus encoder: ") +
                                 opus_strerror(error));
    }
    // Unconstrained VBR at the configured bitrate, 20 ms frames (Encode() takes 960 samples).
    OpusEncoder* opus = encoder->opus_;
    if (opus_encoder_ctl(opus, OPUS_SET_BITRATE(config.bitrate_bps)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_VBR(1)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_VBR_CONSTRAINT(0)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_INBAND_FEC(config.inband_fec ? 1 : 0)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_PACKET_LOSS_PERC(config.expected_loss_percent)) !=
            OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_DTX(config.dtx ? 1 : 0)) != OPUS_OK) {
      return absl::InternalError("libopus refused the encoder settings");
    }
    if (opus_encoder_ctl(opus, OPUS_SET_COMPLEXITY(config.complexity)) != OPUS_OK) {
      return absl::InvalidArgumentError("Opus complexity must be 0 to 10");
    }
    return encoder;
  }
  const char* name = config.codec == AudioCodec::kPcmu   ? "pcm_mulaw"
                     : config.codec == AudioCodec::kPcma ? "pcm_alaw"
                                                         : "g722";
  const AVCodec* av_codec = avcodec_find_encoder_by_name(name);
  if (av_codec == nullptr) {
    return absl::UnavailableError(std::string("libavcodec has no encoder ") + name);
  }
  AVCodecContext* context = avcodec_alloc_context3(av_codec);
  encoder->context_ = context;
  const int rate = CodecSampleRate(config.codec);
  context->sample_rate = rate;
  context->sample_fmt = AV_SAMPLE_FMT_S16;
  av_channel_layout_default(&context->ch_layout, 1);
  context->time_base = AVRational{1, rate};
  int error = avcodec_open2(context, av_codec, nullptr);
  if (error < 0) {
    return absl::InternalError(std::string("cannot open the encoder ") + name + ": " +
                               internal::AvError(error));
  }
  encoder->codec_samples_ = rate / 50;
  if (context->frame_size != 0 && context->frame_size != encoder->codec_samples_) {
    return absl::InternalError(std::string("the encoder ") + name + " wants frames of " +
                               std::to_string(context->frame_size) + " samples, not 20 ms");
  }
  encoder->frame_ = av_frame_alloc();
  encoder->packet_ = av_packet_alloc();
  if (encoder->frame_ == nullptr || encoder->packet_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate the encoder's buffers");
  }
  encoder->frame_->format = AV_SAMPLE_FMT_S16;
  encoder->frame_->sample_rate = rate;
  encoder->frame_->nb_samples = encoder->codec_samples_;
  av_channel_layout_default(&encoder->frame_->ch_layout, 1);
  if (av_frame_get_buffer(encoder->frame_, 0) < 0) {
    return absl::ResourceExhaustedError("cannot allocate the encoder's frame");
  }
  if (rate != kInternalRateHz) {
    encoder->resampler_ = internal::MakeMonoResampler(kInternalRateHz, rate);
    if (encoder->resampler_ == nullptr) return absl::InternalError("cannot create a resampler");
  }
  return encoder;
}

AudioEncoder::~AudioEncoder() {
  if (opus_ != nullptr) opus_encoder_destroy(opus_);
  avcodec_free_context(&context_);
  av_frame_free(&frame_);
  av_packet_free(&packet_);
  swr_free(&resampler_);
}

int AudioEncoder::Encode(std::span<const int16_t> samples, std::span<uint8_t> out) {
  if (samples.size() < static_cast<size_t>(kFrameSamples)) return -1;
  if (opus_ != nullptr) {
    const auto capacity = static_cast<opus_int32>(std::min<size_t>(out.size(), 1500));
    const bool independent = independent_next_;
    if (independent) {
      independent_next_ = false;
      opus_encoder_ctl(opus_, OPUS_SET_PREDICTION_DISABLED(1));
    }
    const opus_int32 size = opus_encode(opus_, samples.data(), kFrameSamples, out.data(), capacity);
    if (independent) opus_encoder_ctl(opus_, OPUS_SET_PREDICTION_DISABLED(0));
    if (size < 0) return -1;
    // With DTX, a packet of at most 2 bytes means "nothing to transmit" (RFC 7587 section 3.1.3).
    if (config_.dtx && size <= 2) return 0;
    return size;
  }
  if (av_frame_make_writable(frame_) < 0) return -1;
  auto* data = reinterpret_cast<int16_t*>(frame_->data[0]);
  if (resampler_ != nullptr) {
    if (!internal::ResampleExact(resampler_, samples.data(), kFrameSamples, data, codec_samples_)) {
      return -1;
    }
  } else {
    std::memcpy(data, samples.data(), kFrameSamples * sizeof(int16_t));
  }
  frame_->nb_samples = codec_samples_;
  if (avcodec_send_frame(context_, frame_) < 0) return -1;
  int size = 0;
  while (avcodec_receive_packet(context_, packet_) == 0) {
    // One packet per 20 ms frame; should two come, the last one wins (never happens with 20 ms
    // frames, which every encoder here takes whole).
    if (static_cast<size_t>(packet_->size) <= out.size()) {
      std::memcpy(out.data(), packet_->data, static_cast<size_t>(packet_->size));
      size = packet_->size;
    }
    av_packet_unref(packet_);
  }
  return size;
}

void AudioEncoder::SetPacketLossPercent(int percent) {
  if (opus_ == nullptr) return;
  (void)opus_encoder_ctl(opus_, OPUS_SET_PACKET_LOSS_PERC(std::clamp(percent, 0, 100)));
}

int AudioEncoder::packet_loss_percent() const {
  if (opus_ == nullptr) return -1;
  opus_int32 percent = -1;
  if (opus_encoder_ctl(opus_, OPUS_GET_PACKET_LOSS_PERC(&percent)) != OPUS_OK) return -1;
  return percent;
}

bool AudioEncoder::inband_fec() const {
  if (opus_ == nullptr) return false;
  opus_int32 fec = 0;
  if (opus_encoder_ctl(opus_, OPUS_GET_INBAND_FEC(&fec)) != OPUS_OK) return false;
  return fec != 0;
}

}  // namespace chorus::codec
