#include "pipeline/engine/view_plan.h"

#include <algorithm>
#include <string>

namespace chorus::engine {

const char* ViewPlan::ModeName(Mode mode) {
  switch (mode) {
    case Mode::kGrid:
      return "grid";
    case Mode::kSpeaker:
      return "speaker";
    case Mode::kPinned:
      return "pinned";
    case Mode::kPresentation:
      return "presentation";
  }
  return "grid";
}

namespace {

// Moves the tile showing camera `id` to position `to`; false when it is not among the tiles.
bool MoveTo(std::span<const TileSource> cameras, std::vector<int>& tiles, std::string_view id,
            size_t to) {
  if (id.empty() || to >= tiles.size()) return false;
  auto found =
      std::find_if(tiles.begin() + static_cast<std::ptrdiff_t>(to), tiles.end(),
                   [&](int i) { return i >= 0 && cameras[static_cast<size_t>(i)].id == id; });
  if (found == tiles.end()) return false;
  std::rotate(tiles.begin() + static_cast<std::ptrdiff_t>(to), found, found + 1);
  return true;
}

}  // namespace

ViewPlan PlanView(std::span<const TileSource> cameras, int viewer, bool presenting,
                  std::string_view viewer_pin, const LayoutConfig& layout,
                  std::string_view speaker) {
  ViewPlan plan;
  plan.tiles.reserve(cameras.size() + 1);
  for (size_t i = 0; i < cameras.size(); ++i) {
    if (static_cast<int>(i) == viewer && !layout.self_view) continue;
    plan.tiles.push_back(static_cast<int>(i));
  }
  std::stable_sort(plan.tiles.begin(), plan.tiles.end(), [&](int a, int b) {
    return cameras[static_cast<size_t>(a)].order < cameras[static_cast<size_t>(b)].order;
  });
  // A pin on oneself means nothing (one's own picture large helps nobody).
  if (viewer >= 0 && cameras[static_cast<size_t>(viewer)].id == viewer_pin) viewer_pin = {};
  if (presenting) {
    plan.mode = ViewPlan::Mode::kPresentation;
    plan.tiles.insert(plan.tiles.begin(), ViewPlan::kContent);
    MoveTo(cameras, plan.tiles, viewer_pin, 1);
  } else if (MoveTo(cameras, plan.tiles, viewer_pin, 0)) {
    plan.mode = ViewPlan::Mode::kPinned;
  } else if (layout.mode == LayoutConfig::Mode::kSpeaker) {
    plan.mode = ViewPlan::Mode::kSpeaker;
    bool placed = false;
    for (const std::string& wanted : layout.pinned) {
      if ((placed = MoveTo(cameras, plan.tiles, wanted, 0))) break;
    }
    if (!placed) MoveTo(cameras, plan.tiles, speaker, 0);
  }
  const size_t max_tiles = static_cast<size_t>(std::clamp(layout.max_tiles, 1, 25));
  if (plan.tiles.size() > max_tiles) plan.tiles.resize(max_tiles);
  return plan;
}

}  // namespace chorus::engine
