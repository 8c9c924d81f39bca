#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace chorus::video {

// A picture in I420 (planar 4:2:0, 8 bits), tightly packed: strides of width and (width+1)/2.
struct Picture {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> y, u, v;

  void Allocate(int w, int h) {
    width = w;
    height = h;
    y.resize(static_cast<size_t>(w) * static_cast<size_t>(h));
    u.resize(static_cast<size_t>(chroma_width()) * static_cast<size_t>(chroma_height()));
    v.resize(u.size());
  }
  int chroma_width() const { return (width + 1) / 2; }
  int chroma_height() const { return (height + 1) / 2; }
  bool empty() const { return width == 0 || height == 0; }
};

}  // namespace chorus::video
