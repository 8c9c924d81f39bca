#include "pipeline/rtp/rtcp.h"

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chorus::rtp {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

using Bytes = std::vector<uint8_t>;

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// Hand-made from the layouts of RFC 3550 section 6.4 and 6.5, RFC 4585 section 6 and RFC 5104
// section 4.3.1.
const Bytes kBlockBytes = {0x00, 0x00, 0x00, 0x02,   // SSRC of the source
                           0x40,                     // fraction lost 64/256
                           0xff, 0xff, 0xfe,         // cumulative lost -2
                           0x00, 0x01, 0x00, 0x05,   // extended highest sequence
                           0x00, 0x00, 0x00, 0x20,   // jitter 32
                           0x12, 0x34, 0x56, 0x78,   // LSR
                           0x00, 0x01, 0x80, 0x00};  // DLSR 1.5 s
const ReportBlock kBlock = {.ssrc = 2,
                            .fraction_lost = 64,
                            .cumulative_lost = -2,
                            .highest_sequence = 0x10005,
                            .jitter = 32,
                            .last_sr = 0x12345678,
                            .delay_since_last_sr = 0x18000};
const Bytes kSr = Concat({{0x81, 200,  0x00, 0x0c, 0x00, 0x00, 0x00, 0x01,  // header, SSRC 1
                           0x83, 0xaa, 0x7e, 0x80, 0x80, 0x00, 0x00, 0x00,  // NTP
                           0x00, 0x00, 0x03, 0xe8,                          // RTP timestamp
                           0x00, 0x00, 0x00, 0x0a,                          // packets
                           0x00, 0x00, 0x01, 0x90},                         // octets
                          kBlockBytes});
const Bytes kRr = Concat({{0x81, 201, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01}, kBlockBytes});
const Bytes kSdes = {0x81, 202,  0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
                     0x01, 0x05, 'c',  'h',  'o',  'r',  'u',  0x00};
const Bytes kNack = {0x81, 205,  0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
                     0x00, 0x00, 0x00, 0x02, 0x00, 0x64, 0x00, 0x05};  // 100 + {101, 103}
const Bytes kPli = {0x81, 206, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02};
const Bytes kFir = {0x84, 206,  0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x07, 0x00, 0x00, 0x00};
const Bytes kBye = {0x81, 203, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01};

TEST(RtcpParseTest, SenderReportWithABlock) {
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(kSr, &info), RtcpParseResult::kOk);
  EXPECT_TRUE(info.has_sender_report);
  EXPECT_EQ(info.sender_ssrc, 1u);
  EXPECT_EQ(info.ntp_timestamp, 0x83aa7e8080000000ull);
  EXPECT_EQ(info.rtp_timestamp, 1000u);
  EXPECT_EQ(info.sender_packet_count, 10u);
  EXPECT_EQ(info.sender_octet_count, 400u);
  ASSERT_EQ(info.block_count, 1u);
  EXPECT_EQ(info.blocks[0], kBlock);
}

TEST(RtcpParseTest, CompoundWithEveryTypeChorusReads) {
  const Bytes packet = Concat({kRr, kSdes, kNack, kPli, kFir, kBye});
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(packet, &info), RtcpParseResult::kOk);
  EXPECT_FALSE(info.has_sender_report);
  EXPECT_EQ(info.sender_ssrc, 1u);
  ASSERT_EQ(info.block_count, 1u);
  EXPECT_EQ(info.blocks[0], kBlock);
  ASSERT_TRUE(info.has_cname);
  EXPECT_EQ(info.cname_ssrc, 1u);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(info.cname.data()), info.cname.size()),
            "choru");
  ASSERT_TRUE(info.has_nack);
  EXPECT_EQ(info.nack_sender_ssrc, 1u);
  EXPECT_EQ(info.nack_media_ssrc, 2u);
  EXPECT_THAT(std::vector<uint16_t>(info.nack_sequences.begin(),
                                    info.nack_sequences.begin() + info.nack_count),
              ElementsAre(100, 101, 103));
  EXPECT_TRUE(info.has_pli);
  EXPECT_EQ(info.pli_media_ssrc, 2u);
  ASSERT_EQ(info.fir_count, 1u);
  EXPECT_EQ(info.fir[0], (FirEntry{.ssrc = 2, .sequence_number = 7}));
  EXPECT_TRUE(info.bye);
  ASSERT_EQ(info.bye_count, 1u);
  EXPECT_EQ(info.bye_ssrcs[0], 1u);
}

