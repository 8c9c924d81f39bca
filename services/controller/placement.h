#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "absl/time/time.h"

namespace chorus::controller {

// What the controller knows of one media node when it places a room: its last load report and
// how it has behaved since. Plain data, filled by MediaNodes from its own records.
struct PlacementCandidate {
  bool known = false;   // answered at least once
  bool failed = false;  // fell silent and has not answered since
  absl::Time last_report = absl::InfinitePast();
  // From the node's last load report.
  bool ready = false;
  bool draining = false;
  double load = 0.0;  // 0 to 1: the share of the media workers' real-time budget in use
  double admission_threshold = 0.0;
  int64_t sessions = 0;
  // Rooms placed on the node since that report (the report does not count them yet).
  int placed_since_report = 0;
  // Already refused by the node when asked again (Place() chooses once more without it).
  bool skip = false;
};

// Whether the node takes new rooms at `now`: known, not failed, heard from within `silence`,
// ready, not draining and loaded below its admission threshold.
bool Placeable(const PlacementCandidate& node, absl::Time now, absl::Duration silence);

// The placeable node with the most headroom: the lowest load, then the fewest sessions (counting
// the rooms placed since its report); among equals, the first. nullopt when no node is placeable.
// Pure: no calls to the nodes (MediaNodes asks them before and after).
std::optional<size_t> ChooseNode(std::span<const PlacementCandidate> nodes, absl::Time now,
                                 absl::Duration silence);

}  // namespace chorus::controller
