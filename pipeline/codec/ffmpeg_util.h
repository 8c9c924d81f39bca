#pragma once

#include <string>

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libswresample/swresample.h>
}

namespace chorus::codec::internal {

inline std::string AvError(int error) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(error, text, sizeof(text));
  return text;
}

// A mono s16 resampler from `in_rate` to `out_rate`, or nullptr.
inline SwrContext* MakeMonoResampler(int in_rate, int out_rate) {
  SwrContext* swr = nullptr;
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  if (swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_S16, out_rate, &mono, AV_SAMPLE_FMT_S16,
                          in_rate, 0, nullptr) < 0) {
    return nullptr;
  }
  if (swr_init(swr) < 0) {
    swr_free(&swr);
    return nullptr;
  }
  return swr;
}

// Resamples `in` into exactly `out_count` samples. The resampler's start-up delay shows as a
// short first output: it is padded at the front once, so every later call is exact.
inline bool ResampleExact(SwrContext* swr, const int16_t* in, int in_count, int16_t* out,
                          int out_count) {
  const uint8_t* in_planes[1] = {reinterpret_cast<const uint8_t*>(in)};
  uint8_t* out_planes[1] = {reinterpret_cast<uint8_t*>(out)};
  int got = swr_convert(swr, out_planes, out_count, in_planes, in_count);
  if (got < 0) return false;
  if (got < out_count) {
    // Move what came to the end and pad the front with silence.
    for (int i = got - 1; i >= 0; --i) out[out_count - got + i] = out[i];
    for (int i = 0; i < out_count - got; ++i) out[i] = 0;
  }
  return true;
}

}  // namespace chorus::codec::internal
