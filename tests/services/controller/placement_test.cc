#include "services/controller/placement.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::controller {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
constexpr absl::Duration kSilence = absl::Seconds(5);

// A node that answered a second ago: ready, not draining, threshold 0.8.
PlacementCandidate Node(double load, int64_t sessions = 0) {
  PlacementCandidate node;
  node.known = true;
  node.last_report = kNow - absl::Seconds(1);
  node.ready = true;
  node.load = load;
  node.admission_threshold = 0.8;
  node.sessions = sessions;
  return node;
}

std::optional<size_t> Choose(const std::vector<PlacementCandidate>& nodes) {
  return ChooseNode(nodes, kNow, kSilence);
}

TEST(PlacementTest, NoNodeMeansNoPlace) { EXPECT_EQ(Choose({}), std::nullopt); }

TEST(PlacementTest, TheNodeWithTheMostHeadroomTakesTheRoom) {
  EXPECT_EQ(Choose({Node(0.5), Node(0.2), Node(0.4)}), 1u);
}

TEST(PlacementTest, AmongEqualLoadsTheNodeWithFewerSessionsWins) {
  EXPECT_EQ(Choose({Node(0.3, 7), Node(0.3, 2), Node(0.3, 5)}), 1u);
}

TEST(PlacementTest, ASessionWeighsLessThanAVisibleDifferenceInLoad) {
  // Ten sessions are worth a hundredth of load: a node 0.05 lighter wins despite them.
  EXPECT_EQ(Choose({Node(0.30, 0), Node(0.25, 10)}), 1u);
}

TEST(PlacementTest, ACompleteTieGoesToTheFirstNode) {
  EXPECT_EQ(Choose({Node(0.3, 2), Node(0.3, 2), Node(0.3, 2)}), 0u);
}

TEST(PlacementTest, RoomsPlacedSinceTheLastReportCountAsSessions) {
  std::vector<PlacementCandidate> nodes = {Node(0.3, 1), Node(0.3, 2)};
  nodes[0].placed_since_report = 2;
  EXPECT_EQ(Choose(nodes), 1u);
}

TEST(PlacementTest, ADrainingNodeGetsNoNewRoom) {
  std::vector<PlacementCandidate> nodes = {Node(0.1), Node(0.6)};
  nodes[0].draining = true;
  EXPECT_EQ(Choose(nodes), 1u);
  EXPECT_FALSE(Placeable(nodes[0], kNow, kSilence));
}

TEST(PlacementTest, AFullNodeGetsNoNewRoom) {
  // At its admission threshold a node is full; just under it, it still takes rooms.
  EXPECT_EQ(Choose({Node(0.8), Node(0.9)}), std::nullopt);
  EXPECT_EQ(Choose({Node(0.8), Node(0.79)}), 1u);
}

TEST(PlacementTest, UnreadyFailedUnknownAndSkippedNodesGetNoNewRoom) {
  std::vector<PlacementCandidate> nodes = {Node(0.1), Node(0.1), Node(0.1), Node(0.1), Node(0.7)};
  nodes[0].ready = false;
  nodes[1].failed = true;
  nodes[2].known = false;
  nodes[3].skip = true;
  EXPECT_EQ(Choose(nodes), 4u);
}

TEST(PlacementTest, ANodeSilentForLongerThanTheSilenceGetsNoNewRoom) {
  std::vector<PlacementCandidate> nodes = {Node(0.1), Node(0.5)};
  nodes[0].last_report = kNow - kSilence - absl::Milliseconds(1);
  EXPECT_EQ(Choose(nodes), 1u);
  nodes[0].last_report = kNow - kSilence;
  EXPECT_EQ(Choose(nodes), 0u);
}

TEST(PlacementTest, WhenNoNodeFitsThereIsNoPlace) {
  std::vector<PlacementCandidate> nodes = {Node(0.9), Node(0.1)};
  nodes[1].draining = true;
  EXPECT_EQ(Choose(nodes), std::nullopt);
}

}  // namespace
}  // namespace chorus::controller
