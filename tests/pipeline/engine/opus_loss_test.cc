#include "pipeline/engine/opus_loss.h"

#include "gtest/gtest.h"

namespace chorus::engine {
namespace {

TEST(ReportedLossTest, TheDefaultHoldsUntilTheFirstReport) {
  ReportedLoss loss;
  EXPECT_FALSE(loss.known());
  EXPECT_EQ(loss.Percent(5), 5);
  EXPECT_EQ(loss.Percent(60), kMaxOpusLossPercent);  // the cap holds for the default too
  loss.OnReport(26);                                 // 26/256: about 10 %
  EXPECT_TRUE(loss.known());
  EXPECT_EQ(loss.Percent(5), 10);
}

TEST(ReportedLossTest, LossRisesFastFallsSlowlyAndIsCapped) {
  ReportedLoss loss;
  loss.OnReport(0);
  EXPECT_EQ(loss.Percent(5), 0);
  loss.OnReport(51);  // about 20 %: half the step at once
  EXPECT_EQ(loss.Percent(5), 10);
  loss.OnReport(51);
  EXPECT_EQ(loss.Percent(5), 15);
  for (int i = 0; i < 10; ++i) loss.OnReport(51);
  EXPECT_EQ(loss.Percent(5), 20);
  loss.OnReport(0);  // a fifth of the step down
  EXPECT_EQ(loss.Percent(5), 16);
  for (int i = 0; i < 30; ++i) loss.OnReport(0);
  EXPECT_EQ(loss.Percent(5), 0);
  for (int i = 0; i < 5; ++i) loss.OnReport(255);  // all lost: still at most the cap
  EXPECT_EQ(loss.Percent(5), kMaxOpusLossPercent);
}

TEST(SharedLossTest, TheWorstListenerOfASmallGroupCounts) {
  SharedLoss loss;
  EXPECT_EQ(loss.Take(), -1);  // nobody served
  loss.Add(0);
  loss.Add(12);
  loss.Add(3);
  EXPECT_EQ(loss.Take(), 12);
  EXPECT_EQ(loss.Take(), -1);  // forgotten once taken
  loss.Add(40);                // beyond the cap
  loss.Add(-2);
  EXPECT_EQ(loss.Take(), kMaxOpusLossPercent);
}

TEST(SharedLossTest, TheWorstTenthOfALargeAudienceIsIgnored) {
  SharedLoss loss;
  for (int i = 0; i < 95; ++i) loss.Add(2);
  for (int i = 0; i < 5; ++i) loss.Add(25);  // 5 bad lines among 100: ignored
  EXPECT_EQ(loss.Take(), 2);
  for (int i = 0; i < 85; ++i) loss.Add(2);
  for (int i = 0; i < 15; ++i) loss.Add(25);  // 15 among 100: they count
  EXPECT_EQ(loss.Take(), 25);
  for (int i = 0; i < 9; ++i) loss.Add(0);
  loss.Add(25);  // one of ten: ignored
  EXPECT_EQ(loss.Take(), 0);
}

}  // namespace
}  // namespace chorus::engine
