#include "pipeline/video/rtp_video.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::video {
namespace {

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

// Feeds `packets` (in the given order) as one frame; returns the assembled frame, empty if none.
std::vector<uint8_t> Feed(FrameAssembler& assembler,
                          const std::vector<std::vector<uint8_t>>& packets, uint16_t first_sequence,
                          uint32_t timestamp, const std::vector<size_t>& order) {
  std::vector<uint8_t> frame;
  uint32_t out_timestamp = 0;
  for (size_t index : order) {
    const bool marker = index + 1 == packets.size();
    auto result = assembler.Insert(static_cast<uint16_t>(first_sequence + index), timestamp, marker,
                                   packets[index], &frame, &out_timestamp);
    if (result == FrameAssembler::Result::kFrame) {
      EXPECT_EQ(out_timestamp, timestamp);
      return frame;
    }
  }
  return {};
}

std::vector<size_t> Shuffled(size_t n, unsigned seed) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  return order;
}

TEST(RtpVideoTest, Vp8FramesSurvivePacketizingReorderingAndSequenceWrap) {
  FrameAssembler assembler(VideoCodec::kVp8);
  const std::vector<uint8_t> frame = Bytes(5000, 3);
  auto packets = PacketizeVp8(frame, 1200);
  ASSERT_EQ(packets.size(), 5u);
  for (const auto& packet : packets) EXPECT_LE(packet.size(), 1200u);
  // Starting 2 before the 16-bit wrap, delivered out of order.
  EXPECT_EQ(Feed(assembler, packets, 65534, 3000, Shuffled(packets.size(), 1)), frame);
  // The next frame, in order.
  const std::vector<uint8_t> next = Bytes(700, 9);
  EXPECT_EQ(Feed(assembler, PacketizeVp8(next, 1200), 3, 6000, {0}), next);
}

TEST(RtpVideoTest, Vp8DescriptorsWithEveryOptionalFieldAreRead) {
  // X with I (15-bit picture id), L, T/K; then the frame bytes.
  const std::vector<uint8_t> packet = {0x90, 0xf0, 0x81, 0x23, 0x05, 0x40, 0xaa, 0xbb};
  bool start = false;
  std::span<const uint8_t> payload;
  ASSERT_TRUE(ParseVp8Payload(packet, &start, &payload));
  EXPECT_TRUE(start);
  ASSERT_EQ(payload.size(), 2u);
  EXPECT_EQ(payload[0], 0xaa);
  // Truncated descriptors are refused.
  for (size_t n = 0; n < 6; ++n) {
    EXPECT_FALSE(ParseVp8Payload(std::span<const uint8_t>(packet.data(), n), &start, &payload))
        << n;
  }
}

TEST(RtpVideoTest, H264SingleNalsAndFuAFragmentsRoundTrip) {
  // SPS, PPS (small: single NAL packets) and an IDR slice of 4000 bytes (FU-A).
  std::vector<uint8_t> annexb;
  auto add = [&](uint8_t header, size_t size) {
    annexb.insert(annexb.end(), {0, 0, 0, 1, header});
    std::vector<uint8_t> body = Bytes(size, header);
    for (uint8_t& b : body) b = b == 0 ? 1 : b;  // no accidental start codes
    annexb.insert(annexb.end(), body.begin(), body.end());
  };
  add(0x67, 20);
  add(0x68, 4);
  add(0x65, 4000);
  auto packets = PacketizeH264(annexb, 1200);
  ASSERT_GE(packets.size(), 6u);
  EXPECT_EQ(packets[0][0], 0x67);
  EXPECT_EQ(packets[2][0] & 0x1f, 28);  // FU-A
  EXPECT_EQ(packets[2][1] & 0x80, 0x80);
  FrameAssembler assembler(VideoCodec::kH264);
  EXPECT_EQ(Feed(assembler, packets, 100, 90000, Shuffled(packets.size(), 7)), annexb);
}

