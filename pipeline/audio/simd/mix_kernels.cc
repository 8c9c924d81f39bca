#include "pipeline/audio/simd/mix_kernels.h"

#include <cstdlib>
#include <string>

namespace chorus::audio {
namespace {

bool CpuHasAvx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool CpuHasAvx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

struct Choice {
  const MixKernels* kernels;
  std::string reason;
};

Choice Choose() {
  const MixKernels* best = &internal::kScalarKernels;
  if (internal::Avx2Kernels() != nullptr && CpuHasAvx2()) best = internal::Avx2Kernels();
  if (internal::Avx512Kernels() != nullptr && CpuHasAvx512()) best = internal::Avx512Kernels();
  const char* wanted = std::getenv("CHORUS_SIMD");
  if (wanted == nullptr || *wanted == '\0') return {best, "best the CPU supports"};
  const MixKernels* asked = KernelsFor(wanted);
  if (asked != nullptr) return {asked, std::string("CHORUS_SIMD=") + wanted};
  return {best, std::string("CHORUS_SIMD=") + wanted +
                    " is not available on this CPU or build; using the best available"};
}

const Choice& Chosen() {
  static const Choice choice = Choose();
  return choice;
}

}  // namespace

const MixKernels* KernelsFor(std::string_view name) {
  if (name == "scalar") return &internal::kScalarKernels;
  if (name == "avx2") return CpuHasAvx2() ? internal::Avx2Kernels() : nullptr;
  if (name == "avx512") return CpuHasAvx512() ? internal::Avx512Kernels() : nullptr;
  return nullptr;
}

const MixKernels& Kernels() { return *Chosen().kernels; }
std::string_view ActiveSimdName() { return Chosen().kernels->name; }
std::string_view ActiveSimdReason() { return Chosen().reason; }

}  // namespace chorus::audio
