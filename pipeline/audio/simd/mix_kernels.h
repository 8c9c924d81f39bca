#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace chorus::audio {

// The mixer's arithmetic as a table of functions filled once per CPU (DESIGN.md, SIMD): one
// implementation per instruction set, each in its own file compiled with only its own flags
// (mix_kernels_scalar.cc is the reference and always built; mix_kernels_avx2.cc;
// mix_kernels_avx512.cc). Every function accepts any length `n` (tails handled), unaligned
// pointers, and `out` equal to an input of the same type (in-place use). Samples are int16 PCM or
// float on the int16 scale (full scale = 32768). The kernels never fail and never allocate;
// float results may differ from the scalar reference by rounding only (FMA), int16 results by at
// most 1. Thread-safe: the tables are immutable.
struct MixKernels {
  const char* name;  // "scalar", "avx2" or "avx512"
  // acc[i] += in[i] * gain: one source into a bus sum (the wide accumulator).
  void (*accumulate)(float* acc, const int16_t* in, float gain, size_t n);
  // out[i] = sum[i] - in[i] * gain: mix-minus, the total without one source.
  void (*subtract)(float* out, const float* sum, const int16_t* in, float gain, size_t n);
  // out[i] = a[i] + b[i] * gain: buses combined for a listener (e.g. a ducked floor).
  void (*add_scaled)(float* out, const float* a, const float* b, float gain, size_t n);
  // max |in[i]| of a float mix (the limiter's detector); 0 for n == 0.
  float (*peak)(const float* in, size_t n);
  // max |in[i]| of int16 samples, 0..32768 (32768 for -32768); 0 for n == 0.
  int32_t (*peak_int16)(const int16_t* in, size_t n);
  // sum of in[i]^2 of int16 samples (measured level, RMS); exact for n < 2^33.
  uint64_t (*energy)(const int16_t* in, size_t n);
  // out[i] = saturate(round_to_nearest_even(in[i])): float mix to int16, never wrapping.
  void (*to_int16)(int16_t* out, const float* in, size_t n);
  // out[i] = saturate(round(in[i] * g(i))) with g(i) = gain_start + (gain_end - gain_start) * i /
  // n: the limiter's gain, interpolated per sample so gain changes make no clicks.
  void (*apply_gain_to_int16)(int16_t* out, const float* in, float gain_start, float gain_end,
                              size_t n);
};

// The table in use: the best the CPU supports, unless the environment variable
// CHORUS_SIMD=scalar|avx2|avx512 asks for another; a request the CPU (or build) cannot honour falls
// back to the best available, and ActiveSimdReason() says why. Chosen once, on first use (the
// mixer's factory calls it so the choice never happens inside a tick); thread-safe.
const MixKernels& Kernels();
// "scalar", "avx2" or "avx512": exported as the metric chorus_simd_info{instruction_set=...}.
std::string_view ActiveSimdName();
// Why that table: "best the CPU supports", "CHORUS_SIMD=avx2", or the reason for a fallback.
std::string_view ActiveSimdReason();

// A specific table, or nullptr when this CPU (or build) cannot run it. For tests and benchmarks.
const MixKernels* KernelsFor(std::string_view name);
// Every table this CPU can run, scalar first.
std::span<const MixKernels* const> AvailableKernels();

namespace internal {
extern const MixKernels kScalarKernels;
const MixKernels* Avx2Kernels();    // nullptr when not built (non-x86)
const MixKernels* Avx512Kernels();  // nullptr when not built (non-x86)
// The choice itself, for tests of the override: `requested` is CHORUS_SIMD's value (may be empty).
struct SimdChoice {
  const MixKernels* kernels;
  std::string_view reason;
};
SimdChoice ChooseKernels(std::string_view requested);
}  // namespace internal

}  // namespace chorus::audio
