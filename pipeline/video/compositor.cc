#include "pipeline/video/compositor.h"

#include <libyuv/planar_functions.h>
#include <libyuv/scale.h>

#include <algorithm>
#include <cmath>

namespace chorus::video {
namespace {

int Even(int value) { return value & ~1; }

void FillRect(Picture* canvas, const Tile& r, uint8_t y, uint8_t u, uint8_t v) {
  libyuv::SetPlane(canvas->y.data() + r.y * canvas->width + r.x, canvas->width, r.width, r.height,
                   y);
  const int cw = canvas->chroma_width();
  libyuv::SetPlane(canvas->u.data() + (r.y / 2) * cw + r.x / 2, cw, r.width / 2, r.height / 2, u);
  libyuv::SetPlane(canvas->v.data() + (r.y / 2) * cw + r.x / 2, cw, r.width / 2, r.height / 2, v);
}

}  // namespace

std::vector<Tile> GridTiles(int count, int canvas_width, int canvas_height) {
  std::vector<Tile> tiles;
  count = std::clamp(count, 1, 25);
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int rows = (count + columns - 1) / columns;
  const int tile_width = Even(canvas_width / columns);
  const int tile_height = Even(canvas_height / rows);
  for (int i = 0; i < count; ++i) {
    tiles.push_back(
        Tile{(i % columns) * tile_width, (i / columns) * tile_height, tile_width, tile_height});
  }
  return tiles;
}

void ClearCanvas(Picture* canvas) {
  FillRect(canvas, Tile{0, 0, Even(canvas->width), Even(canvas->height)}, 16, 128, 128);
}

void DrawTile(Picture* canvas, const Tile& tile, const Picture* source) {
  if (source == nullptr || source->empty()) {
    FillRect(canvas, tile, 40, 128, 128);
    return;
  }
  FillRect(canvas, tile, 16, 128, 128);
  const double scale = std::min(static_cast<double>(tile.width) / source->width,
                                static_cast<double>(tile.height) / source->height);
  const int width = std::max(2, Even(static_cast<int>(source->width * scale)));
  const int height = std::max(2, Even(static_cast<int>(source->height * scale)));
  const int x = tile.x + Even((tile.width - width) / 2);
  const int y = tile.y + Even((tile.height - height) / 2);
  const int cw = canvas->chroma_width();
  libyuv::I420Scale(source->y.data(), source->width, source->u.data(), source->chroma_width(),
                    source->v.data(), source->chroma_width(), source->width, source->height,
                    canvas->y.data() + y * canvas->width + x, canvas->width,
                    canvas->u.data() + (y / 2) * cw + x / 2, cw,
                    canvas->v.data() + (y / 2) * cw + x / 2, cw, width, height,
                    libyuv::kFilterBilinear);
}

}  // namespace chorus::video
