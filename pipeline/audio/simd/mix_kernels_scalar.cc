// The reference implementation of the mixer's kernels: plain C++, always built, and the table
// every optimised one is tested against.
#include <cmath>
#include <cstdlib>

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

int32_t PeakInt16(const int16_t* in, size_t n) {
  int32_t peak = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t magnitude = std::abs(static_cast<int32_t>(in[i]));
    if (magnitude > peak) peak = magnitude;
  }
  return peak;
}

uint64_t Energy(const int16_t* in, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t v = in[i];
    sum += static_cast<uint64_t>(v * v);
  }
  return sum;
}

// Clamped before the conversion, so out-of-range values saturate instead of wrapping.
inline int16_t Saturate(float v) {
  v = std::fmin(32767.0f, std::fmax(-32768.0f, v));
  return static_cast<int16_t>(std::lrintf(v));
}

void ToInt16(int16_t* out, const float* in, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = Saturate(in[i]);
}

void ApplyGainToInt16(int16_t* out, const float* in, float gain_start, float gain_end, size_t n) {
  const float step = n > 0 ? (gain_end - gain_start) / static_cast<float>(n) : 0.0f;
  for (size_t i = 0; i < n; ++i) {
    out[i] = Saturate(in[i] * (gain_start + step * static_cast<float>(i)));
  }
}

}  // namespace

const MixKernels kScalarKernels = {
    .name = "scalar",
    .accumulate = Accumulate,
    .subtract = Subtract,
    .add_scaled = AddScaled,
    .peak = Peak,
    .peak_int16 = PeakInt16,
    .energy = Energy,
    .to_int16 = ToInt16,
    .apply_gain_to_int16 = ApplyGainToInt16,
};

}  // namespace chorus::audio::internal
