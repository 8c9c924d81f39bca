// Builds for CPUs other than x86-64: only the scalar reference exists there.
#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio::internal {

const MixKernels* Avx2Kernels() { return nullptr; }
const MixKernels* Avx512Kernels() { return nullptr; }

}  // namespace chorus::audio::internal
