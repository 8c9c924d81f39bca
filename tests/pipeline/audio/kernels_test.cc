#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio {
namespace {

// Every instruction set this CPU can run, compared with the scalar reference on random input with
// odd lengths and saturation edges.
class KernelsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kernels_ = KernelsFor(GetParam());
    if (kernels_ == nullptr) GTEST_SKIP() << GetParam() << " is not available on this CPU";
  }
  std::vector<int16_t> RandomSamples(size_t n) {
    std::uniform_int_distribution<int> value(-32768, 32767);
    std::vector<int16_t> samples(n);
    for (auto& s : samples) s = static_cast<int16_t>(value(random_));
    if (n > 2) {
      samples[0] = -32768;
      samples[1] = 32767;
    }
    return samples;
  }
  std::vector<float> RandomFloats(size_t n, float scale) {
    std::uniform_real_distribution<float> value(-scale, scale);
    std::vector<float> samples(n);
    for (auto& s : samples) s = value(random_);
    return samples;
  }

  const MixKernels* kernels_ = nullptr;
  const MixKernels& reference_ = *KernelsFor("scalar");
  std::mt19937 random_{1234};
};

const size_t kLengths[] = {0, 1, 7, 15, 17, 31, 33, 960, 961, 1023};

TEST_P(KernelsTest, AccumulateMatchesTheReference) {
  for (size_t n : kLengths) {
    auto in = RandomSamples(n);
    auto acc = RandomFloats(n, 1e5f);
    auto expected = acc;
    kernels_->accumulate(acc.data(), in.data(), 1.7f, n);
    reference_.accumulate(expected.data(), in.data(), 1.7f, n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(acc[i], expected[i], 0.05f) << n << " " << i;
  }
}

TEST_P(KernelsTest, SubtractAndAddScaledMatchTheReference) {
  for (size_t n : kLengths) {
    auto in = RandomSamples(n);
    auto sum = RandomFloats(n, 1e5f);
    auto other = RandomFloats(n, 1e5f);
    std::vector<float> out(n), expected(n);
    kernels_->subtract(out.data(), sum.data(), in.data(), 0.5f, n);
    reference_.subtract(expected.data(), sum.data(), in.data(), 0.5f, n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], expected[i], 0.05f);
    kernels_->add_scaled(out.data(), sum.data(), other.data(), 0.25f, n);
    reference_.add_scaled(expected.data(), sum.data(), other.data(), 0.25f, n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], expected[i], 0.05f);
  }
}

TEST_P(KernelsTest, PeakEnergyAndConversionMatchTheReference) {
  for (size_t n : kLengths) {
    auto floats = RandomFloats(n, 60000.0f);  // beyond int16: the conversion must saturate
    EXPECT_FLOAT_EQ(kernels_->peak(floats.data(), n), reference_.peak(floats.data(), n));
    auto samples = RandomSamples(n);
    EXPECT_EQ(kernels_->energy(samples.data(), n), reference_.energy(samples.data(), n));
    std::vector<int16_t> out(n), expected(n);
    kernels_->apply_gain_to_int16(out.data(), floats.data(), 1.0f, 0.5f, n);
    reference_.apply_gain_to_int16(expected.data(), floats.data(), 1.0f, 0.5f, n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], expected[i], 1) << n << " " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(AllInstructionSets, KernelsTest,
                         ::testing::Values("scalar", "avx2", "avx512"),
                         [](const auto& info) { return info.param; });

TEST(KernelsChoiceTest, TheActiveTableIsNamed) {
  EXPECT_FALSE(ActiveSimdName().empty());
  EXPECT_EQ(&Kernels(), KernelsFor(ActiveSimdName()));
}

}  // namespace
}  // namespace chorus::audio
