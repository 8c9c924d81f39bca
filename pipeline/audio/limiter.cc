#include "pipeline/audio/limiter.h"

#include <algorithm>

#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio {
namespace {

constexpr size_t kBlock = 48;  // 1 ms at 48 kHz
// Per 1 ms block, the gain closes this share of its distance to unity: ~150 ms to recover.
constexpr float kRelease = 0.02f;

}  // namespace

void Limiter::Process(std::span<const float> mix, std::span<int16_t> out) {
  const MixKernels& k = Kernels();
  const size_t n = std::min(mix.size(), out.size());
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t length = std::min(kBlock, n - start);
    const float peak = k.peak(mix.data() + start, length);
    float target = gain_ + (1.0f - gain_) * kRelease;
    if (peak * target > kThreshold) target = kThreshold / peak;
    // The block's own peak must stay under the threshold whatever the ramp: start from the lower
    // of the two gains when attacking.
    const float begin = target < gain_ ? target : gain_;
    k.apply_gain_to_int16(out.data() + start, mix.data() + start, begin, target, length);
    gain_ = target;
  }
}

}  // namespace chorus::audio
