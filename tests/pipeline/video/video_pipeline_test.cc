// The video path of an MCU without the network: participants' pictures encoded (VP8 and H.264),
// packetized, reassembled from shuffled packets, decoded, composed into one view with libyuv,
// the view encoded once per codec, sent through RTP payloads again and decoded by a "receiver";
// the test then finds each participant's colour in its tile.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/video/compositor.h"
#include "pipeline/video/rtp_video.h"
#include "pipeline/video/video_codec.h"

namespace chorus::video {
namespace {

struct Colour {
  uint8_t y, u, v;
};
// BT.601 limited range.
constexpr Colour kRed{81, 90, 240}, kGreen{145, 54, 34}, kBlue{41, 240, 110}, kYellow{210, 16, 146};

Picture Solid(int width, int height, Colour c) {
  Picture p;
  p.Allocate(width, height);
  std::fill(p.y.begin(), p.y.end(), c.y);
  std::fill(p.u.begin(), p.u.end(), c.u);
  std::fill(p.v.begin(), p.v.end(), c.v);
  return p;
}

Colour At(const Picture& p, int x, int y) {
  return {p.y[static_cast<size_t>(y * p.width + x)],
          p.u[static_cast<size_t>((y / 2) * p.chroma_width() + x / 2)],
          p.v[static_cast<size_t>((y / 2) * p.chroma_width() + x / 2)]};
}

void ExpectColour(const Picture& p, int x, int y, Colour want, const char* what) {
  const Colour got = At(p, x, y);
  EXPECT_NEAR(got.y, want.y, 14) << what << " Y at " << x << "," << y;
  EXPECT_NEAR(got.u, want.u, 14) << what << " U at " << x << "," << y;
  EXPECT_NEAR(got.v, want.v, 14) << what << " V at " << x << "," << y;
}

// Sends an encoded frame through RTP payloads (shuffled) and reassembles it with the stream's
// assembler.
std::vector<uint8_t> OverRtp(FrameAssembler& assembler, VideoCodec codec,
                             const std::vector<uint8_t>& frame, uint16_t* sequence,
                             uint32_t timestamp, unsigned seed) {
  auto packets = codec == VideoCodec::kVp8 ? PacketizeVp8(frame, 1100) : PacketizeH264(frame, 1100);
  std::vector<size_t> order(packets.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  std::vector<uint8_t> out;
  uint32_t ts = 0;
  for (size_t i : order) {
    if (assembler.Insert(static_cast<uint16_t>(*sequence + i), timestamp, i + 1 == packets.size(),
                         packets[i], &out, &ts) == FrameAssembler::Result::kFrame) {
      *sequence = static_cast<uint16_t>(*sequence + packets.size());
      return out;
    }
  }
  ADD_FAILURE() << "the frame did not reassemble";
  return {};
}

// One stream: encoder, RTP, assembler, decoder.
struct Stream {
  std::unique_ptr<VideoEncoder> encoder;
  std::unique_ptr<VideoDecoder> decoder;
  std::unique_ptr<FrameAssembler> assembler;
  uint16_t sequence = 0;
};

Stream OpenStream(const VideoEncoderConfig& config, uint16_t first_sequence) {
  Stream stream;
  auto encoder = VideoEncoder::Create(config);
  EXPECT_TRUE(encoder.ok()) << encoder.status();
  if (encoder.ok()) stream.encoder = *std::move(encoder);
  auto decoder = VideoDecoder::Create(config.codec);
  EXPECT_TRUE(decoder.ok());
  if (decoder.ok()) stream.decoder = *std::move(decoder);
  stream.assembler = std::make_unique<FrameAssembler>(config.codec);
  stream.sequence = first_sequence;
  return stream;
}

// Encodes, transports and decodes `picture` through the stream; returns the decoded picture.
Picture RoundTrip(Stream& stream, const Picture& picture, bool keyframe, uint32_t timestamp) {
  VideoEncoder& encoder = *stream.encoder;
  VideoDecoder& decoder = *stream.decoder;
  std::vector<uint8_t> encoded;
  bool is_key = false;
  EXPECT_TRUE(encoder.Encode(picture, keyframe, &encoded, &is_key).ok());
  EXPECT_FALSE(encoded.empty());
  if (keyframe) {
    EXPECT_TRUE(is_key);
  }
  std::vector<uint8_t> received = OverRtp(*stream.assembler, encoder.config().codec, encoded,
                                          &stream.sequence, timestamp, timestamp);
  Picture out;
  bool got = false;
  EXPECT_TRUE(decoder.Decode(received, &out, &got).ok());
  EXPECT_TRUE(got);
  return out;
}

TEST(VideoPipelineTest, FourParticipantsInTwoCodecsMeetInOneGridPerCodec) {
  const Colour colours[4] = {kRed, kGreen, kBlue, kYellow};
  const VideoCodec sent_with[4] = {VideoCodec::kVp8, VideoCodec::kVp8, VideoCodec::kH264,
                                   VideoCodec::kH264};
  // Each participant's camera (odd sizes for two of them), through its own codec.
  const int widths[4] = {320, 322, 640, 300};
  const int heights[4] = {180, 240, 360, 166};
  std::vector<Picture> received(4);
  for (int i = 0; i < 4; ++i) {
    VideoEncoderConfig config;
    config.codec = sent_with[i];
    config.width = widths[i];
    config.height = heights[i];
    Stream stream = OpenStream(config, static_cast<uint16_t>(1000 * i));
    ASSERT_TRUE(stream.encoder && stream.decoder);
    for (int f = 0; f < 3; ++f) {
      received[i] = RoundTrip(stream, Solid(widths[i], heights[i], colours[i]), f == 0,
                              3000u * static_cast<uint32_t>(f + 1));
    }
    ASSERT_EQ(received[i].width, widths[i]);
  }
  // One view: a 2x2 grid on 640x360, composed once.
  Picture canvas;
  canvas.Allocate(640, 360);
  ClearCanvas(&canvas);
  const std::vector<Tile> tiles = GridTiles(4, 640, 360);
  ASSERT_EQ(tiles.size(), 4u);
  for (int i = 0; i < 4; ++i) DrawTile(&canvas, tiles[static_cast<size_t>(i)], &received[i]);
  // Encoded once per codec, and decoded by a receiver of each.
  for (VideoCodec codec : {VideoCodec::kVp8, VideoCodec::kH264}) {
    VideoEncoderConfig config;
    config.codec = codec;
    Stream stream = OpenStream(config, 65530);  // the sequence wraps inside the run
    ASSERT_TRUE(stream.encoder && stream.decoder);
    Picture seen;
    for (int f = 0; f < 3; ++f) {
      seen = RoundTrip(stream, canvas, f == 0, 3000u * static_cast<uint32_t>(f + 1));
    }
    ASSERT_EQ(seen.width, 640);
    for (int i = 0; i < 4; ++i) {
      const Tile& t = tiles[static_cast<size_t>(i)];
      ExpectColour(seen, t.x + t.width / 2, t.y + t.height / 2, colours[i],
                   codec == VideoCodec::kVp8 ? "vp8 view" : "h264 view");
    }
  }
}

TEST(VideoPipelineTest, TilesKeepTheAspectRatioAndEmptyOnesShowThePlaceholder) {
  Picture canvas;
  canvas.Allocate(640, 360);
  ClearCanvas(&canvas);
  const std::vector<Tile> tiles = GridTiles(2, 640, 360);  // two 320x360 columns
  ASSERT_EQ(tiles.size(), 2u);
  DrawTile(&canvas, tiles[0], nullptr);
  // A 16:9 source in a 320x360 tile: 320x180, centred, black above and below.
  Picture wide = Solid(1280, 720, kBlue);
  DrawTile(&canvas, tiles[1], &wide);
  ExpectColour(canvas, 160, 180, Colour{40, 128, 128}, "placeholder");
  ExpectColour(canvas, 480, 180, kBlue, "centre");
  ExpectColour(canvas, 480, 40, Colour{16, 128, 128}, "letterbox");
  EXPECT_EQ(GridTiles(25, 1280, 720).size(), 25u);
  EXPECT_EQ(GridTiles(99, 1280, 720).size(), 25u);  // 5x5 at most
  EXPECT_EQ(GridTiles(5, 1280, 720)[3].x, 0);       // 3 columns: the 4th starts the second row
  EXPECT_GT(GridTiles(5, 1280, 720)[3].y, 0);
}

TEST(VideoPipelineTest, DecodersSurviveGarbageAndResolutionChanges) {
  for (VideoCodec codec : {VideoCodec::kVp8, VideoCodec::kH264}) {
    VideoEncoderConfig config;
    config.codec = codec;
    config.width = 160;
    config.height = 80;
    Stream stream = OpenStream(config, 0);
    ASSERT_TRUE(stream.encoder && stream.decoder);
    Picture out;
    bool got = false;
    std::mt19937 random(3);
    for (int i = 0; i < 50; ++i) {
      std::vector<uint8_t> garbage(1 + random() % 3000);
      for (uint8_t& b : garbage) b = static_cast<uint8_t>(random());
      (void)stream.decoder->Decode(garbage, &out, &got);  // an error or nothing, never a crash
    }
    uint32_t timestamp = 0;
    for (int size : {160, 320}) {
      // The sender restarts its encoder at the new size; the same receiving stream goes on.
      config.width = size;
      config.height = size / 2;
      auto encoder = VideoEncoder::Create(config);
      ASSERT_TRUE(encoder.ok());
      stream.encoder = *std::move(encoder);
      Picture seen;
      for (int f = 0; f < 2; ++f) {
        timestamp += 3000;
        seen = RoundTrip(stream, Solid(size, size / 2, kGreen), f == 0, timestamp);
      }
      EXPECT_EQ(seen.width, size) << (codec == VideoCodec::kVp8 ? "vp8" : "h264");
      ExpectColour(seen, size / 2, size / 4, kGreen, "after a resolution change");
    }
  }
  VideoEncoderConfig odd;
  odd.width = 641;
  EXPECT_FALSE(VideoEncoder::Create(odd).ok());
}

// A view that changes little (the usual call: faces, letterboxes) and slowly (a light fading up
// one level a frame, the case that catches encoders skipping "unchanged" blocks): every decoded
// frame stays close to what was composed, in both codecs, with the encoders' real-time settings.
TEST(VideoPipelineTest, EncodedViewsStayFaithfulThroughSlowChanges) {
  constexpr int kWidth = 640, kHeight = 360;
  for (VideoCodec codec : {VideoCodec::kVp8, VideoCodec::kH264}) {
    VideoEncoderConfig config;
    config.codec = codec;
    config.width = kWidth;
    config.height = kHeight;
    config.bitrate_bps = 800'000;
    Stream stream = OpenStream(config, 0);
    ASSERT_TRUE(stream.encoder && stream.decoder);
    double worst = 1e9, total = 0;
    for (int f = 0; f < 60; ++f) {
      Picture view;
      view.Allocate(kWidth, kHeight);
      for (int y = 0; y < kHeight; ++y) {
        for (int x = 0; x < kWidth; ++x) {
          // A still, textured background (a fixed pattern) with a little sensor noise.
          const uint32_t h =
              static_cast<uint32_t>(x) * 73856093u ^ static_cast<uint32_t>(y) * 19349663u;
          int v = 60 + static_cast<int>(h % 64) +
                  static_cast<int>(((h >> 8) + static_cast<uint32_t>(f) * 2654435761u) % 3);
          if (x >= 320) v = std::min(235, v + f);  // the right half fades up, 1 level a frame
          view.y[static_cast<size_t>(y * kWidth + x)] = static_cast<uint8_t>(v);
        }
      }
      std::fill(view.u.begin(), view.u.end(), 120);
      std::fill(view.v.begin(), view.v.end(), 136);
      const int bx = 40 + 4 * f, by = 100;  // a moving box
      for (int y = by; y < by + 60; ++y) {
        for (int x = bx; x < bx + 60; ++x) view.y[static_cast<size_t>(y * kWidth + x)] = 230;
      }
      const Picture seen = RoundTrip(stream, view, f == 0, 3600u * static_cast<uint32_t>(f + 1));
      ASSERT_EQ(seen.width, kWidth);
      double error = 0;
      for (size_t i = 0; i < view.y.size(); ++i) {
        const double d = static_cast<double>(view.y[i]) - seen.y[i];
        error += d * d;
      }
      error /= static_cast<double>(view.y.size());
      const double psnr = error == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / error);
      if (f >= 10) worst = std::min(worst, psnr);  // after the first, costly keyframe settles
      if (f >= 10) total += psnr;
    }
    // Measured: VP8 42.6 dB worst (the same with and without skipping still blocks), H.264 31.3
    // (x264 at 800 kbit/s on a noisy texture).
    EXPECT_GE(worst, codec == VideoCodec::kVp8 ? 40.0 : 29.0)
        << (codec == VideoCodec::kVp8 ? "vp8" : "h264");
    std::printf("%s: luma PSNR worst %.1f dB, mean %.1f dB\n",
                codec == VideoCodec::kVp8 ? "vp8" : "h264", worst, total / 50);
  }
}

}  // namespace
}  // namespace chorus::video
