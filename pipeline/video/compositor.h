#pragma once

#include <vector>

#include "pipeline/video/picture.h"

namespace chorus::video {

// A rectangle of the canvas, even-aligned (4:2:0 chroma stays whole).
struct Tile {
  int x = 0, y = 0, width = 0, height = 0;
};

// The grid layout of `count` tiles (1x1 up to 5x5: columns = ceil(sqrt(count))) on a canvas.
std::vector<Tile> GridTiles(int count, int canvas_width, int canvas_height);

// Paints the whole canvas black.
void ClearCanvas(Picture* canvas);

// Draws `source` into `tile` of `canvas`, scaled with libyuv (bilinear) to fit while keeping its
// aspect ratio, centred, the rest of the tile black. A null or empty source draws the
// placeholder of a participant without video (a dark grey tile).
void DrawTile(Picture* canvas, const Tile& tile, const Picture* source);

}  // namespace chorus::video
