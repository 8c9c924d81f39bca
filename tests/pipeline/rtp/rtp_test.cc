#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/rtp/receive_statistics.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/rtp/sequence.h"

namespace chorus::rtp {
namespace {

std::vector<uint8_t> Build(const RtpHeader& header, std::vector<uint8_t> payload) {
  std::vector<uint8_t> out(1500);
  out.resize(BuildRtp(header, payload, out));
  return out;
}

TEST(RtpPacketTest, BuildAndParseRoundTrip) {
  RtpHeader header;
  header.marker = true;
  header.payload_type = 111;
  header.sequence_number = 65535;
  header.timestamp = 0xdeadbeef;
  header.ssrc = 0x01020304;
  header.audio_level_id = 1;
  header.voice_activity = true;
  header.audio_level = 42;
  auto packet = Build(header, {1, 2, 3});
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(packet, &view), RtpParseResult::kOk);
  EXPECT_TRUE(view.marker);
  EXPECT_EQ(view.payload_type, 111);
  EXPECT_EQ(view.sequence_number, 65535);
  EXPECT_EQ(view.timestamp, 0xdeadbeefu);
  EXPECT_EQ(view.ssrc, 0x01020304u);
  ASSERT_EQ(view.payload.size(), 3u);
  EXPECT_EQ(view.payload[2], 3);
  bool voice = false;
  uint8_t level = 0;
  ASSERT_TRUE(ParseAudioLevel(view.FindExtension(1), &voice, &level));
  EXPECT_TRUE(voice);
  EXPECT_EQ(level, 42);
  EXPECT_TRUE(view.FindExtension(2).empty());
  EXPECT_FALSE(IsRtcp(packet));
}

TEST(RtpPacketTest, EveryMalformationIsReportedNeverRead) {
  RtpPacketView view;
  std::vector<uint8_t> good = Build({}, {9, 9});
  EXPECT_EQ(ParseRtp(std::span<const uint8_t>(good.data(), 11), &view), RtpParseResult::kTooShort);
  auto bad_version = good;
  bad_version[0] = 0x40;
  EXPECT_EQ(ParseRtp(bad_version, &view), RtpParseResult::kBadVersion);
  auto csrcs = good;
  csrcs[0] = 0x8f;  // 15 CSRCs that are not there
  EXPECT_EQ(ParseRtp(csrcs, &view), RtpParseResult::kTooShort);
  auto padding = good;
  padding[0] |= 0x20;
  padding.back() = 200;  // more padding than packet
  EXPECT_EQ(ParseRtp(padding, &view), RtpParseResult::kBadPadding);
  auto zero_padding = good;
  zero_padding[0] |= 0x20;
  zero_padding.back() = 0;
  EXPECT_EQ(ParseRtp(zero_padding, &view), RtpParseResult::kBadPadding);
  auto extension = good;
  extension[0] |= 0x10;
  EXPECT_NE(ParseRtp(extension, &view), RtpParseResult::kOk);
  std::vector<uint8_t> header_only(good.begin(), good.begin() + 12);
  EXPECT_EQ(ParseRtp(header_only, &view), RtpParseResult::kEmptyPayload);
}

TEST(RtpPacketTest, TwoByteExtensionsAreFound) {
  std::vector<uint8_t> packet = {0x90, 111, 0,    1,    0,    0, 0, 1, 0,
                                 0,    0,   2,    0x10, 0x00, 0, 2,     // two-byte profile, 2 words
                                 5,    3,   0xaa, 0xbb, 0xcc, 0, 0, 0,  // id 5, 3 bytes, padding
                                 7};                                    // payload
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(packet, &view), RtpParseResult::kOk);
  auto element = view.FindExtension(5);
  ASSERT_EQ(element.size(), 3u);
  EXPECT_EQ(element[2], 0xcc);
  EXPECT_TRUE(view.FindExtension(6).empty());
}

TEST(RtpPacketTest, RtcpIsTellApartFromRtp) {
  std::vector<uint8_t> sr = {0x80, 200, 0, 6};
  EXPECT_TRUE(IsRtcp(sr));
  std::vector<uint8_t> rtp = {0x80, 0x80 | 96, 0, 1};
  EXPECT_FALSE(IsRtcp(rtp));
}

TEST(RtpPacketTest, LevelsFollowRfc6464) {
  std::vector<int16_t> silence(960, 0);
  EXPECT_EQ(LevelFromSamples(silence), 127);
  std::vector<int16_t> full(960, 32767);
  EXPECT_EQ(LevelFromSamples(full), 0);
  std::vector<int16_t> minus20(960, 3277);
  EXPECT_EQ(LevelFromSamples(minus20), 19);  // 19.99 dB below full scale, truncated
}

