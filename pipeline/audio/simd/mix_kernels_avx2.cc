// The mixer's kernels for AVX2 + FMA (8 floats per step). Compiled with -mavx2 -mfma for this file
// only, and used only when the CPU reports both, so nothing here runs on an older CPU.
#include <immintrin.h>

#include <cmath>
#include <cstdlib>

#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio::internal {
namespace {

inline __m256 Load8(const int16_t* in) {
  const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
  return _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(s));
}

inline int16_t Saturate(float v) {
  v = std::fmin(32767.0f, std::fmax(-32768.0f, v));
  return static_cast<int16_t>(std::lrintf(v));
}

// Clamps, rounds to nearest even (like lrintf) and packs 8 floats into 8 int16.
inline __m128i Pack8(__m256 v) {
  v = _mm256_min_ps(_mm256_set1_ps(32767.0f), _mm256_max_ps(_mm256_set1_ps(-32768.0f), v));
  const __m256i ints = _mm256_cvtps_epi32(v);
  return _mm_packs_epi32(_mm256_castsi256_si128(ints), _mm256_extracti128_si256(ints, 1));
}

void Accumulate(float* acc, const int16_t* in, float gain, size_t n) {
  const __m256 g = _mm256_set1_ps(gain);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(Load8(in + i), g, _mm256_loadu_ps(acc + i)));
  }
  for (; i < n; ++i) acc[i] = std::fma(static_cast<float>(in[i]), gain, acc[i]);
}

void Subtract(float* out, const float* sum, const int16_t* in, float gain, size_t n) {
  const __m256 g = _mm256_set1_ps(gain);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_fnmadd_ps(Load8(in + i), g, _mm256_loadu_ps(sum + i)));
  }
  for (; i < n; ++i) out[i] = std::fma(-static_cast<float>(in[i]), gain, sum[i]);
}

void AddScaled(float* out, const float* a, const float* b, float gain, size_t n) {
  const __m256 g = _mm256_set1_ps(gain);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(_mm256_loadu_ps(b + i), g, _mm256_loadu_ps(a + i)));
  }
  for (; i < n; ++i) out[i] = std::fma(b[i], gain, a[i]);
}

float Peak(const float* in, size_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 peak = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    peak = _mm256_max_ps(peak, _mm256_andnot_ps(sign, _mm256_loadu_ps(in + i)));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, peak);
  float result = 0;
  for (float lane : lanes) result = std::fmax(result, lane);
  for (; i < n; ++i) result = std::fmax(result, std::fabs(in[i]));
  return result;
}

int32_t PeakInt16(const int16_t* in, size_t n) {
  // |-32768| is 0x8000 as an unsigned 16-bit lane, so the maximum is taken unsigned.
  __m256i peak = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    peak = _mm256_max_epu16(peak, _mm256_abs_epi16(s));
  }
  alignas(32) uint16_t lanes[16];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), peak);
  int32_t result = 0;
  for (uint16_t lane : lanes) result = lane > result ? lane : result;
  for (; i < n; ++i) {
    const int32_t magnitude = std::abs(static_cast<int32_t>(in[i]));
    if (magnitude > result) result = magnitude;
  }
  return result;
}

uint64_t Energy(const int16_t* in, size_t n) {
  __m256i total = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    // Adjacent squares summed in pairs: at most 2^31, so read the lanes as unsigned.
    const __m256i squares = _mm256_madd_epi16(s, s);
    total = _mm256_add_epi64(total, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(squares)));
    total = _mm256_add_epi64(total, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(squares, 1)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), total);
  uint64_t sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; ++i) {
    const int32_t v = in[i];
    sum += static_cast<uint64_t>(v * v);
  }
  return sum;
}

void ToInt16(int16_t* out, const float* in, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), Pack8(_mm256_loadu_ps(in + i)));
  }
  for (; i < n; ++i) out[i] = Saturate(in[i]);
}

void ApplyGainToInt16(int16_t* out, const float* in, float gain_start, float gain_end, size_t n) {
  const float step = n > 0 ? (gain_end - gain_start) / static_cast<float>(n) : 0.0f;
  const __m256 lane_index = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 step_v = _mm256_set1_ps(step);
  const __m256 start_v = _mm256_set1_ps(gain_start);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 index = _mm256_add_ps(lane_index, _mm256_set1_ps(static_cast<float>(i)));
    const __m256 gain = _mm256_fmadd_ps(index, step_v, start_v);
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(in + i), gain);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), Pack8(v));
  }
  for (; i < n; ++i) {
    out[i] = Saturate(in[i] * std::fma(static_cast<float>(i), step, gain_start));
  }
}

const MixKernels kAvx2Kernels = {
    .name = "avx2",
    .accumulate = Accumulate,
    .subtract = Subtract,
    .add_scaled = AddScaled,
    .peak = Peak,
    .peak_int16 = PeakInt16,
    .energy = Energy,
    .to_int16 = ToInt16,
    .apply_gain_to_int16 = ApplyGainToInt16,
};

}  // namespace

const MixKernels* Avx2Kernels() { return &kAvx2Kernels; }

}  // namespace chorus::audio::internal
