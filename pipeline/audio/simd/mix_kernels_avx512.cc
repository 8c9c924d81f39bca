// The mixer's kernels for AVX-512 (16 floats per step, masked tails). Compiled with -mavx512f
// -mavx512bw -mavx512dq -mavx512vl for this file only, and used only when the CPU reports all four.
#include <immintrin.h>

#include <cmath>

#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio::internal {
namespace {

inline __m512 Load16(const int16_t* in) {
  __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
  return _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(s));
}

// The first `left` lanes (left <= 16).
inline __mmask16 TailMask(size_t left) { return static_cast<__mmask16>((1u << left) - 1u); }

inline __m512 LoadTail16(const int16_t* in, size_t left) {
  __m256i s = _mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << left) - 1u), in);
  return _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(s));
}

void Accumulate(float* acc, const int16_t* in, float gain, size_t n) {
  const __m512 g = _mm512_set1_ps(gain);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(acc + i, _mm512_fmadd_ps(Load16(in + i), g, _mm512_loadu_ps(acc + i)));
  }
  if (i < n) {
    __mmask16 m = TailMask(n - i);
    __m512 a = _mm512_maskz_loadu_ps(m, acc + i);
    _mm512_mask_storeu_ps(acc + i, m, _mm512_fmadd_ps(LoadTail16(in + i, n - i), g, a));
  }
}

void Subtract(float* out, const float* sum, const int16_t* in, float gain, size_t n) {
  const __m512 g = _mm512_set1_ps(gain);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, _mm512_fnmadd_ps(Load16(in + i), g, _mm512_loadu_ps(sum + i)));
  }
  if (i < n) {
    __mmask16 m = TailMask(n - i);
    __m512 s = _mm512_maskz_loadu_ps(m, sum + i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_fnmadd_ps(LoadTail16(in + i, n - i), g, s));
  }
}

void AddScaled(float* out, const float* a, const float* b, float gain, size_t n) {
  const __m512 g = _mm512_set1_ps(gain);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, _mm512_fmadd_ps(_mm512_loadu_ps(b + i), g, _mm512_loadu_ps(a + i)));
  }
  if (i < n) {
    __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(
        out + i, m,
        _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, b + i), g, _mm512_maskz_loadu_ps(m, a + i)));
  }
}

float Peak(const float* in, size_t n) {
  __m512 peak = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) peak = _mm512_max_ps(peak, _mm512_abs_ps(_mm512_loadu_ps(in + i)));
  if (i < n) {
    peak = _mm512_max_ps(peak, _mm512_abs_ps(_mm512_maskz_loadu_ps(TailMask(n - i), in + i)));
  }
  return _mm512_reduce_max_ps(peak);
}

void ApplyGainToInt16(int16_t* out, const float* in, float gain_start, float gain_end, size_t n) {
  const float step = n > 0 ? (gain_end - gain_start) / static_cast<float>(n) : 0.0f;
  const __m512 steps = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 step_v = _mm512_set1_ps(step);
  const __m512 high = _mm512_set1_ps(32767.0f);
  const __m512 low = _mm512_set1_ps(-32768.0f);
  for (size_t i = 0; i < n; i += 16) {
    const size_t left = n - i < 16 ? n - i : 16;
    const __mmask16 m = TailMask(left);
    __m512 gain = _mm512_fmadd_ps(_mm512_add_ps(steps, _mm512_set1_ps(static_cast<float>(i))),
                                  step_v, _mm512_set1_ps(gain_start));
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, in + i), gain);
    v = _mm512_min_ps(high, _mm512_max_ps(low, v));
    __m256i packed = _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(v));
    _mm256_mask_storeu_epi16(out + i, m, packed);
  }
}

int32_t PeakInt16(const int16_t* in, size_t n) {
  // |-32768| is 0x8000 as an unsigned 16-bit lane, so the maximum is taken unsigned.
  __m512i peak = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    peak = _mm512_max_epu16(peak, _mm512_abs_epi16(_mm512_loadu_si512(in + i)));
  }
  if (i < n) {
    const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (n - i)) - 1u);
    peak = _mm512_max_epu16(peak, _mm512_abs_epi16(_mm512_maskz_loadu_epi16(m, in + i)));
  }
  const __m512i low = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(peak));
  const __m512i high = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(peak, 1));
  return static_cast<int32_t>(_mm512_reduce_max_epu32(_mm512_max_epu32(low, high)));
}

void ToInt16(int16_t* out, const float* in, size_t n) {
  const __m512 high = _mm512_set1_ps(32767.0f);
  const __m512 low = _mm512_set1_ps(-32768.0f);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i < 16 ? n - i : 16);
    __m512 v = _mm512_maskz_loadu_ps(m, in + i);
    v = _mm512_min_ps(high, _mm512_max_ps(low, v));
    _mm256_mask_storeu_epi16(out + i, m, _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(v)));
  }
}

uint64_t Energy(const int16_t* in, size_t n) {
  __m512i total = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512i s = _mm512_loadu_si512(in + i);
    __m512i squares = _mm512_madd_epi16(s, s);
    total = _mm512_add_epi64(total, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(squares)));
    total = _mm512_add_epi64(total, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(squares, 1)));
  }
  uint64_t sum = static_cast<uint64_t>(_mm512_reduce_add_epi64(total));
  for (; i < n; ++i) sum += static_cast<uint64_t>(static_cast<int32_t>(in[i]) * in[i]);
  return sum;
}

const MixKernels kAvx512Kernels = {
    .name = "avx512",
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

const MixKernels* Avx512Kernels() { return &kAvx512Kernels; }

}  // namespace chorus::audio::internal
