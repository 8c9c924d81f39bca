#include "pipeline/audio/simd/mix_kernels.h"

#include <array>
#include <cstdlib>

namespace chorus::audio {
namespace {

bool CpuHasAvx2() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool CpuHasAvx512() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

const MixKernels* Best() {
  if (const MixKernels* k = KernelsFor("avx512")) return k;
  if (const MixKernels* k = KernelsFor("avx2")) return k;
  return &internal::kScalarKernels;
}

const internal::SimdChoice& Chosen() {
  static const internal::SimdChoice choice = [] {
    const char* requested = std::getenv("CHORUS_SIMD");
    return internal::ChooseKernels(requested == nullptr ? "" : requested);
  }();
  return choice;
}

}  // namespace

namespace internal {

SimdChoice ChooseKernels(std::string_view requested) {
  if (requested.empty()) return {Best(), "best the CPU supports"};
  if (requested != "scalar" && requested != "avx2" && requested != "avx512") {
    return {Best(), "CHORUS_SIMD names an unknown instruction set; using the best available"};
  }
  if (const MixKernels* k = KernelsFor(requested)) return {k, "requested by CHORUS_SIMD"};
  return {Best(),
          "CHORUS_SIMD asks for an instruction set this CPU lacks; using the best available"};
}

}  // namespace internal

const MixKernels* KernelsFor(std::string_view name) {
  if (name == "scalar") return &internal::kScalarKernels;
  if (name == "avx2") return CpuHasAvx2() ? internal::Avx2Kernels() : nullptr;
  if (name == "avx512") return CpuHasAvx512() ? internal::Avx512Kernels() : nullptr;
  return nullptr;
}

std::span<const MixKernels* const> AvailableKernels() {
  static const auto table = [] {
    struct Table {
      std::array<const MixKernels*, 3> kernels{};
      size_t size = 0;
    } t;
    for (std::string_view name : {"scalar", "avx2", "avx512"}) {
      if (const MixKernels* k = KernelsFor(name)) t.kernels[t.size++] = k;
    }
    return t;
  }();
  return std::span<const MixKernels* const>(table.kernels.data(), table.size);
}

const MixKernels& Kernels() { return *Chosen().kernels; }
std::string_view ActiveSimdName() { return Chosen().kernels->name; }
std::string_view ActiveSimdReason() { return Chosen().reason; }

}  // namespace chorus::audio
