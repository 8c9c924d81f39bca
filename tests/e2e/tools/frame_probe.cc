// Judges recorded video for the end-to-end tests, from the outside: reads raw yuv420p frames
// (what an ffmpeg receiver decoded from Chorus's output) and prints the mean Y, U and V of a
// 9x9 box around each asked-for point of one frame, one line per point:
//   point <x> <y> <Y> <U> <V>
//   frames <n>
// Usage: chorus-frame-probe FILE --size=640x360 --frame=-1 --points=160,90;480,90
// A negative --frame counts from the end (-1: the last whole frame).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr, "chorus-frame-probe: %s\n", why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage("FILE --size=WxH --frame=N --points=x,y;x,y");
  int width = 0, height = 0;
  long frame = -1;
  std::vector<std::pair<int, int>> points;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--size=", 0) == 0) {
      if (std::sscanf(arg.c_str() + 7, "%dx%d", &width, &height) != 2) Usage("bad --size");
    } else if (arg.rfind("--frame=", 0) == 0) {
      frame = std::strtol(arg.c_str() + 8, nullptr, 10);
    } else if (arg.rfind("--points=", 0) == 0) {
      std::stringstream list(arg.substr(9));
      std::string point;
      while (std::getline(list, point, ';')) {
        int x = 0, y = 0;
        if (std::sscanf(point.c_str(), "%d,%d", &x, &y) != 2) Usage("bad --points");
        points.emplace_back(x, y);
      }
    } else {
      Usage("unknown argument");
    }
  }
  if (width <= 0 || height <= 0 || width % 2 || height % 2) Usage("--size must be even WxH");
  std::ifstream in(argv[1], std::ios::binary | std::ios::ate);
  if (!in) Usage("cannot read the file");
  const long frame_bytes = static_cast<long>(width) * height * 3 / 2;
  const long frames = static_cast<long>(in.tellg()) / frame_bytes;
  std::printf("frames %ld\n", frames);
  if (frames == 0) return 1;
  const long index = frame < 0 ? frames + frame : frame;
  if (index < 0 || index >= frames) Usage("no such frame");
  std::vector<unsigned char> data(static_cast<size_t>(frame_bytes));
  in.seekg(index * frame_bytes);
  in.read(reinterpret_cast<char*>(data.data()), frame_bytes);
  const unsigned char* y_plane = data.data();
  const unsigned char* u_plane = y_plane + width * height;
  const unsigned char* v_plane = u_plane + (width / 2) * (height / 2);
  for (auto [px, py] : points) {
    long sum_y = 0, sum_u = 0, sum_v = 0, n = 0;
    for (int dy = -4; dy <= 4; ++dy) {
      for (int dx = -4; dx <= 4; ++dx) {
        const int x = px + dx, y = py + dy;
        if (x < 0 || y < 0 || x >= width || y >= height) continue;
        sum_y += y_plane[y * width + x];
        sum_u += u_plane[(y / 2) * (width / 2) + x / 2];
        sum_v += v_plane[(y / 2) * (width / 2) + x / 2];
        ++n;
      }
    }
    if (n == 0) Usage("a point outside the frame");
    std::printf("point %d %d %ld %ld %ld\n", px, py, sum_y / n, sum_u / n, sum_v / n);
  }
  return 0;
}
