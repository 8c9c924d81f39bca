#include "pipeline/codec/audio_decoder.h"

#include <opus/opus.h>

#include <algorithm>
#include <cstring>

#include "pipeline/codec/ffmpeg_util.h"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace chorus::codec {

absl::StatusOr<std::unique_ptr<AudioDecoder>> AudioDecoder::Create(AudioCodec codec) {
  std::unique_ptr<AudioDecoder> decoder(new AudioDecoder(codec));
  if (codec == AudioCodec::kOpus) {
    int error = 0;
    decoder->opus_ = opus_decoder_create(kInternalRateHz, 1, &error);
    if (error != OPUS_OK || decoder->opus_ == nullptr) {
      return absl::InternalError(std::string("cannot create the Opus decoder: ") +
                                 opus_strerror(error));
    }
    return decoder;
  }
  AVCodecID id = codec == AudioCodec::kPcmu   ? AV_CODEC_ID_PCM_MULAW
                 : codec == AudioCodec::kPcma ? AV_CODEC_ID_PCM_ALAW
                                              : AV_CODEC_ID_ADPCM_G722;
  const AVCodec* av_codec = avcodec_find_decoder(id);
  if (av_codec == nullptr) {
    return absl::UnavailableError(std::string("libavcodec has no decoder for ") +
                                  std::string(CodecName(codec)));
  }
  decoder->context_ = avcodec_alloc_context3(av_codec);
  decoder->context_->sample_rate = CodecSampleRate(codec);
  av_channel_layout_default(&decoder->context_->ch_layout, 1);
  int error = avcodec_open2(decoder->context_, av_codec, nullptr);
  if (error < 0) {
    return absl::InternalError("cannot open the " + std::string(CodecName(codec)) +
                               " decoder: " + internal::AvError(error));
  }
  decoder->packet_ = av_packet_alloc();
  decoder->frame_ = av_frame_alloc();
  decoder->resampler_ = internal::MakeMonoResampler(CodecSampleRate(codec), kInternalRateHz);
  if (decoder->packet_ == nullptr || decoder->frame_ == nullptr || decoder->resampler_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate the decoder's buffers");
  }
  return decoder;
}

AudioDecoder::~AudioDecoder() {
  if (opus_ != nullptr) opus_decoder_destroy(opus_);
  avcodec_free_context(&context_);
  av_packet_free(&packet_);
  av_frame_free(&frame_);
  swr_free(&resampler_);
}

void AudioDecoder::Remember(std::span<const int16_t> frame) {
  std::copy(frame.begin(), frame.begin() + kFrameSamples, last_.begin());
  losses_in_a_row_ = 0;
}

DecodeResult AudioDecoder::Decode(std::span<const uint8_t> payload, std::span<int16_t> out) {
  if (out.size() < static_cast<size_t>(kFrameSamples)) return DecodeResult::kError;
  if (payload.empty() || payload.size() > 1500) return DecodeResult::kCorrupt;
  if (codec_ == AudioCodec::kOpus) {
    // Up to 120 ms can come in one packet: decode into a scratch frame, keep the first 20 ms.
    static thread_local std::array<int16_t, 5760> scratch;
    int samples = opus_decode(opus_, payload.data(), static_cast<opus_int32>(payload.size()),
                              scratch.data(), static_cast<int>(scratch.size()), 0);
    if (samples < 0) return DecodeResult::kCorrupt;
    int kept = std::min(samples, kFrameSamples);
    std::copy(scratch.begin(), scratch.begin() + kept, out.begin());
    std::fill(out.begin() + kept, out.begin() + kFrameSamples, 0);
    Remember(out);
    return DecodeResult::kOk;
  }
  DecodeResult result = DecodeWithLibavcodec(payload, out);
  if (result == DecodeResult::kOk) Remember(out);
  return result;
}

DecodeResult AudioDecoder::DecodeWithLibavcodec(std::span<const uint8_t> payload,
                                                std::span<int16_t> out) {
  // The payload is copied into our padded buffer (libavcodec reads a little past the end).
  std::memcpy(payload_.data(), payload.data(), payload.size());
  std::memset(payload_.data() + payload.size(), 0, AV_INPUT_BUFFER_PADDING_SIZE);
  packet_->data = payload_.data();
  packet_->size = static_cast<int>(payload.size());
  if (avcodec_send_packet(context_, packet_) < 0) return DecodeResult::kCorrupt;
  const int expected = CodecSampleRate(codec_) / 50;
  int16_t codec_samples[320] = {};
  int got = 0;
  while (avcodec_receive_frame(context_, frame_) == 0) {
    int n = std::min(frame_->nb_samples, expected - got);
    if (n > 0) {
      std::memcpy(codec_samples + got, frame_->data[0], static_cast<size_t>(n) * 2);
      got += n;
    }
    av_frame_unref(frame_);
  }
  if (got == 0) return DecodeResult::kCorrupt;
  // A short payload is padded with silence to 20 ms.
  if (!internal::ResampleExact(resampler_, codec_samples, expected, out.data(), kFrameSamples)) {
    return DecodeResult::kError;
  }
  return DecodeResult::kOk;
}

void AudioDecoder::Conceal(std::span<int16_t> out) {
  if (codec_ == AudioCodec::kOpus) {
    int samples = opus_decode(opus_, nullptr, 0, out.data(), kFrameSamples, 0);
    if (samples < kFrameSamples) {
      std::fill(out.begin() + std::max(0, samples), out.begin() + kFrameSamples, 0);
    }
    return;
  }
  // Repeat the last frame, 6 dB quieter each time; silent from the fourth loss (60 ms).
  ++losses_in_a_row_;
  const int shift = losses_in_a_row_;
  for (int i = 0; i < kFrameSamples; ++i) {
    out[i] = losses_in_a_row_ > 3 ? 0 : static_cast<int16_t>(last_[i] >> shift);
  }
}

bool AudioDecoder::DecodeFec(std::span<const uint8_t> next_payload, std::span<int16_t> out) {
  if (codec_ != AudioCodec::kOpus || next_payload.empty()) return false;
  // libopus decodes the LBRR (in-band FEC) copy of the lost frame carried by the next packet;
  // when that packet carries none, it conceals instead (libopus 1.3 cannot tell us in advance).
  int samples =
      opus_decode(opus_, next_payload.data(), static_cast<opus_int32>(next_payload.size()),
                  out.data(), kFrameSamples, 1);
  return samples == kFrameSamples;
}

}  // namespace chorus::codec
