#include "services/controller/placement.h"

namespace chorus::controller {

bool Placeable(const PlacementCandidate& node, absl::Time now, absl::Duration silence) {
  return node.known && !node.failed && now - node.last_report <= silence && node.ready &&
         !node.draining && node.load < node.admission_threshold;
}

std::optional<size_t> ChooseNode(std::span<const PlacementCandidate> nodes, absl::Time now,
                                 absl::Duration silence) {
  std::optional<size_t> best;
  double best_score = 0.0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const PlacementCandidate& node = nodes[i];
    if (node.skip || !Placeable(node, now, silence)) continue;
    // Headroom first; a thousandth of load per session separates nodes of equal load.
    const double score =
        node.load + 0.001 * static_cast<double>(node.sessions + node.placed_since_report);
    if (!best.has_value() || score < best_score) {
      best_score = score;
      best = i;
    }
  }
  return best;
}

}  // namespace chorus::controller
