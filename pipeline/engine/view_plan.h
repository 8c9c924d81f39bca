#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "pipeline/engine/session_types.h"

namespace chorus::engine {

// A camera stream that can be shown in a tile.
struct TileSource {
  std::string_view id;
  uint64_t order = 0;  // join order: earlier joins come first
};

// What one viewer sees: the layout and the tiles, in tile order. The first tile is the large one
// in every layout but the grid.
struct ViewPlan {
  enum class Mode : uint8_t { kGrid, kSpeaker, kPinned, kPresentation };
  // A tile index meaning "the content stream being presented".
  static constexpr int kContent = -1;
  Mode mode = Mode::kGrid;
  std::vector<int> tiles;  // indices into the cameras given to PlanView, or kContent
  bool large_first() const { return mode != Mode::kGrid; }
  static const char* ModeName(Mode mode);
};

// Works out one viewer's view (DESIGN.md, Mixing: views as keys):
//   - presentation while content flows: the content large, the cameras in the strip; the
//     viewer's own pin (a sign-language interpreter) first in the strip so it is never cut;
//   - otherwise the viewer's own pin large, the others in the strip (layout "pinned");
//   - otherwise the room's layout: speaker (the room's pinned endpoints, else the shown speaker,
//     else the first to have joined, large) or grid in join order.
// `viewer` is the viewer's index in `cameras` (-1 when it sends no camera); it is left out of
// its own tiles when the room's self-view is off, and a pin on oneself is ignored. At most
// layout.max_tiles tiles (1 to 25).
ViewPlan PlanView(std::span<const TileSource> cameras, int viewer, bool presenting,
                  std::string_view viewer_pin, const LayoutConfig& layout,
                  std::string_view speaker);

}  // namespace chorus::engine
