#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chorus::audio {

// The mixer's arithmetic, as a table of functions filled once per CPU (DESIGN.md, SIMD): one
// implementation per instruction set in its own file (mix_kernels_scalar.cc is the reference,
// mix_kernels_avx2.cc, mix_kernels_avx512.cc), each compiled with only its own flags. Every
// function accepts any length (tails handled) and unaligned pointers.
struct MixKernels {
  const char* name;
  // acc[i] += in[i] * gain
  void (*accumulate)(float* acc, const int16_t* in, float gain, size_t n);
  // out[i] = sum[i] - in[i] * gain   (mix-minus: the total without one source)
  void (*subtract)(float* out, const float* sum, const int16_t* in, float gain, size_t n);
  // out[i] = a[i] + b[i] * gain       (a language bus with the floor ducked underneath)
  void (*add_scaled)(float* out, const float* a, const float* b, float gain, size_t n);
  // max |in[i]|
  float (*peak)(const float* in, size_t n);
  // out[i] = saturate(round(in[i] * (gain_start + (gain_end - gain_start) * i / n)))
  void (*apply_gain_to_int16)(int16_t* out, const float* in, float gain_start, float gain_end,
                              size_t n);
  // sum of in[i]^2 (for measured levels)
  uint64_t (*energy)(const int16_t* in, size_t n);
};

// The table in use: the best the CPU supports, unless CHORUS_SIMD=scalar|avx2|avx512 asks for
// another (falling back to the best available, with the reason in ActiveSimdReason()).
const MixKernels& Kernels();
std::string_view ActiveSimdName();
std::string_view ActiveSimdReason();

// A specific table, or nullptr when this CPU (or build) cannot run it. For tests and benchmarks.
const MixKernels* KernelsFor(std::string_view name);

namespace internal {
extern const MixKernels kScalarKernels;
const MixKernels* Avx2Kernels();    // nullptr when not built
const MixKernels* Avx512Kernels();  // nullptr when not built
}  // namespace internal

}  // namespace chorus::audio
