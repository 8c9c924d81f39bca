#include "pipeline/engine/bitrate_tiers.h"

#include "gtest/gtest.h"

namespace chorus::engine {
namespace {

constexpr uint64_t kTop = 800'000;
constexpr int64_t kSecond = 1'000'000;

// A viewer sent `rate_bps` (what its tier's encoder makes of the picture), updated every 40 ms,
// and sending a receiver report every second when asked to.
class Viewer {
 public:
  // Runs `duration_us` of ticks; the tier at the end.
  int Run(int64_t duration_us, uint64_t rate_bps) {
    for (int64_t end = now_us_ + duration_us; now_us_ < end;) {
      now_us_ += 40'000;
      bytes_ += rate_bps / 8 / 25;
      if (report_fraction_lost_ >= 0 && now_us_ % kSecond == 0) {
        tier_.OnLossReport(static_cast<uint8_t>(report_fraction_lost_));
      }
      tier_.Update(kTop, bytes_, now_us_);
    }
    return tier_.tier();
  }
  // A receiver report with this fraction lost (of 256) every second; -1 for none.
  void ReportEverySecond(int fraction_lost) { report_fraction_lost_ = fraction_lost; }
  ViewerTier& tier() { return tier_; }

 private:
  ViewerTier tier_;
  int64_t now_us_ = 0;
  uint64_t bytes_ = 0;
  int report_fraction_lost_ = -1;
};

TEST(ViewerTierTest, WithoutReportsTheViewerGetsTheTopTier) {
  Viewer viewer;
  EXPECT_EQ(viewer.Run(20 * kSecond, 700'000), 0);
  EXPECT_EQ(viewer.tier().send_bps(), 700'000u);
  EXPECT_EQ(TierBitrate(kTop, 0), 800'000u);
  EXPECT_EQ(TierBitrate(kTop, 1), 400'000u);
  EXPECT_EQ(TierBitrate(kTop, 2), 200'000u);
  // Never below what the encoders take: the low tiers of a low-rate view coincide.
  EXPECT_EQ(TierBitrate(120'000, 1), 60'000u);
  EXPECT_EQ(TierBitrate(120'000, 2), kMinTierBitrateBps);
  EXPECT_EQ(TierBitrate(50'000, 2), 50'000u);
}

// A still picture sent far below the lower tier's bitrate is not moved by however low a REMB: a
// lower tier would send no less (and a browser's estimate of such a sparse stream swings down
// at every keyframe).
TEST(ViewerTierTest, ASparseStreamIsNotMovedByItsRemb) {
  Viewer viewer;
  viewer.Run(2 * kSecond, 20'000);
  for (int i = 0; i < 10; ++i) {
    viewer.tier().OnRemb(7'000);
    EXPECT_EQ(viewer.Run(kSecond, 20'000), 0);
  }
}

// A still picture encodes far below the view's bitrate and the receiver's estimate follows it:
// a REMB above what is sent, or about at it (where a browser's estimate starts), is no reason
// to move, however far below the view's bitrate it is.
TEST(ViewerTierTest, ARembAboveWhatIsSentHoldsNobodyBack) {
  Viewer viewer;
  viewer.Run(2 * kSecond, 60'000);
  for (int i = 0; i < 10; ++i) {
    viewer.tier().OnRemb(i < 5 ? 100'000 : 50'000);
    EXPECT_EQ(viewer.Run(kSecond, 60'000), 0);
  }
}

// A REMB below what the viewer is sent moves it down at once, to the tier that fits (one at
// least); with room again it goes back up one tier per hold.
TEST(ViewerTierTest, ARembBelowWhatIsSentMovesTheViewerDown) {
  Viewer viewer;
  viewer.tier().OnRemb(500'000);
  EXPECT_EQ(viewer.Run(kSecond / 2, 700'000), 0);  // no rate measured yet: nothing to judge
  EXPECT_EQ(viewer.Run(kSecond, 700'000), 1);      // 450 kbit/s usable: the half tier
  viewer.tier().OnRemb(300'000);
  EXPECT_EQ(viewer.Run(2 * kSecond, 380'000), 2);  // 270 < 380: the quarter tier
  viewer.tier().OnRemb(100'000);  // even the quarter is too much: it stays the lowest
  EXPECT_EQ(viewer.Run(2 * kSecond, 190'000), 2);
  // Room again: the REMB sits above what is sent. Up one tier per hold.
  viewer.tier().OnRemb(300'000);
  EXPECT_EQ(viewer.Run(kSecond, 190'000), 2);
  EXPECT_EQ(viewer.Run(ViewerTier::kHoldUpUs, 190'000), 1);
  EXPECT_EQ(viewer.Run(ViewerTier::kHoldUpUs, 380'000), 0);
}

// Reported loss moves the viewer down one tier per step interval while it lasts (reports that
// still carry the loss from before a move do not push it further at once), and releases it once
// the reports are clean.
TEST(ViewerTierTest, LossMovesDownOneTierAtATime) {
  Viewer viewer;
  viewer.ReportEverySecond(64);                    // 25 %
  EXPECT_EQ(viewer.Run(2 * kSecond, 100'000), 1);  // the second report is within the interval
  EXPECT_EQ(viewer.Run(3 * kSecond, 100'000), 2);
  EXPECT_EQ(viewer.Run(3 * kSecond, 100'000), 2);  // no lower tier
  viewer.ReportEverySecond(10);                    // about 4 %: neither moves nor releases
  EXPECT_EQ(viewer.Run(ViewerTier::kHoldUpUs, 100'000), 2);
  viewer.ReportEverySecond(0);  // clean: released, then up one tier per hold
  EXPECT_EQ(viewer.Run(kSecond, 100'000), 1);
  EXPECT_EQ(viewer.Run(kSecond, 100'000), 1);
  EXPECT_EQ(viewer.Run(ViewerTier::kHoldUpUs, 100'000), 0);
  // The worst report since the last update counts.
  viewer.ReportEverySecond(-1);
  viewer.tier().OnLossReport(64);
  viewer.tier().OnLossReport(0);
  EXPECT_EQ(viewer.Run(40'000, 100'000), 1);
}

// A REMB older than its freshness no longer holds the viewer back.
TEST(ViewerTierTest, AnOldRembIsForgotten) {
  Viewer viewer;
  viewer.Run(2 * kSecond, 700'000);
  viewer.tier().OnRemb(100'000);
  EXPECT_EQ(viewer.Run(40'000, 700'000), 2);
  static_assert(ViewerTier::kHoldUpUs > ViewerTier::kRembFreshUs);
  EXPECT_EQ(viewer.Run(ViewerTier::kHoldUpUs, 190'000), 1);
  EXPECT_EQ(viewer.Run(ViewerTier::kHoldUpUs, 380'000), 0);
}

}  // namespace
}  // namespace chorus::engine
