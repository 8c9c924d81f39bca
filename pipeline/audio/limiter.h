#pragma once

#include <cstdint>
#include <span>

namespace chorus::audio {

// The one limiter of a mixer output: turns a wide (float) mix into int16 without wrap-around and
// without hard clipping. The 20 ms frame is taken in 1 ms blocks; when a block's peak would pass
// the threshold (-1 dBFS) the gain drops at once, at the block's start, to what keeps it under
// (instant attack: the block never clips), and otherwise recovers smoothly towards unity
// (release about 150 ms), ramping linearly within each block so recovery has no steps.
// Saturation in the final conversion is a safety net that, by construction, does not engage.
// Thread: one media worker. No allocation.
class Limiter {
 public:
  static constexpr float kThreshold = 29204.0f;  // -1 dBFS of 32768

  // `mix` and `out` hold the same number of samples (a multiple of 48 is best).
  void Process(std::span<const float> mix, std::span<int16_t> out);
  float gain() const { return gain_; }
  void Reset() { gain_ = 1.0f; }

 private:
  float gain_ = 1.0f;
};

}  // namespace chorus::audio
