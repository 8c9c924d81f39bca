#include <random>

#include "gtest/gtest.h"
#include "pipeline/rtp/audio_level.h"
#include "tools/loadgen/talk_clip.h"
#include "tools/loadgen/talk_schedule.h"

namespace chorus::loadgen {
namespace {

TEST(TalkClipTest, EncodesTalkThatNeverFallsSilentAndOneSilentFrame) {
  auto clip = TalkClip::Create(1000, 32000);
  ASSERT_TRUE(clip.ok()) << clip.status();
  EXPECT_GE(clip->talk_frames(), 48u);
  for (size_t i = 0; i < clip->talk_frames(); ++i) {
    const EncodedFrame& frame = clip->talk(i);
    EXPECT_FALSE(frame.payload.empty());
    EXPECT_TRUE(frame.voice);
    // A listener's onset detector (-50 dBov) sees every talk frame, the first one included.
    EXPECT_LT(frame.level, 40) << "frame " << i;
  }
  EXPECT_EQ(clip->silence().level, rtp::kSilentLevel);
  EXPECT_FALSE(clip->silence().voice);
  EXPECT_FALSE(clip->silence().payload.empty());
  // Wraps around.
  EXPECT_EQ(&clip->talk(clip->talk_frames()), &clip->talk(0));
}

TEST(TalkScheduleTest, TurnsDoNotOverlapAndChangeSpeaker) {
  std::mt19937 random(7);
  TalkPattern pattern;
  TalkSchedule schedule(5, pattern, 1'000'000, 61'000'000, random);
  const auto& spurts = schedule.spurts();
  ASSERT_GT(spurts.size(), 10u);
  for (size_t i = 0; i < spurts.size(); ++i) {
    EXPECT_GE(spurts[i].speaker, 0);
    EXPECT_LT(spurts[i].speaker, 5);
    EXPECT_GE(spurts[i].end_us - spurts[i].start_us, 0);
    EXPECT_LE(spurts[i].end_us - spurts[i].start_us, pattern.talk_max_ms * 1000);
    if (i > 0) {
      EXPECT_NE(spurts[i].speaker, spurts[i - 1].speaker);
      EXPECT_GE(spurts[i].start_us - spurts[i - 1].end_us, pattern.pause_min_ms * 1000);
    }
  }
  const TalkSpurt& third = spurts[2];
  const int64_t middle = (third.start_us + third.end_us) / 2;
  EXPECT_EQ(schedule.SpurtAt(third.speaker, middle), &third);
  EXPECT_EQ(schedule.SpurtAt((third.speaker + 1) % 5, middle), nullptr);
  EXPECT_EQ(schedule.SpurtAt(third.speaker, third.end_us), nullptr);  // pause after it
  EXPECT_EQ(schedule.LatestStartBefore(third.end_us + 1), &third);
  EXPECT_EQ(schedule.LatestStartBefore(0), nullptr);
}

TEST(TalkScheduleTest, OneSpeakerAndNoSpeaker) {
  std::mt19937 random(1);
  TalkSchedule one(1, TalkPattern{}, 0, 10'000'000, random);
  ASSERT_FALSE(one.spurts().empty());
  for (const TalkSpurt& spurt : one.spurts()) EXPECT_EQ(spurt.speaker, 0);
  TalkSchedule none(0, TalkPattern{}, 0, 10'000'000, random);
  EXPECT_TRUE(none.spurts().empty());
  EXPECT_EQ(none.SpurtAt(0, 5'000'000), nullptr);
}

}  // namespace
}  // namespace chorus::loadgen
