#include "pipeline/audio/simd/mix_kernels.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::audio {
namespace {

// Odd lengths on purpose: every vector width leaves a tail.
constexpr size_t kLengths[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 47, 63, 65, 960, 961, 1001};
constexpr float kGains[] = {0.0f, 0.25f, 1.0f, 1.7f, 4.0f};

// Random int16 samples with the saturation edges mixed in (fixed seed).
std::vector<int16_t> Samples(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-32768, 32767);
  std::uniform_int_distribution<int> pick(0, 9);
  std::vector<int16_t> out(n);
  for (int16_t& s : out) {
    const int p = pick(rng);
    s = static_cast<int16_t>(p == 0 ? -32768 : p == 1 ? 32767 : value(rng));
  }
  return out;
}

// Random floats well beyond int16 (sums of several full-scale voices), with exact halves.
std::vector<float> Floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-150000.0f, 150000.0f);
  std::uniform_int_distribution<int> pick(0, 9);
  std::vector<float> out(n);
  for (float& f : out) {
    const int p = pick(rng);
    f = p == 0 ? 32767.5f : p == 1 ? -32768.5f : p == 2 ? 0.5f : value(rng);
  }
  return out;
}

void ExpectNear(const std::vector<float>& expected, const std::vector<float>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    // FMA rounds once where the reference rounds twice.
    ASSERT_NEAR(expected[i], actual[i], 1e-5f * std::fabs(expected[i]) + 1e-3f) << "at " << i;
  }
}

void ExpectWithinOne(const std::vector<int16_t>& expected, const std::vector<int16_t>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_LE(std::abs(expected[i] - actual[i]), 1) << "at " << i;
  }
}

class MixKernelsTest : public ::testing::TestWithParam<std::string> {
 protected:
  const MixKernels& scalar() const { return internal::kScalarKernels; }
  const MixKernels* optimised() const { return KernelsFor(GetParam()); }
  void SetUp() override {
    if (optimised() == nullptr) GTEST_SKIP() << GetParam() << " is not available on this CPU";
  }
};

TEST_P(MixKernelsTest, AccumulateMatchesScalar) {
  for (size_t n : kLengths) {
    for (float gain : kGains) {
      const auto in = Samples(n, 1);
      auto expected = Floats(n, 2);
      auto actual = expected;
      scalar().accumulate(expected.data(), in.data(), gain, n);
      optimised()->accumulate(actual.data(), in.data(), gain, n);
      ExpectNear(expected, actual);
    }
  }
}

TEST_P(MixKernelsTest, SubtractMatchesScalar) {
  for (size_t n : kLengths) {
    for (float gain : kGains) {
      const auto in = Samples(n, 3);
      const auto sum = Floats(n, 4);
      std::vector<float> expected(n), actual(n);
      scalar().subtract(expected.data(), sum.data(), in.data(), gain, n);
      optimised()->subtract(actual.data(), sum.data(), in.data(), gain, n);
      ExpectNear(expected, actual);
    }
  }
}

TEST_P(MixKernelsTest, AddScaledMatchesScalarAlsoInPlace) {
  for (size_t n : kLengths) {
    for (float gain : kGains) {
      const auto a = Floats(n, 5);
      const auto b = Floats(n, 6);
      std::vector<float> expected(n), actual(n);
      scalar().add_scaled(expected.data(), a.data(), b.data(), gain, n);
      optimised()->add_scaled(actual.data(), a.data(), b.data(), gain, n);
      ExpectNear(expected, actual);
      auto in_place = a;
      optimised()->add_scaled(in_place.data(), in_place.data(), b.data(), gain, n);
      ExpectNear(expected, in_place);
    }
  }
}

