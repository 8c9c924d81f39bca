#include <cmath>

#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio::internal {
namespace {

void Accumulate(float* acc, const int16_t* in, float gain, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += static_cast<float>(in[i]) * gain;
}

void Subtract(float* out, const float* sum, const int16_t* in, float gain, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = sum[i] - static_cast<float>(in[i]) * gain;
}

void AddScaled(float* out, const float* a, const float* b, float gain, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i] * gain;
}

float Peak(const float* in, size_t n) {
  float peak = 0;
  for (size_t i = 0; i < n; ++i) peak = std::fmax(peak, std::fabs(in[i]));
  return peak;
}

void ApplyGainToInt16(int16_t* out, const float* in, float gain_start, float gain_end, size_t n) {
  const float step = n > 0 ? (gain_end - gain_start) / static_cast<float>(n) : 0.0f;
  for (size_t i = 0; i < n; ++i) {
    float v = in[i] * (gain_start + step * static_cast<float>(i));
    v = std::fmin(32767.0f, std::fmax(-32768.0f, v));
    out[i] = static_cast<int16_t>(std::lrintf(v));
  }
}

uint64_t Energy(const int16_t* in, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += static_cast<uint64_t>(static_cast<int32_t>(in[i]) * in[i]);
  return sum;
}

}  // namespace

const MixKernels kScalarKernels = {"scalar", Accumulate,       Subtract, AddScaled,
                                   Peak,     ApplyGainToInt16, Energy};

}  // namespace chorus::audio::internal
