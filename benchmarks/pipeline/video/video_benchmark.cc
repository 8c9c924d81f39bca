// The video MCU's costs per frame, with real codecs (libavcodec: libvpx, libx264, the vp8 and
// h264 decoders) and libyuv: decoding one participant's stream, composing a view, encoding a
// view, and a whole four-party room frame (four decodes, then one shared view, or four views
// when self-view is excluded). Content moves (a gradient with a travelling box) so the encoders
// have work to do; every frame is timed as CPU time of this thread.
//
// rooms_per_core_at_30fps = 1 / (CPU time of one room frame x 30).
#include <cstdint>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/video/compositor.h"
#include "pipeline/video/video_codec.h"

namespace chorus::video {
namespace {

// Frame `n` of a participant's camera: a gradient with a box that moves.
Picture Camera(int width, int height, int n, int seed) {
  Picture p;
  p.Allocate(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      p.y[static_cast<size_t>(y * width + x)] = static_cast<uint8_t>((x + y + seed * 40) & 0xff);
    }
  }
  std::fill(p.u.begin(), p.u.end(), static_cast<uint8_t>(100 + seed * 20));
  std::fill(p.v.begin(), p.v.end(), static_cast<uint8_t>(150 - seed * 20));
  const int box = height / 4;
  const int bx = (n * 8) % (width - box), by = (n * 5) % (height - box);
  for (int y = by; y < by + box; ++y) {
    for (int x = bx; x < bx + box; ++x) p.y[static_cast<size_t>(y * width + x)] = 235;
  }
  return p;
}

VideoCodec CodecOf(int64_t index) { return index == 0 ? VideoCodec::kVp8 : VideoCodec::kH264; }

// A participant's stream: 30 pre-encoded frames (one keyframe first).
std::vector<std::vector<uint8_t>> Stream(VideoCodec codec, int width, int height, int seed) {
  VideoEncoderConfig config;
  config.codec = codec;
  config.width = width;
  config.height = height;
  config.bitrate_bps = 1'500'000;
  auto encoder = *VideoEncoder::Create(config);
  std::vector<std::vector<uint8_t>> frames;
  for (int n = 0; n < 30; ++n) {
    std::vector<uint8_t> out;
    bool key = false;
    (void)encoder->Encode(Camera(width, height, n, seed), n == 0, &out, &key);
    if (!out.empty()) frames.push_back(std::move(out));
  }
  return frames;
}

// Arguments: codec (0 VP8, 1 H.264), height (360, 720 or 1080; 16:9).
void BM_DecodeStream(benchmark::State& state) {
  const VideoCodec codec = CodecOf(state.range(0));
  const int height = static_cast<int>(state.range(1));
  const auto frames = Stream(codec, height * 16 / 9, height, 1);
  auto decoder = *VideoDecoder::Create(codec);
  Picture out;
  size_t n = 0;
  for (auto _ : state) {
    bool got = false;
    if (n % frames.size() == 0) n = 0;  // from the keyframe again
    (void)decoder->Decode(frames[n++], &out, &got);
  }
}
BENCHMARK(BM_DecodeStream)
    ->ArgsProduct({{0, 1}, {360, 720}})
    ->ArgNames({"codec", "height"})
    ->Unit(benchmark::kMicrosecond);

// Arguments: tiles (1, 4, 9, 16, 25), canvas height; sources are 720p.
void BM_ComposeGrid(benchmark::State& state) {
  const int tiles = static_cast<int>(state.range(0));
  const int height = static_cast<int>(state.range(1));
  std::vector<Picture> sources;
  for (int i = 0; i < tiles; ++i) sources.push_back(Camera(1280, 720, i, i % 5));
  Picture canvas;
  canvas.Allocate(height * 16 / 9, height);
  const std::vector<Tile> rects = GridTiles(tiles, canvas.width, canvas.height);
  for (auto _ : state) {
    ClearCanvas(&canvas);
    for (int i = 0; i < tiles; ++i) DrawTile(&canvas, rects[static_cast<size_t>(i)], &sources[i]);
    benchmark::DoNotOptimize(canvas.y.data());
  }
}
BENCHMARK(BM_ComposeGrid)
    ->ArgsProduct({{1, 4, 9, 25}, {360, 720}})
    ->ArgNames({"tiles", "height"})
    ->Unit(benchmark::kMicrosecond);

// Arguments: codec, height. Encoding a moving view, frame after frame.
void BM_EncodeView(benchmark::State& state) {
  const VideoCodec codec = CodecOf(state.range(0));
  const int height = static_cast<int>(state.range(1));
  VideoEncoderConfig config;
  config.codec = codec;
  config.width = height * 16 / 9;
  config.height = height;
  config.bitrate_bps = height <= 360 ? 800'000 : 1'500'000;
  auto encoder = *VideoEncoder::Create(config);
  std::vector<Picture> pictures;
  for (int n = 0; n < 30; ++n) pictures.push_back(Camera(config.width, height, n, 2));
  std::vector<uint8_t> out;
  size_t n = 0;
  for (auto _ : state) {
    bool key = false;
    (void)encoder->Encode(pictures[n++ % pictures.size()], false, &out, &key);
  }
}
BENCHMARK(BM_EncodeView)
    ->ArgsProduct({{0, 1}, {360, 720}})
    ->ArgNames({"codec", "height"})
    ->Unit(benchmark::kMicrosecond);

// A four-party 720p room, one frame: four participants' VP8 streams decoded, then either one
// shared 2x2 view (self-view included: one composition, one encode) or four views of the three
// others (self-view excluded: four compositions, four encodes), all 720p VP8.
// Argument: self_view (1 shared, 0 excluded).
void BM_FourPartyRoom720p(benchmark::State& state) {
  const bool shared = state.range(0) == 1;
  std::vector<std::vector<std::vector<uint8_t>>> streams;
  std::vector<std::unique_ptr<VideoDecoder>> decoders;
  std::vector<Picture> pictures(4);
  for (int i = 0; i < 4; ++i) {
    streams.push_back(Stream(VideoCodec::kVp8, 1280, 720, i));
    decoders.push_back(*VideoDecoder::Create(VideoCodec::kVp8));
  }
  const int views = shared ? 1 : 4;
  std::vector<std::unique_ptr<VideoEncoder>> encoders;
  std::vector<Picture> canvases(static_cast<size_t>(views));
  for (int v = 0; v < views; ++v) {
    VideoEncoderConfig config;
    config.width = 1280;
    config.height = 720;
    config.bitrate_bps = 1'500'000;
    encoders.push_back(*VideoEncoder::Create(config));
    canvases[static_cast<size_t>(v)].Allocate(1280, 720);
  }
  std::vector<uint8_t> out;
  size_t n = 0;
  for (auto _ : state) {
    const size_t frame = n++ % 30;
    for (size_t i = 0; i < 4; ++i) {
      bool got = false;
      (void)decoders[i]->Decode(streams[i][frame % streams[i].size()], &pictures[i], &got);
    }
    for (int v = 0; v < views; ++v) {
      Picture& canvas = canvases[static_cast<size_t>(v)];
      ClearCanvas(&canvas);
      const int tiles = shared ? 4 : 3;
      const std::vector<Tile> rects = GridTiles(tiles, 1280, 720);
      int tile = 0;
      for (int i = 0; i < 4; ++i) {
        if (!shared && i == v) continue;  // its own picture left out
        DrawTile(&canvas, rects[static_cast<size_t>(tile++)], &pictures[static_cast<size_t>(i)]);
      }
      bool key = false;
      (void)encoders[static_cast<size_t>(v)]->Encode(canvas, false, &out, &key);
    }
  }
  state.counters["rooms_per_core_at_30fps"] =
      benchmark::Counter(1.0 / 30.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FourPartyRoom720p)
    ->Arg(1)
    ->Arg(0)
    ->ArgNames({"self_view"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chorus::video
