#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace chorus::audio {

struct LimiterConfig {
  // Ceiling of the output, in dBFS (0 dBFS = 32768). A little below full scale so that the final
  // int16 conversion, which saturates as a safety net, practically never has to.
  float threshold_dbfs = -1.0f;
  // Time constant of the recovery towards unity gain once the peaks are gone.
  float release_ms = 60.0f;
};

// The one limiter of a mixer output (DESIGN.md, Mixing: "limit once at the output"). It turns a
// wide float mix (int16 scale, any magnitude) into int16 with neither wrap-around nor hard-clip
// distortion: a feed-forward peak limiter with a one-block look-ahead.
//
// The signal is taken in blocks of 1 ms (48 samples). The gain at the end of each block is the
// lowest of: the released gain (recovering towards 1 with `release_ms`), what keeps this block
// under the threshold, and what keeps the next block under it. The output runs one block late, so
// when a loud block arrives the gain is already falling during the block before it (fast attack,
// 1 ms). Within a block the gain moves linearly, sample by sample, from its value at the block's
// start to its value at its end: both are low enough for that block's peak, so every sample of
// the ramp is too, and the gain never jumps (no clicks).
//
// Latency: kLatencySamples (1 ms). Signals that stay under the threshold pass unchanged, apart
// from rounding to int16 and that delay. Thread: the owner's (one media worker); no allocation,
// no failure. Owned by value by the mixer's outputs.
class Limiter {
 public:
  static constexpr size_t kBlockSamples = 48;  // 1 ms at 48 kHz
  static constexpr size_t kLatencySamples = kBlockSamples;

  Limiter() : Limiter(LimiterConfig{}) {}
  explicit Limiter(const LimiterConfig& config);

  // Limits `mix` into `out`. Both hold the same number of samples, a multiple of kBlockSamples
  // (a 20 ms frame is 20 blocks); otherwise nothing is consumed, `out` is zeroed and false is
  // returned.
  bool Process(std::span<const float> mix, std::span<int16_t> out);

  // Back to unity gain and an empty look-ahead (a new output starts from silence).
  void Reset();

  // The gain now (1 when not limiting), linear.
  float gain() const { return gain_; }
  // The threshold on the int16 scale (-1 dBFS: about 29204).
  float threshold() const { return threshold_; }

 private:
  float threshold_;
  float release_;  // share of the distance to unity recovered per block
  float gain_ = 1.0f;
  float pending_peak_ = 0.0f;
  std::array<float, kBlockSamples> pending_{};  // the block delayed for the look-ahead
};

}  // namespace chorus::audio