TEST_P(MixKernelsTest, PeaksMatchScalar) {
  for (size_t n : kLengths) {
    const auto floats = Floats(n, 7);
    EXPECT_EQ(scalar().peak(floats.data(), n), optimised()->peak(floats.data(), n)) << n;
    const auto ints = Samples(n, 8);
    EXPECT_EQ(scalar().peak_int16(ints.data(), n), optimised()->peak_int16(ints.data(), n)) << n;
  }
  // -32768 alone in the tail and alone in a full vector.
  for (size_t n : {1, 17, 33, 64}) {
    std::vector<int16_t> ints(n, 5);
    ints[n - 1] = -32768;
    EXPECT_EQ(32768, optimised()->peak_int16(ints.data(), n)) << n;
    ints[n - 1] = 5;
    ints[0] = -32768;
    EXPECT_EQ(32768, optimised()->peak_int16(ints.data(), n)) << n;
  }
}

TEST_P(MixKernelsTest, EnergyMatchesScalarExactlyAtFullScale) {
  for (size_t n : kLengths) {
    const auto ints = Samples(n, 9);
    EXPECT_EQ(scalar().energy(ints.data(), n), optimised()->energy(ints.data(), n)) << n;
  }
  const std::vector<int16_t> full(961, -32768);  // pairs of 2^30 summed: the int32 edge
  EXPECT_EQ(961ull << 30, optimised()->energy(full.data(), full.size()));
}

TEST_P(MixKernelsTest, ToInt16SaturatesLikeScalar) {
  for (size_t n : kLengths) {
    const auto in = Floats(n, 10);
    std::vector<int16_t> expected(n), actual(n);
    scalar().to_int16(expected.data(), in.data(), n);
    optimised()->to_int16(actual.data(), in.data(), n);
    EXPECT_EQ(expected, actual) << n;
  }
  const std::vector<float> edges = {1e9f, -1e9f, 32767.4f, 32768.0f, -32768.0f, -32769.0f,
                                    0.5f, 1.5f,  -0.5f,    70000.0f, -70000.0f};
  std::vector<int16_t> out(edges.size());
  optimised()->to_int16(out.data(), edges.data(), edges.size());
  const std::vector<int16_t> want = {32767, -32768, 32767, 32767, -32768, -32768,
                                     0,     2,      0,     32767, -32768};
  EXPECT_EQ(want, out);
}

TEST_P(MixKernelsTest, ApplyGainMatchesScalar) {
  const std::pair<float, float> ramps[] = {{1.0f, 1.0f}, {1.0f, 0.3f}, {0.2f, 0.9f}, {2.0f, 3.0f}};
  for (size_t n : kLengths) {
    for (auto [from, to] : ramps) {
      const auto in = Floats(n, 11);
      std::vector<int16_t> expected(n), actual(n);
      scalar().apply_gain_to_int16(expected.data(), in.data(), from, to, n);
      optimised()->apply_gain_to_int16(actual.data(), in.data(), from, to, n);
      ExpectWithinOne(expected, actual);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryInstructionSet, MixKernelsTest,
                         ::testing::Values("scalar", "avx2", "avx512"),
                         [](const auto& info) { return info.param; });

TEST(SimdChoiceTest, OverrideAndFallback) {
  EXPECT_EQ(&internal::kScalarKernels, internal::ChooseKernels("scalar").kernels);
  EXPECT_EQ("requested by CHORUS_SIMD", internal::ChooseKernels("scalar").reason);
  const MixKernels* best = internal::ChooseKernels("").kernels;
  EXPECT_EQ(AvailableKernels().back(), best);
  // An unknown name falls back to the best table, saying why.
  const auto unknown = internal::ChooseKernels("neon");
  EXPECT_EQ(best, unknown.kernels);
  EXPECT_NE(std::string::npos, std::string(unknown.reason).find("unknown"));
  if (KernelsFor("avx512") == nullptr) {
    const auto lacking = internal::ChooseKernels("avx512");
    EXPECT_EQ(best, lacking.kernels);
    EXPECT_NE(std::string::npos, std::string(lacking.reason).find("lacks"));
  }
  EXPECT_EQ(std::string_view(Kernels().name), ActiveSimdName());
}

}  // namespace
}  // namespace chorus::audio