TEST(RtcpParseTest, SkipsAppAndUnknownTypesAndPaddingOnTheLastPacket) {
  const Bytes app = {0x80, 204, 0x00, 0x02, 0, 0, 0, 1, 'n', 'a', 'm', 'e'};
  const Bytes xr = {0x80, 207, 0x00, 0x01, 0, 0, 0, 1};
  const Bytes remb = {0x8f, 206, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0};
  // BYE with 4 bytes of padding.
  const Bytes padded_bye = {0xa1, 203, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 4};
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(Concat({kRr, app, xr, remb, padded_bye}), &info), RtcpParseResult::kOk);
  EXPECT_EQ(info.app_count, 1u);
  EXPECT_EQ(info.skipped_count, 2u);
  EXPECT_TRUE(info.bye);
}

TEST(RtcpParseTest, NackExpansionWrapsAndTruncatesAtCapacity) {
  // PID 65535, BLP bit 0 -> 0.
  const Bytes wrap = {0x81, 205, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0x00, 0x01};
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(Concat({kRr, wrap}), &info), RtcpParseResult::kOk);
  EXPECT_THAT(std::vector<uint16_t>(info.nack_sequences.begin(),
                                    info.nack_sequences.begin() + info.nack_count),
              ElementsAre(65535, 0));
  // 5 entries of 17 numbers each = 85 > 64.
  Bytes many = {0x81, 205, 0x00, 0x07, 0, 0, 0, 1, 0, 0, 0, 2};
  for (int i = 0; i < 5; ++i) {
    many.insert(many.end(), {0x00, static_cast<uint8_t>(i * 17), 0xff, 0xff});
  }
  ASSERT_EQ(ParseRtcp(Concat({kRr, many}), &info), RtcpParseResult::kOk);
  EXPECT_EQ(info.nack_count, kMaxRtcpNackSequences);
  EXPECT_TRUE(info.nack_truncated);
  EXPECT_EQ(info.nack_sequences[63], 63);
}

