#include "pipeline/audio/speaker_selector.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::audio {
namespace {

constexpr uint8_t kSilent = 127;

// One tick: levels[i] for slot i (kSilent = no audio).
bool Tick(SpeakerSelector& selector, const std::vector<uint8_t>& levels) {
  for (size_t i = 0; i < levels.size(); ++i) {
    selector.SetLevel(i, levels[i] != kSilent, levels[i]);
  }
  return selector.Select();
}

std::vector<uint32_t> Sorted(std::span<const uint32_t> slots) {
  std::vector<uint32_t> v(slots.begin(), slots.end());
  std::sort(v.begin(), v.end());
  return v;
}

TEST(SpeakerSelectorTest, PicksTheKLoudest) {
  SpeakerSelector selector(8, SpeakerSelectorConfig{});
  // Slots 0..4 talk at -20, -30, -10, -40, -25 dBov; K = 3.
  for (int t = 0; t < 10; ++t) Tick(selector, {20, 30, 10, 40, 25, kSilent, kSilent, kSilent});
  EXPECT_EQ((std::vector<uint32_t>{2, 0, 4}),
            std::vector<uint32_t>(selector.speakers().begin(), selector.speakers().end()));
  EXPECT_FALSE(selector.IsSpeaker(1));
}

TEST(SpeakerSelectorTest, ReportsChanges) {
  SpeakerSelector selector(4, SpeakerSelectorConfig{});
  // Levels are smoothed: a voice is selected within a few ticks of starting.
  int ticks = 1;
  while (!Tick(selector, {20, kSilent, kSilent, kSilent}) && ticks < 5) ++ticks;
  EXPECT_LT(ticks, 5);
  EXPECT_EQ((std::vector<uint32_t>{0}), Sorted(selector.added()));
  EXPECT_FALSE(Tick(selector, {20, kSilent, kSilent, kSilent}));
  selector.Clear(0);
  EXPECT_TRUE(Tick(selector, {kSilent, kSilent, kSilent, kSilent}));
  EXPECT_EQ((std::vector<uint32_t>{0}), Sorted(selector.removed()));
}

TEST(SpeakerSelectorTest, CloseLevelsDoNotFlap) {
  SpeakerSelectorConfig config;
  config.max_speakers = 1;
  SpeakerSelector selector(2, config);
  for (int t = 0; t < 10; ++t) Tick(selector, {30, kSilent});
  ASSERT_TRUE(selector.IsSpeaker(0));
  // The two alternate being 2 dB louder than each other for a minute: the speaker never changes.
  int changes = 0;
  for (int t = 0; t < 3000; ++t) {
    const bool odd = (t / 7) % 2 == 1;
    changes +=
        Tick(selector, {static_cast<uint8_t>(odd ? 28 : 30), static_cast<uint8_t>(odd ? 30 : 28)})
            ? 1
            : 0;
  }
  EXPECT_EQ(0, changes);
  EXPECT_TRUE(selector.IsSpeaker(0));
}

TEST(SpeakerSelectorTest, MuchLouderVoiceTakesOverAfterTheHoldTime) {
  SpeakerSelectorConfig config;
  config.max_speakers = 1;
  SpeakerSelector selector(2, config);
  for (int t = 0; t < 10; ++t) Tick(selector, {40, kSilent});
  int ticks = 0;
  while (!selector.IsSpeaker(1) && ticks < 100) {
    Tick(selector, {40, 10});
    ++ticks;
  }
  EXPECT_TRUE(selector.IsSpeaker(1));
  EXPECT_FALSE(selector.IsSpeaker(0));
  EXPECT_GE(ticks, config.replace_hold_ticks);  // not at the first loud tick
  EXPECT_LE(ticks, config.replace_hold_ticks + 3);
}

TEST(SpeakerSelectorTest, SilentSpeakerIsReleasedAfterTheHangTime) {
  SpeakerSelectorConfig config;
  SpeakerSelector selector(2, config);
  for (int t = 0; t < 10; ++t) Tick(selector, {20, kSilent});
  ASSERT_TRUE(selector.IsSpeaker(0));
  // A pause shorter than the hang time keeps the place.
  for (int t = 0; t < config.hang_ticks / 2; ++t) Tick(selector, {kSilent, kSilent});
  EXPECT_TRUE(selector.IsSpeaker(0));
  for (int t = 0; t < 5; ++t) Tick(selector, {20, kSilent});
  // A long silence releases it, within hang time plus a few ticks of smoothing.
  int ticks = 0;
  while (selector.IsSpeaker(0) && ticks < 200) {
    Tick(selector, {kSilent, kSilent});
    ++ticks;
  }
  EXPECT_FALSE(selector.IsSpeaker(0));
  EXPECT_GT(ticks, config.hang_ticks);
  EXPECT_LE(ticks, config.hang_ticks + 2);
  EXPECT_TRUE(selector.speakers().empty());
}

TEST(SpeakerSelectorTest, IgnoresSlotsOutOfRange) {
  SpeakerSelector selector(2, SpeakerSelectorConfig{});
  selector.SetLevel(5, true, 10);
  selector.Clear(9);
  EXPECT_FALSE(selector.Select());
  EXPECT_FALSE(selector.IsSpeaker(5));
}

}  // namespace
}  // namespace chorus::audio
