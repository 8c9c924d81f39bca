#include "pipeline/audio/limiter.h"

#include <algorithm>
#include <cmath>

#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio {
namespace {

// The highest gain that keeps a block with this peak at or under the threshold.
float GainFor(float peak, float threshold) { return peak > threshold ? threshold / peak : 1.0f; }

}  // namespace

Limiter::Limiter(const LimiterConfig& config)
    : threshold_(32768.0f * std::pow(10.0f, std::min(config.threshold_dbfs, 0.0f) / 20.0f)),
      release_(1.0f - std::exp(-1.0f / std::max(config.release_ms, 1.0f))) {}

void Limiter::Reset() {
  gain_ = 1.0f;
  pending_peak_ = 0.0f;
  pending_.fill(0.0f);
}

bool Limiter::Process(std::span<const float> mix, std::span<int16_t> out) {
  if (mix.size() != out.size() || mix.size() % kBlockSamples != 0) {
    std::fill(out.begin(), out.end(), int16_t{0});
    return false;
  }
  const MixKernels& k = Kernels();
  for (size_t start = 0; start < mix.size(); start += kBlockSamples) {
    const float* next = mix.data() + start;
    const float next_peak = k.peak(next, kBlockSamples);
    float end_gain = gain_ + (1.0f - gain_) * release_;
    end_gain = std::min(end_gain, GainFor(pending_peak_, threshold_));
    end_gain = std::min(end_gain, GainFor(next_peak, threshold_));
    // gain_ already respects the pending block's peak (it was the look-ahead of the last step).
    k.apply_gain_to_int16(out.data() + start, pending_.data(), gain_, end_gain, kBlockSamples);
    gain_ = end_gain;
    std::copy(next, next + kBlockSamples, pending_.begin());
    pending_peak_ = next_peak;
  }
  return true;
}

}  // namespace chorus::audio