TEST(RtcpParseTest, ReportsEveryAppendixA2Violation) {
  RtcpInfo info;
  EXPECT_EQ(ParseRtcp(Bytes(kRr.begin(), kRr.begin() + 7), &info), RtcpParseResult::kTooShort);
  // Not SR or RR first.
  EXPECT_EQ(ParseRtcp(Concat({kSdes, kRr}), &info), RtcpParseResult::kBadFirstPacket);
  // Reduced-size RTCP (RFC 5506, WebRTC's a=rtcp-rsize): feedback alone is a valid packet.
  EXPECT_EQ(ParseRtcp(kPli, &info), RtcpParseResult::kOk);
  EXPECT_TRUE(info.has_pli);
  // A later packet of version 1.
  Bytes bad_version = kBye;
  bad_version[0] = 0x41;
  EXPECT_EQ(ParseRtcp(Concat({kRr, bad_version}), &info), RtcpParseResult::kBadVersion);
  // Length past the end, and bytes left over.
  Bytes long_rr = kRr;
  long_rr[3] = 0x08;
  EXPECT_EQ(ParseRtcp(long_rr, &info), RtcpParseResult::kBadLength);
  EXPECT_EQ(ParseRtcp(Concat({kRr, {0x81, 203}}), &info), RtcpParseResult::kBadLength);
  // RC says 2 blocks, length holds 1.
  Bytes two_blocks = kRr;
  two_blocks[0] = 0x82;
  EXPECT_EQ(ParseRtcp(two_blocks, &info), RtcpParseResult::kBadLength);
  // SR too short for its sender info.
  EXPECT_EQ(ParseRtcp(Bytes{0x80, 200, 0x00, 0x01, 0, 0, 0, 1}, &info),
            RtcpParseResult::kBadLength);
  // Padding on the first packet, on a middle packet, and a zero padding count.
  Bytes padded_rr = kRr;
  padded_rr[0] |= 0x20;
  EXPECT_EQ(ParseRtcp(Concat({padded_rr, kBye}), &info), RtcpParseResult::kBadPadding);
  Bytes padded_sdes = kSdes;
  padded_sdes[0] |= 0x20;
  EXPECT_EQ(ParseRtcp(Concat({kRr, padded_sdes, kBye}), &info), RtcpParseResult::kBadPadding);
  const Bytes zero_pad_bye = {0xa1, 203, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0};
  EXPECT_EQ(ParseRtcp(Concat({kRr, zero_pad_bye}), &info), RtcpParseResult::kBadPadding);
  // SDES: item length past the packet, and a chunk without its null item.
  Bytes bad_item = kSdes;
  bad_item[9] = 0x20;
  EXPECT_EQ(ParseRtcp(Concat({kRr, bad_item}), &info), RtcpParseResult::kBadSdes);
  const Bytes unterminated = {0x81, 202, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x02, 'a', 'b'};
  EXPECT_EQ(ParseRtcp(Concat({kRr, unterminated}), &info), RtcpParseResult::kBadSdes);
  // Feedback shorter than its two SSRCs; BYE count past its length.
  EXPECT_EQ(ParseRtcp(Concat({kRr, {0x81, 206, 0x00, 0x01, 0, 0, 0, 1}}), &info),
            RtcpParseResult::kBadLength);
  EXPECT_EQ(ParseRtcp(Concat({kRr, {0x83, 203, 0x00, 0x01, 0, 0, 0, 1}}), &info),
            RtcpParseResult::kBadLength);
  EXPECT_STREQ(RtcpParseResultName(RtcpParseResult::kBadSdes), "bad_sdes");
}

TEST(RtcpBuildTest, BuildersWriteTheKnownBytes) {
  std::array<uint8_t, 256> out{};
  const SenderInfo info{.ntp_timestamp = 0x83aa7e8080000000ull,
                        .rtp_timestamp = 1000,
                        .packet_count = 10,
                        .octet_count = 400};
  size_t n = BuildSr(1, info, std::span(&kBlock, 1), out);
  EXPECT_THAT(Bytes(out.begin(), out.begin() + n), ElementsAreArray(kSr));
  n = BuildRr(1, std::span(&kBlock, 1), out);
  EXPECT_THAT(Bytes(out.begin(), out.begin() + n), ElementsAreArray(kRr));
  const std::string_view cname = "choru";
  n = BuildSdesCname(1, std::span(reinterpret_cast<const uint8_t*>(cname.data()), cname.size()),
                     out);
  EXPECT_THAT(Bytes(out.begin(), out.begin() + n), ElementsAreArray(kSdes));
  const std::array<uint16_t, 3> lost = {100, 101, 103};
  n = BuildNack(1, 2, lost, out);
  EXPECT_THAT(Bytes(out.begin(), out.begin() + n), ElementsAreArray(kNack));
  n = BuildPli(1, 2, out);
  EXPECT_THAT(Bytes(out.begin(), out.begin() + n), ElementsAreArray(kPli));
  const std::array<FirEntry, 1> fir = {FirEntry{.ssrc = 2, .sequence_number = 7}};
  n = BuildFir(1, fir, out);
  EXPECT_THAT(Bytes(out.begin(), out.begin() + n), ElementsAreArray(kFir));
  const std::array<uint32_t, 1> bye = {1};
  n = BuildBye(bye, out);
  EXPECT_THAT(Bytes(out.begin(), out.begin() + n), ElementsAreArray(kBye));
}

