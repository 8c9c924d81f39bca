#include "pipeline/audio/limiter.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::audio {
namespace {

constexpr double kPi = 3.14159265358979323846;

TEST(LimiterTest, FiveFullScaleSinesStayWithinFullScaleWithoutJumps) {
  Limiter limiter;
  const double tones[] = {300, 500, 700, 900, 1100};
  int16_t previous = 0;
  int max_jump = 0;
  // A full-scale sine changes by at most 2 pi f / fs of full scale per sample.
  double allowed = 0;
  for (double f : tones) allowed += 32768.0 * 2 * kPi * f / 48000.0;
  for (int frame = 0; frame < 100; ++frame) {
    std::vector<float> mix(960);
    for (int i = 0; i < 960; ++i) {
      double t = (frame * 960 + i) / 48000.0;
      for (double f : tones) mix[i] += static_cast<float>(32767.0 * std::sin(2 * kPi * f * t));
    }
    std::vector<int16_t> out(960);
    limiter.Process(mix, out);
    for (int i = 0; i < 960; ++i) {
      if (frame > 0 || i > 0) max_jump = std::max(max_jump, std::abs(out[i] - previous));
      previous = out[i];
      EXPECT_LE(std::abs(static_cast<int>(out[i])), 29204 + 1);
    }
  }
  EXPECT_LT(max_jump, allowed);
  EXPECT_LT(limiter.gain(), 0.5f);
}

TEST(LimiterTest, QuietSignalsPassUnchanged) {
  Limiter limiter;
  std::vector<float> mix(960);
  for (int i = 0; i < 960; ++i) mix[i] = static_cast<float>(8000.0 * std::sin(i * 0.05));
  std::vector<int16_t> out(960);
  limiter.Process(mix, out);
  for (int i = 0; i < 960; ++i) EXPECT_NEAR(out[i], mix[i], 1.0);
  EXPECT_FLOAT_EQ(limiter.gain(), 1.0f);
}

TEST(LimiterTest, RecoversAfterALoudBurst) {
  Limiter limiter;
  std::vector<float> loud(960, 100000.0f);
  std::vector<float> quiet(960, 1000.0f);
  std::vector<int16_t> out(960);
  limiter.Process(loud, out);
  for (int16_t s : out) EXPECT_LE(s, 29205);
  for (int frame = 0; frame < 50; ++frame) limiter.Process(quiet, out);  // one second
  EXPECT_GT(limiter.gain(), 0.99f);
}

}  // namespace
}  // namespace chorus::audio
