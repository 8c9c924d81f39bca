#include "pipeline/audio/limiter.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::audio {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr size_t kFrame = 960;

// Runs `frames` 20 ms frames of `signal(sample_index)` through the limiter.
template <typename Signal>
std::vector<int16_t> RunFrames(Limiter& limiter, int frames, Signal signal) {
  std::vector<int16_t> out;
  std::vector<float> mix(kFrame);
  std::vector<int16_t> pcm(kFrame);
  for (int f = 0; f < frames; ++f) {
    for (size_t i = 0; i < kFrame; ++i) mix[i] = static_cast<float>(signal(f * kFrame + i));
    EXPECT_TRUE(limiter.Process(mix, pcm));
    out.insert(out.end(), pcm.begin(), pcm.end());
  }
  return out;
}

TEST(LimiterTest, FiveFullScaleTonesStayInRangeWithoutWrapOrJumps) {
  const double tones_hz[] = {440, 660, 880, 1100, 1320};
  Limiter limiter;
  const auto out = RunFrames(limiter, 50, [&](size_t n) {
    double sum = 0;
    for (double hz : tones_hz) sum += 32767.0 * std::sin(2 * kPi * hz * n / 48000.0);
    return sum;
  });
  // The steepest the (unlimited) sum can move between two samples; a limited output moves less,
  // plus a little for the gain's own motion. A wrap-around would jump by about 65536.
  double slope = 0;
  for (double hz : tones_hz) slope += 32767.0 * 2 * kPi * hz / 48000.0;
  int max_jump = 0;
  int peak = 0;
  for (size_t i = 1; i < out.size(); ++i) {
    max_jump = std::max(max_jump, std::abs(out[i] - out[i - 1]));
    peak = std::max(peak, std::abs(static_cast<int>(out[i])));
  }
  EXPECT_LE(max_jump, slope * 1.05);
  // Under the -1 dBFS ceiling: the int16 saturation never had to engage.
  EXPECT_LE(peak, static_cast<int>(std::ceil(limiter.threshold())));
  EXPECT_GT(peak, 25000);  // still loud: limited, not muted
  EXPECT_LT(limiter.gain(), 0.5f);
}

TEST(LimiterTest, QuietSignalPassesUnchangedOneMillisecondLate) {
  Limiter limiter;
  auto tone = [](size_t n) { return 8000.0 * std::sin(2 * kPi * 1000 * n / 48000.0); };
  const auto out = RunFrames(limiter, 10, tone);
  for (size_t i = 0; i < Limiter::kLatencySamples; ++i) EXPECT_EQ(0, out[i]);
  for (size_t i = Limiter::kLatencySamples; i < out.size(); ++i) {
    ASSERT_EQ(static_cast<int16_t>(std::lrint(tone(i - Limiter::kLatencySamples))), out[i])
        << "at " << i;
  }
  EXPECT_EQ(1.0f, limiter.gain());
}

TEST(LimiterTest, RecoversToUnityAfterALoudBurst) {
  Limiter limiter;
  RunFrames(limiter, 5, [](size_t n) { return 90000.0 * std::sin(2 * kPi * 300 * n / 48000.0); });
  EXPECT_LT(limiter.gain(), 0.4f);
  RunFrames(limiter, 50, [](size_t n) { return 1000.0 * std::sin(2 * kPi * 300 * n / 48000.0); });
  EXPECT_NEAR(1.0f, limiter.gain(), 0.01f);
}

TEST(LimiterTest, SuddenFullScaleStepIsCaughtBeforeItArrives) {
  Limiter limiter;
  // Silence, then a square wave far beyond full scale starting mid-frame.
  const auto out = RunFrames(limiter, 4, [](size_t n) {
    if (n < 1000) return 0.0;
    return (n / 24) % 2 == 0 ? 200000.0 : -200000.0;
  });
  for (int16_t s : out) ASSERT_LE(std::abs(static_cast<int>(s)), 29205);
}

TEST(LimiterTest, RejectsSizesThatAreNotWholeBlocks) {
  Limiter limiter;
  std::vector<float> mix(50, 1000.0f);
  std::vector<int16_t> out(50, 7);
  EXPECT_FALSE(limiter.Process(mix, out));
  for (int16_t s : out) EXPECT_EQ(0, s);
  std::vector<int16_t> shorter(48);
  EXPECT_FALSE(limiter.Process(mix, shorter));
}

}  // namespace
}  // namespace chorus::audio