TEST(RtcpBuildTest, NackPacksAcrossTheWrapAndRoundTrips) {
  const std::array<uint16_t, 6> lost = {65534, 65535, 0, 0, 5, 40};
  std::array<uint8_t, 64> out{};
  const size_t nack = BuildNack(9, 10, lost, out);
  ASSERT_EQ(nack, 20u);
  EXPECT_THAT(Bytes(out.begin() + 12, out.begin() + 20),
              ElementsAre(0xff, 0xfe, 0x00, 0x43, 0x00, 0x28, 0x00, 0x00));
  // As a compound behind an RR.
  std::array<uint8_t, 128> compound{};
  size_t n = BuildRr(9, {}, compound);
  ASSERT_GT(n, 0u);
  std::copy(out.begin(), out.begin() + nack, compound.begin() + n);
  n += nack;
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(std::span(compound).first(n), &info), RtcpParseResult::kOk);
  EXPECT_THAT(std::vector<uint16_t>(info.nack_sequences.begin(),
                                    info.nack_sequences.begin() + info.nack_count),
              ElementsAre(65534, 65535, 0, 5, 40));
}

TEST(RtcpBuildTest, ComposesACompoundAndRefusesWhatDoesNotFit) {
  std::array<uint8_t, 256> out{};
  const std::string_view cname = "chorus@node";
  const std::span<const uint8_t> cname_bytes(reinterpret_cast<const uint8_t*>(cname.data()),
                                             cname.size());
  size_t n = BuildRr(5, std::span(&kBlock, 1), out);
  n += BuildSdesCname(5, cname_bytes, std::span(out).subspan(n));
  n += BuildPli(5, 2, std::span(out).subspan(n));
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(std::span(out).first(n), &info), RtcpParseResult::kOk);
  EXPECT_EQ(info.block_count, 1u);
  EXPECT_EQ(info.cname.size(), cname.size());
  EXPECT_TRUE(info.has_pli);

  EXPECT_EQ(BuildRr(5, std::span(&kBlock, 1), std::span(out).first(31)), 0u);
  EXPECT_EQ(BuildSdesCname(5, {}, out), 0u);
  EXPECT_EQ(BuildBye({}, out), 0u);
  EXPECT_EQ(BuildNack(1, 2, {}, out), 0u);
  EXPECT_EQ(BuildFir(1, {}, out), 0u);
  EXPECT_EQ(BuildPli(1, 2, std::span(out).first(11)), 0u);

  SenderReport report;
  report.ssrc = 5;
  report.has_block = true;
  report.block = kBlock;
  n = BuildSenderReport(report, cname_bytes, out);
  ASSERT_EQ(ParseRtcp(std::span(out).first(n), &info), RtcpParseResult::kOk);
  EXPECT_TRUE(info.has_sender_report);
  EXPECT_EQ(info.blocks[0], kBlock);
  EXPECT_TRUE(info.has_cname);
}

TEST(RtcpBuildTest, CumulativeLostIsClampedTo24Bits) {
  ReportBlock block = kBlock;
  block.cumulative_lost = 1 << 30;
  std::array<uint8_t, 64> out{};
  const size_t n = BuildRr(1, std::span(&block, 1), out);
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(std::span(out).first(n), &info), RtcpParseResult::kOk);
  EXPECT_EQ(info.blocks[0].cumulative_lost, 0x7fffff);
}

