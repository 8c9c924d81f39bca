#include "pipeline/rtp/audio_level.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::rtp {
namespace {

TEST(AudioLevelTest, ReadsVoiceActivityAndLevel) {
  const std::array<uint8_t, 1> speaking = {0x80 | 30};
  EXPECT_EQ(ParseAudioLevel(speaking), (AudioLevel{.voice_activity = true, .level = 30}));
  const std::array<uint8_t, 3> quiet_two_byte_form = {0x7f, 0, 0};  // padding is ignored
  EXPECT_EQ(ParseAudioLevel(quiet_two_byte_form),
            (AudioLevel{.voice_activity = false, .level = 127}));
  EXPECT_FALSE(ParseAudioLevel(std::span<const uint8_t>()).has_value());

  bool voice = false;
  uint8_t level = 0;
  EXPECT_TRUE(ParseAudioLevel(speaking, &voice, &level));
  EXPECT_TRUE(voice);
  EXPECT_EQ(level, 30);
  EXPECT_FALSE(ParseAudioLevel(std::span<const uint8_t>(), &voice, &level));
}

TEST(AudioLevelTest, WritesAndClampsTheLevel) {
  std::array<uint8_t, 1> out{};
  EXPECT_EQ(WriteAudioLevel({.voice_activity = true, .level = 42}, out), 1u);
  EXPECT_EQ(out[0], 0x80 | 42);
  EXPECT_EQ(WriteAudioLevel({.voice_activity = false, .level = 200}, out), 1u);
  EXPECT_EQ(out[0], 127);
  EXPECT_EQ(WriteAudioLevel({}, std::span<uint8_t>()), 0u);
}

TEST(CsrcAudioLevelTest, OneLevelPerCsrcWithTheReservedBitMasked) {
  const std::array<uint8_t, 3> element = {0x85, 0x10, 0x7f};
  std::array<uint8_t, 15> levels{};
  ASSERT_EQ(ParseCsrcAudioLevels(element, levels), 3u);
  EXPECT_EQ(levels[0], 5);
  EXPECT_EQ(levels[1], 16);
  EXPECT_EQ(levels[2], 127);
  std::array<uint8_t, 2> small{};
  EXPECT_EQ(ParseCsrcAudioLevels(element, small), 2u);

  std::array<uint8_t, 15> out{};
  const std::array<uint8_t, 3> mine = {3, 200, 60};
  ASSERT_EQ(WriteCsrcAudioLevels(mine, out), 3u);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 127);
  EXPECT_EQ(out[2], 60);
  const std::array<uint8_t, 16> too_many{};
  EXPECT_EQ(WriteCsrcAudioLevels(too_many, out), 0u);
  EXPECT_EQ(WriteCsrcAudioLevels(mine, std::span(out).first(2)), 0u);
}

std::vector<int16_t> Square(int16_t amplitude, size_t n) {
  std::vector<int16_t> s(n);
  for (size_t i = 0; i < n; ++i)
    s[i] = (i / 24) % 2 == 0 ? amplitude : static_cast<int16_t>(-amplitude);
  return s;
}

TEST(LevelFromSamplesTest, MeasuresMinusDbov) {
  EXPECT_EQ(LevelFromSamples(Square(32767, 960)), 0);  // full-scale square wave: 0 dBov
  EXPECT_EQ(LevelFromSamples(Square(16384, 960)), 6);  // half amplitude: -6.02 dBov
  EXPECT_EQ(LevelFromSamples(Square(3277, 960)), 20);  // a tenth: -20 dBov
  EXPECT_EQ(LevelFromSamples(Square(1, 960)), 90);     // one LSB: -90.3 dBov
  std::vector<int16_t> sine(960);
  for (size_t i = 0; i < sine.size(); ++i) {
    sine[i] = static_cast<int16_t>(32767 * std::sin(2 * std::numbers::pi * 1000 * i / 48000.0));
  }
  EXPECT_EQ(LevelFromSamples(sine), 3);  // full-scale sine: -3 dBov
  EXPECT_EQ(LevelFromSamples(std::vector<int16_t>(960, 0)), 127);
  EXPECT_EQ(LevelFromSamples({}), 127);
  const std::vector<int16_t> extremes(960, -32768);
  EXPECT_EQ(LevelFromSamples(extremes), 0);
}

TEST(LevelFromSamplesTest, RmsAndLevelConvertBothWays) {
  EXPECT_DOUBLE_EQ(RmsFromLevel(0), 1.0);
  EXPECT_NEAR(RmsFromLevel(20), 0.1, 1e-12);
  EXPECT_EQ(RmsFromLevel(127), 0.0);
  for (int level = 0; level < 127; ++level) {
    EXPECT_EQ(LevelFromRms(RmsFromLevel(static_cast<uint8_t>(level))), level);
  }
  EXPECT_EQ(LevelFromRms(0.0), 127);
  EXPECT_EQ(LevelFromRms(-1.0), 127);
  EXPECT_EQ(LevelFromRms(std::nan("")), 127);
  EXPECT_EQ(LevelFromRms(2.0), 0);  // above full scale clamps to 0
  EXPECT_EQ(LevelFromRms(1e-9), 127);
}

}  // namespace
}  // namespace chorus::rtp