TEST(RtcpTest, SenderReportRoundTrip) {
  SenderReport report;
  report.ssrc = 0x11223344;
  report.ntp_timestamp = NtpFromUnixMicros(1'700'000'000'500'000);
  report.rtp_timestamp = 960;
  report.packet_count = 50;
  report.octet_count = 4000;
  report.has_block = true;
  report.block.ssrc = 0x55667788;
  report.block.fraction_lost = 12;
  report.block.cumulative_lost = -3;
  report.block.highest_sequence = 70000;
  report.block.jitter = 33;
  std::vector<uint8_t> out(200);
  const uint8_t cname[] = {'x', 'y'};
  out.resize(BuildSenderReport(report, cname, out));
  ASSERT_GT(out.size(), 52u);
  EXPECT_TRUE(IsRtcp(out));
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(out, &info), RtcpParseResult::kOk);
  EXPECT_TRUE(info.has_sender_report);
  EXPECT_EQ(info.sender_ssrc, 0x11223344u);
  EXPECT_EQ(info.ntp_timestamp, report.ntp_timestamp);
  EXPECT_EQ(info.sender_packet_count, 50u);
  ASSERT_EQ(info.block_count, 1u);
  EXPECT_EQ(info.blocks[0].ssrc, 0x55667788u);
  EXPECT_EQ(info.blocks[0].fraction_lost, 12);
  EXPECT_EQ(info.blocks[0].cumulative_lost, -3);
  EXPECT_EQ(info.blocks[0].highest_sequence, 70000u);
  EXPECT_EQ(info.blocks[0].jitter, 33u);
}

TEST(RtcpTest, MalformedCompoundsAreRejected) {
  RtcpInfo info;
  std::vector<uint8_t> sdes_first = {0x81, 202, 0, 1, 0, 0, 0, 1};
  EXPECT_EQ(ParseRtcp(sdes_first, &info), RtcpParseResult::kBadFirstPacket);
  std::vector<uint8_t> long_length = {0x80, 201, 0, 9, 0, 0, 0, 1};
  EXPECT_EQ(ParseRtcp(long_length, &info), RtcpParseResult::kBadLength);
  std::vector<uint8_t> bad_version = {0x40, 201, 0, 1, 0, 0, 0, 1};
  EXPECT_EQ(ParseRtcp(bad_version, &info), RtcpParseResult::kBadVersion);
  std::vector<uint8_t> short_sr = {0x80, 200, 0, 1, 0, 0, 0, 1};
  EXPECT_EQ(ParseRtcp(short_sr, &info), RtcpParseResult::kBadLength);
  std::vector<uint8_t> tiny = {0x80, 201};
  EXPECT_EQ(ParseRtcp(tiny, &info), RtcpParseResult::kTooShort);
}

TEST(SequenceTest, UnwrapsAcrossWrapAroundAndReordering) {
  SequenceUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Unwrap(65534), 65534);
  EXPECT_EQ(unwrapper.Unwrap(65535), 65535);
  EXPECT_EQ(unwrapper.Unwrap(0), 65536);
  EXPECT_EQ(unwrapper.Unwrap(65535), 65535);  // reordered across the wrap
  EXPECT_EQ(unwrapper.Unwrap(2), 65538);
  TimestampUnwrapper timestamps;
  EXPECT_EQ(timestamps.Unwrap(0xffffff00u), 0xffffff00);
  EXPECT_EQ(timestamps.Unwrap(0x100u), 0x100000100);
}

TEST(ReceiveStatisticsTest, CountsLossAndJitterAsRfc3550Says) {
  ReceiveStatistics stats(8000);
  // 10 packets, 20 ms apart, 160 timestamp units each; packet 5 lost; packet 7 arrives 10 ms late.
  for (int i = 0; i < 10; ++i) {
    if (i == 5) continue;
    int64_t arrival = 1'000'000 + i * 20'000 + (i == 7 ? 10'000 : 0);
    stats.OnPacket(static_cast<uint16_t>(65530 + i), static_cast<uint32_t>(i * 160), arrival);
  }
  EXPECT_EQ(stats.expected(), 10);
  EXPECT_EQ(stats.cumulative_lost(), 1);
  EXPECT_EQ(stats.extended_highest_sequence(), 65536u + 3);
  // Jitter: two deviations of 80 units (10 ms late, then back): 80/16 then 80 + (80-5)/16.
  EXPECT_NEAR(stats.jitter(), 9, 1);
  ReportBlock block = stats.MakeReportBlock(7, 2'000'000);
  EXPECT_EQ(block.fraction_lost, 25);  // 1 of 10 = 25.6/256
  EXPECT_EQ(block.cumulative_lost, 1);
  EXPECT_EQ(stats.MakeReportBlock(7, 3'000'000).fraction_lost, 0);  // nothing new lost
}

}  // namespace
}  // namespace chorus::rtp