TEST(NtpTest, ConvertsTimesAndRoundTrips) {
  EXPECT_EQ(NtpFromUnixMicros(0), 2208988800ull << 32);
  EXPECT_EQ(NtpFromUnixMicros(1'500'000), (2208988801ull << 32) | 0x80000000ull);
  EXPECT_EQ(CompactNtp(0x83aa7e8080000000ull), 0x7e808000u);
  EXPECT_EQ(CompactNtpFromMicros(1'500'000), 0x18000u);
  EXPECT_EQ(CompactNtpFromMicros(-5), 0u);
  EXPECT_EQ(MicrosFromCompactNtp(0x18000), 1'500'000);
  // Report arrives at 5.5 s, our SR was sent at 1 s, the peer held it 2 s: 2.5 s round trip.
  EXPECT_EQ(RoundTripMicros(0x58000, 0x10000, 0x20000), 2'500'000);
  EXPECT_EQ(RoundTripMicros(0x58000, 0, 0x20000), -1);
  EXPECT_EQ(RoundTripMicros(0x10000, 0x10000, 0x20000), 0);  // skewed: not negative
}

}  // namespace
TEST(RtcpBuildTest, RembCarriesTheBitrateAsMantissaAndExponent) {
  std::array<uint8_t, 64> out{};
  const uint32_t media[] = {0x11223344};
  const size_t size = BuildRemb(0xabcdef01, 800'000, media, out);
  ASSERT_EQ(size, 24u);
  EXPECT_EQ(out[0], 0x80 | 15);  // V=2, FMT=15
  EXPECT_EQ(out[1], 206);        // payload-specific feedback
  EXPECT_EQ(out[3], 5);          // length in words minus one
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&out[12]), 4), "REMB");
  EXPECT_EQ(out[16], 1);
  const uint32_t exponent = out[17] >> 2;
  const uint32_t mantissa = ((out[17] & 0x3u) << 16) | (out[18] << 8) | out[19];
  EXPECT_EQ(uint64_t{mantissa} << exponent, 800'000u & ~((1u << exponent) - 1));
  EXPECT_EQ(out[20], 0x11);
  EXPECT_EQ(out[23], 0x44);
  // Chorus's own parser reads it back (what a viewer's browser estimates it can receive).
  RtcpInfo info;
  EXPECT_EQ(ParseRtcp(std::span<const uint8_t>(out.data(), size), &info), RtcpParseResult::kOk);
  EXPECT_TRUE(info.has_remb);
  EXPECT_EQ(info.remb_sender_ssrc, 0xabcdef01u);
  EXPECT_EQ(info.remb_bitrate_bps, uint64_t{mantissa} << exponent);
  EXPECT_EQ(BuildRemb(1, 1, {}, out), 0u);
}

// REMB after a receiver report, as browsers send it; a huge exponent saturates; an application
// layer feedback that is not REMB, or whose SSRC list runs past the packet, is skipped.
TEST(RtcpParseTest, RembIsReadAfterAReport) {
  std::array<uint8_t, 128> out{};
  const uint32_t media[] = {1, 2};
  size_t size = BuildRr(7, {}, out);
  size += BuildRemb(7, 2'500'000, media, std::span<uint8_t>(out).subspan(size));
  RtcpInfo info;
  ASSERT_EQ(ParseRtcp(std::span<const uint8_t>(out.data(), size), &info), RtcpParseResult::kOk);
  EXPECT_TRUE(info.has_remb);
  EXPECT_LE(info.remb_bitrate_bps, 2'500'000u);
  EXPECT_GT(info.remb_bitrate_bps, 2'490'000u);
  std::array<uint8_t, 128> huge = out;
  huge[8 + 17] = 0xff;  // exponent 63, mantissa high bits set
  ASSERT_EQ(ParseRtcp(std::span<const uint8_t>(huge.data(), size), &info), RtcpParseResult::kOk);
  EXPECT_EQ(info.remb_bitrate_bps, UINT64_MAX);
  std::array<uint8_t, 128> other = out;
  other[8 + 12] = 'X';  // another application's identifier
  ASSERT_EQ(ParseRtcp(std::span<const uint8_t>(other.data(), size), &info), RtcpParseResult::kOk);
  EXPECT_FALSE(info.has_remb);
  EXPECT_EQ(info.skipped_count, 1u);
  std::array<uint8_t, 128> long_list = out;
  long_list[8 + 16] = 9;  // nine SSRCs announced, two present
  ASSERT_EQ(ParseRtcp(std::span<const uint8_t>(long_list.data(), size), &info),
            RtcpParseResult::kOk);
  EXPECT_FALSE(info.has_remb);
}

}  // namespace chorus::rtp