TEST(RtpVideoTest, H264StapAIsUnpacked) {
  const std::vector<uint8_t> stap = {24, 0, 2, 0x67, 0x11, 0, 3, 0x68, 0x22, 0x33};
  std::vector<uint8_t> annexb;
  bool start = false;
  ASSERT_TRUE(AppendH264Payload(stap, &annexb, &start));
  EXPECT_EQ(annexb, (std::vector<uint8_t>{0, 0, 0, 1, 0x67, 0x11, 0, 0, 0, 1, 0x68, 0x22, 0x33}));
  // Malformed: a length past the end, the F bit, FU-B, an empty payload, a bare FU header.
  const std::vector<std::vector<uint8_t>> bad = {
      {24, 0, 9, 0x67}, {0x80 | 0x65, 1}, {29, 0x85, 1}, {}, {28, 0x85}};
  for (const auto& packet : bad) {
    std::vector<uint8_t> out;
    EXPECT_FALSE(AppendH264Payload(packet, &out, &start));
    EXPECT_TRUE(out.empty());
  }
}

TEST(RtpVideoTest, ALostPacketLosesItsFrameButNotTheNext) {
  FrameAssembler assembler(VideoCodec::kVp8);
  auto first = PacketizeVp8(Bytes(3000, 1), 1200);                // 3 packets, seq 10..12
  EXPECT_TRUE(Feed(assembler, first, 10, 1000, {0, 2}).empty());  // 11 lost
  const std::vector<uint8_t> second = Bytes(2000, 5);
  EXPECT_EQ(Feed(assembler, PacketizeVp8(second, 1200), 13, 4000, {0, 1}), second);
  EXPECT_EQ(assembler.dropped_frames(), 1u);
  // The late packet of the lost frame is refused as too late.
  std::vector<uint8_t> frame;
  uint32_t ts = 0;
  EXPECT_EQ(assembler.Insert(11, 1000, false, first[1], &frame, &ts),
            FrameAssembler::Result::kTooLate);
}

TEST(RtpVideoTest, GarbageNeverCrashesTheAssembler) {
  std::mt19937 random(42);
  for (VideoCodec codec : {VideoCodec::kVp8, VideoCodec::kH264}) {
    FrameAssembler assembler(codec);
    std::vector<uint8_t> frame;
    uint32_t ts = 0;
    for (int i = 0; i < 20000; ++i) {
      std::vector<uint8_t> payload(random() % 40);
      for (uint8_t& b : payload) b = static_cast<uint8_t>(random());
      assembler.Insert(static_cast<uint16_t>(random()), random() % 50, random() % 4 == 0, payload,
                       &frame, &ts);
    }
  }
}

}  // namespace
TEST(RtpVideoTest, OnlyConstrainedBaselineH264UpToTheLevelChorusAnnouncesIsForwardedAsSent) {
  // A start code, an SPS (profile_idc, constraint flags, level_idc, then anything), an IDR slice.
  auto frame = [](uint8_t profile, uint8_t constraints, uint8_t level) {
    return std::vector<uint8_t>{0,    0, 0, 1, 0x67, profile, constraints, level, 0xac,
                                0x1b, 0, 0, 0, 1,    0x65,    0x88,        0x84,  0x21};
  };
  EXPECT_TRUE(H264ForwardableAsSent(frame(66, 0xe0, 31), 31));    // 42e01f: what Chorus sends
  EXPECT_TRUE(H264ForwardableAsSent(frame(66, 0xc0, 30), 31));    // 42c01e
  EXPECT_TRUE(H264ForwardableAsSent(frame(77, 0xc0, 31), 31));    // main, but CB-compatible
  EXPECT_FALSE(H264ForwardableAsSent(frame(66, 0x00, 31), 31));   // baseline, not constrained
  EXPECT_FALSE(H264ForwardableAsSent(frame(100, 0x00, 31), 31));  // high
  EXPECT_FALSE(H264ForwardableAsSent(frame(66, 0xe0, 40), 31));   // level 4.0 (1080p)
  const std::vector<uint8_t> no_sps = {0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21};
  EXPECT_FALSE(H264ForwardableAsSent(no_sps, 31));
  const std::vector<uint8_t> short_sps = {0, 0, 0, 1, 0x67, 66};
  EXPECT_FALSE(H264ForwardableAsSent(short_sps, 31));
}

}  // namespace chorus::video
