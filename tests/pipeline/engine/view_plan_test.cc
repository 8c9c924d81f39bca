// Who each viewer sees, and in which layout: the room's layout, a viewer's own pin (a
// sign-language interpreter), presentation, self-view and the tile limit.
#include "pipeline/engine/view_plan.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::engine {
namespace {

// Cameras a, b, c, d joined in that order (listed out of order on purpose).
const std::vector<TileSource> kCameras = {{"c", 3}, {"a", 1}, {"d", 4}, {"b", 2}};

std::string Ids(const ViewPlan& plan) {
  std::string ids;
  for (int i : plan.tiles) {
    ids += i == ViewPlan::kContent ? std::string("*") : std::string(kCameras[i].id);
  }
  return ids;
}

constexpr int kViewerA = 1;  // index of "a"

TEST(ViewPlanTest, GridInJoinOrderWithOrWithoutSelfView) {
  LayoutConfig layout;
  ViewPlan plan = PlanView(kCameras, kViewerA, false, "", layout, "");
  EXPECT_EQ(plan.mode, ViewPlan::Mode::kGrid);
  EXPECT_FALSE(plan.large_first());
  EXPECT_EQ(Ids(plan), "abcd");
  layout.self_view = false;
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, false, "", layout, "")), "bcd");
  // A viewer that sends no camera sees everyone.
  EXPECT_EQ(Ids(PlanView(kCameras, -1, false, "", layout, "")), "abcd");
}

TEST(ViewPlanTest, SpeakerLayoutPutsRoomPinThenSpeakerLarge) {
  LayoutConfig layout;
  layout.mode = LayoutConfig::Mode::kSpeaker;
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, false, "", layout, "")), "abcd");
  ViewPlan plan = PlanView(kCameras, kViewerA, false, "", layout, "c");
  EXPECT_EQ(plan.mode, ViewPlan::Mode::kSpeaker);
  EXPECT_TRUE(plan.large_first());
  EXPECT_EQ(Ids(plan), "cabd");
  layout.pinned = {"gone", "d"};  // the first pinned endpoint present wins over the speaker
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, false, "", layout, "c")), "dabc");
}

TEST(ViewPlanTest, AViewersOwnPinGoesLargeForThatViewerOnly) {
  LayoutConfig layout;  // grid for the room
  ViewPlan pinned = PlanView(kCameras, kViewerA, false, "d", layout, "c");
  EXPECT_EQ(pinned.mode, ViewPlan::Mode::kPinned);
  EXPECT_TRUE(pinned.large_first());
  EXPECT_EQ(Ids(pinned), "dabc");
  // Another viewer without a pin keeps the grid.
  EXPECT_EQ(PlanView(kCameras, 0, false, "", layout, "c").mode, ViewPlan::Mode::kGrid);
  // Over the speaker layout too.
  layout.mode = LayoutConfig::Mode::kSpeaker;
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, false, "d", layout, "c")), "dabc");
  // A pin on someone absent, or on oneself, leaves the room's layout.
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, false, "zz", layout, "c")), "cabd");
  EXPECT_EQ(PlanView(kCameras, kViewerA, false, "a", layout, "c").mode, ViewPlan::Mode::kSpeaker);
  // Self-view off: the pinned one is still there, the viewer is not.
  layout.self_view = false;
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, false, "d", layout, "c")), "dbc");
}

TEST(ViewPlanTest, PresentationKeepsContentLargeAndThePinFirstInTheStrip) {
  LayoutConfig layout;
  ViewPlan plan = PlanView(kCameras, kViewerA, true, "", layout, "");
  EXPECT_EQ(plan.mode, ViewPlan::Mode::kPresentation);
  EXPECT_EQ(Ids(plan), "*abcd");
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, true, "d", layout, "")), "*dabc");
  // The tile limit never cuts the pinned interpreter.
  layout.max_tiles = 2;
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, true, "d", layout, "")), "*d");
}

TEST(ViewPlanTest, TileLimitIsClamped) {
  LayoutConfig layout;
  layout.max_tiles = 0;
  EXPECT_EQ(Ids(PlanView(kCameras, kViewerA, false, "", layout, "")), "a");
  layout.max_tiles = 1000;
  EXPECT_EQ(PlanView(kCameras, kViewerA, false, "", layout, "").tiles.size(), 4u);
  EXPECT_TRUE(PlanView({}, -1, false, "x", layout, "").tiles.empty());
}

}  // namespace
}  // namespace chorus::engine
