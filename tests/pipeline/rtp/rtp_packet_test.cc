#include "pipeline/rtp/rtp_packet.h"

#include <array>
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/rtp/telephone_event.h"

namespace chorus::rtp {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::vector<uint8_t> Bytes(std::span<const uint8_t> span) { return {span.begin(), span.end()}; }

// Version 2, PT 96, sequence 0x1234, timestamp 1000, SSRC 0xdeadbeef, payload 01 02 03.
const std::vector<uint8_t> kPlain = {0x80, 0x60, 0x12, 0x34, 0x00, 0x00, 0x03, 0xe8,
                                     0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03};

TEST(RtpParseTest, ReadsTheFixedHeader) {
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(kPlain, &view), RtpParseResult::kOk);
  EXPECT_FALSE(view.marker);
  EXPECT_EQ(view.payload_type, 96);
  EXPECT_EQ(view.sequence_number, 0x1234);
  EXPECT_EQ(view.timestamp, 1000u);
  EXPECT_EQ(view.ssrc, 0xdeadbeefu);
  EXPECT_EQ(view.csrc_count, 0);
  EXPECT_FALSE(view.has_extension);
  EXPECT_EQ(view.padding_size, 0);
  EXPECT_THAT(Bytes(view.payload), ElementsAre(1, 2, 3));
}

TEST(RtpParseTest, ReadsMarkerCsrcsAndPadding) {
  // M=1, CC=2, P=1 with 3 bytes of padding.
  const std::vector<uint8_t> packet = {0xa2, 0xe0, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00,
                                       0x00, 0x00, 0x03, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22,
                                       0x22, 0x22, 0xaa, 0xbb, 0x00, 0x00, 0x03};
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(packet, &view), RtpParseResult::kOk);
  EXPECT_TRUE(view.marker);
  EXPECT_EQ(view.payload_type, 96);
  ASSERT_EQ(view.csrc_count, 2);
  EXPECT_EQ(view.csrc(0), 0x11111111u);
  EXPECT_EQ(view.csrc(1), 0x22222222u);
  EXPECT_EQ(view.csrc(2), 0u);  // out of range
  EXPECT_EQ(view.padding_size, 3);
  EXPECT_THAT(Bytes(view.payload), ElementsAre(0xaa, 0xbb));
}

TEST(RtpParseTest, ReportsEveryMalformation) {
  RtpPacketView view;
  std::vector<uint8_t> p = kPlain;
  EXPECT_EQ(ParseRtp(std::span(p).first(11), &view), RtpParseResult::kTooShort);
  EXPECT_EQ(ParseRtp({}, &view), RtpParseResult::kTooShort);

  p = kPlain;
  p[0] = 0x40;  // version 1
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kBadVersion);

  p = kPlain;
  p[0] |= 0x20;
  p.back() = 0;  // padding count 0
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kBadPadding);
  p.back() = 4;  // more than the 3 bytes after the header
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kBadPadding);
  p.back() = 3;  // eats the whole payload
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kEmptyPayload);

  p = kPlain;
  p[0] |= 0x0f;  // 15 CSRCs in 3 bytes
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kBadCsrcCount);

  p = kPlain;
  p[0] |= 0x10;  // extension bit, but only 3 bytes follow the header
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kBadExtension);

  // Extension of 2 words announced, 1 present.
  p = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0x00, 0x02, 0x10, 0xaa, 0, 0, 7};
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kBadExtension);
  // A one-byte element (id 1, 4 bytes) running past its block.
  p = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0x00, 0x01, 0x13, 0xaa, 0, 0, 7};
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kBadExtension);
  // A two-byte element announcing 9 bytes in a 4-byte block.
  p = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00, 0x00, 0x01, 0x01, 0x09, 0, 0, 7};
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kBadExtension);

  p = std::vector<uint8_t>(kPlain.begin(), kPlain.begin() + 12);
  EXPECT_EQ(ParseRtp(p, &view), RtpParseResult::kEmptyPayload);
  EXPECT_STREQ(RtpParseResultName(RtpParseResult::kBadCsrcCount), "bad_csrc_count");
}

TEST(RtpParseTest, FailedParseLeavesTheViewUntouched) {
  RtpPacketView view;
  view.sequence_number = 77;
  EXPECT_EQ(ParseRtp(std::span(kPlain).first(5), &view), RtpParseResult::kTooShort);
  EXPECT_EQ(view.sequence_number, 77);
}

TEST(RtpExtensionTest, OneByteFormElementsPaddingAndReservedId) {
  // id 1 (1 byte: aa), padding byte, id 3 (2 bytes: bb cc), id 15 stops the walk, then junk.
  const std::vector<uint8_t> packet = {0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,
                                       0,    0,    1,    0xbe, 0xde, 0x00, 0x02, 0x10, 0xaa,
                                       0x00, 0x31, 0xbb, 0xcc, 0xf0, 0x55, 0x42};
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(packet, &view), RtpParseResult::kOk);
  EXPECT_EQ(view.extension_profile, kOneByteExtensionProfile);
  EXPECT_THAT(Bytes(view.FindExtension(1)), ElementsAre(0xaa));
  EXPECT_THAT(Bytes(view.FindExtension(3)), ElementsAre(0xbb, 0xcc));
  EXPECT_TRUE(view.FindExtension(2).empty());
  EXPECT_TRUE(view.FindExtension(5).empty());  // after id 15: not read
  RtpExtensionIterator it = view.Extensions();
  RtpExtension e;
  std::vector<uint8_t> ids;
  while (it.Next(&e)) ids.push_back(e.id);
  EXPECT_THAT(ids, ElementsAre(1, 3));
  EXPECT_THAT(Bytes(view.payload), ElementsAre(0x42));
}

TEST(RtpExtensionTest, TwoByteFormWithEmptyAndLongElements) {
  // Profile 0x1000: id 1 empty, id 200 with 3 bytes, padding.
  const std::vector<uint8_t> packet = {0x90, 0x60, 0, 1,    0,    0,    0,    1,    0,
                                       0,    0,    1, 0x10, 0x00, 0x00, 0x02, 0x01, 0x00,
                                       0xc8, 0x03, 1, 2,    3,    0x00, 0x99};
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(packet, &view), RtpParseResult::kOk);
  EXPECT_TRUE(IsTwoByteProfile(view.extension_profile));
  RtpExtensionIterator it = view.Extensions();
  RtpExtension e;
  ASSERT_TRUE(it.Next(&e));
  EXPECT_EQ(e.id, 1);
  EXPECT_TRUE(e.data.empty());
  ASSERT_TRUE(it.Next(&e));
  EXPECT_EQ(e.id, 200);
  EXPECT_THAT(Bytes(e.data), ElementsAre(1, 2, 3));
  EXPECT_FALSE(it.Next(&e));
  EXPECT_THAT(Bytes(view.FindExtension(200)), ElementsAre(1, 2, 3));
}

TEST(RtpExtensionTest, UnknownProfileIsKeptButNotWalked) {
  const std::vector<uint8_t> packet = {0x90, 0x60, 0,    1,    0,    0,    0,    1, 0, 0,   0,
                                       1,    0x12, 0x34, 0x00, 0x01, 0x10, 0xaa, 0, 0, 0x42};
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(packet, &view), RtpParseResult::kOk);
  EXPECT_EQ(view.extension_profile, 0x1234);
  EXPECT_EQ(view.extension_data.size(), 4u);
  EXPECT_TRUE(view.FindExtension(1).empty());
}

TEST(RtpBuildTest, BuildsTheKnownPlainPacket) {
  RtpPacketBuilder builder;
  builder.set_payload_type(96);
  builder.set_sequence_number(0x1234);
  builder.set_timestamp(1000);
  builder.set_ssrc(0xdeadbeef);
  const std::array<uint8_t, 3> payload = {1, 2, 3};
  std::array<uint8_t, 64> out{};
  const size_t size = builder.Build(payload, out);
  EXPECT_THAT(Bytes(std::span(out).first(size)), ElementsAreArray(kPlain));
  EXPECT_EQ(builder.Build(payload, std::span(out).first(14)), 0u);  // does not fit
}

TEST(RtpBuildTest, RoundTripsCsrcsOneByteExtensionsAndPadding) {
  RtpPacketBuilder builder;
  builder.set_marker(true);
  builder.set_payload_type(111);
  builder.set_sequence_number(65535);
  builder.set_timestamp(0xfffffff0);
  builder.set_ssrc(42);
  builder.set_padding_size(4);
  EXPECT_TRUE(builder.AddCsrc(7));
  EXPECT_TRUE(builder.AddCsrc(8));
  const std::array<uint8_t, 1> level = {0x85};
  const std::array<uint8_t, 16> sixteen = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  EXPECT_TRUE(builder.AddExtension(1, level));
  EXPECT_TRUE(builder.AddExtension(14, sixteen));
  const std::array<uint8_t, 5> payload = {9, 8, 7, 6, 5};
  std::array<uint8_t, 128> out{};
  const size_t size = builder.Build(payload, out);
  ASSERT_EQ(size, builder.Size(payload.size()));
  // 12 + 8 CSRC + 4 ext header + 20 (2 + 17 elements, padded) + 5 payload + 4 padding.
  EXPECT_EQ(size, 53u);
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(std::span(out).first(size), &view), RtpParseResult::kOk);
  EXPECT_TRUE(view.marker);
  EXPECT_EQ(view.payload_type, 111);
  EXPECT_EQ(view.sequence_number, 65535);
  EXPECT_EQ(view.timestamp, 0xfffffff0u);
  EXPECT_EQ(view.ssrc, 42u);
  EXPECT_EQ(view.csrc(0), 7u);
  EXPECT_EQ(view.csrc(1), 8u);
  EXPECT_EQ(view.extension_profile, kOneByteExtensionProfile);
  EXPECT_THAT(Bytes(view.FindExtension(1)), ElementsAre(0x85));
  EXPECT_THAT(Bytes(view.FindExtension(14)), ElementsAreArray(sixteen));
  EXPECT_EQ(view.padding_size, 4);
  EXPECT_THAT(Bytes(view.payload), ElementsAreArray(payload));
}

TEST(RtpBuildTest, UsesTheTwoByteFormWhenAnElementNeedsIt) {
  const std::array<uint8_t, 1> one = {0xaa};
  const std::array<uint8_t, 17> seventeen{};
  const std::array<uint8_t, 2> payload = {1, 2};
  std::array<uint8_t, 128> out{};
  RtpPacketView view;
  RtpExtension e;
  {
    RtpPacketBuilder builder;  // id 15 cannot be written in the one-byte form
    ASSERT_TRUE(builder.AddExtension(1, one));
    ASSERT_TRUE(builder.AddExtension(15, one));
    const size_t size = builder.Build(payload, out);
    ASSERT_EQ(ParseRtp(std::span(out).first(size), &view), RtpParseResult::kOk);
    EXPECT_EQ(view.extension_profile, kTwoByteExtensionProfile);
    EXPECT_THAT(Bytes(view.FindExtension(15)), ElementsAre(0xaa));
  }
  {
    RtpPacketBuilder builder;  // 17 bytes of data
    ASSERT_TRUE(builder.AddExtension(2, seventeen));
    const size_t size = builder.Build(payload, out);
    ASSERT_EQ(ParseRtp(std::span(out).first(size), &view), RtpParseResult::kOk);
    EXPECT_EQ(view.extension_profile, kTwoByteExtensionProfile);
    EXPECT_EQ(view.FindExtension(2).size(), 17u);
  }
  {
    RtpPacketBuilder builder;  // an empty element
    ASSERT_TRUE(builder.AddExtension(3, {}));
    ASSERT_TRUE(builder.AddExtension(4, one));
    const size_t size = builder.Build(payload, out);
    ASSERT_EQ(ParseRtp(std::span(out).first(size), &view), RtpParseResult::kOk);
    EXPECT_EQ(view.extension_profile, kTwoByteExtensionProfile);
    RtpExtensionIterator it = view.Extensions();
    ASSERT_TRUE(it.Next(&e));
    EXPECT_EQ(e.id, 3);
    EXPECT_TRUE(e.data.empty());
    ASSERT_TRUE(it.Next(&e));
    EXPECT_EQ(e.id, 4);
  }
}

TEST(RtpBuildTest, RefusesWhatCannotBeEncoded) {
  RtpPacketBuilder builder;
  for (uint32_t i = 0; i < 15; ++i) EXPECT_TRUE(builder.AddCsrc(i));
  EXPECT_FALSE(builder.AddCsrc(15));
  const std::array<uint8_t, 256> big{};
  EXPECT_FALSE(builder.AddExtension(0, std::span(big).first(1)));
  EXPECT_FALSE(builder.AddExtension(1, big));
  for (int i = 1; i <= 16; ++i) EXPECT_TRUE(builder.AddExtension(static_cast<uint8_t>(i), {}));
  EXPECT_FALSE(builder.AddExtension(17, {}));
}

TEST(RtpBuildTest, LegacyHeaderWritesTheAudioLevelExtension) {
  RtpHeader header;
  header.payload_type = 111;
  header.sequence_number = 1;
  header.timestamp = 960;
  header.ssrc = 5;
  header.audio_level_id = 3;
  header.voice_activity = true;
  header.audio_level = 30;
  const std::array<uint8_t, 1> payload = {0xfc};
  std::array<uint8_t, 64> out{};
  const size_t size = BuildRtp(header, payload, out);
  EXPECT_THAT(Bytes(std::span(out).first(size)),
              ElementsAre(0x90, 111, 0, 1, 0, 0, 0x03, 0xc0, 0, 0, 0, 5, 0xbe, 0xde, 0, 1, 0x30,
                          0x80 | 30, 0, 0, 0xfc));
  RtpPacketView view;
  ASSERT_EQ(ParseRtp(std::span(out).first(size), &view), RtpParseResult::kOk);
  EXPECT_EQ(ParseAudioLevel(view.FindExtension(3)),
            (AudioLevel{.voice_activity = true, .level = 30}));
}

TEST(RtpDemuxTest, TellsRtcpFromRtpByTheSecondByte) {
  std::vector<uint8_t> p = {0x80, 200, 0, 6, 0, 0, 0, 1};
  EXPECT_TRUE(IsRtcp(p));  // SR
  p[1] = 223;
  EXPECT_TRUE(IsRtcp(p));
  p[1] = 191;
  EXPECT_FALSE(IsRtcp(p));
  p[1] = 224;  // marker + PT 96: RTP
  EXPECT_FALSE(IsRtcp(p));
  p[1] = 206;
  EXPECT_FALSE(IsRtcp(std::span(p).first(7)));
  p[0] = 0x00;  // not version 2 (e.g. STUN)
  EXPECT_FALSE(IsRtcp(p));
  EXPECT_TRUE(LooksLikeRtp(kPlain));
  std::vector<uint8_t> rtcp_like = kPlain;
  rtcp_like[1] = 201;
  EXPECT_FALSE(LooksLikeRtp(rtcp_like));
  EXPECT_FALSE(LooksLikeRtp(std::span(kPlain).first(11)));
}

// RFC 4733 section 2.3: event, E bit, reserved bit, volume, duration. The key of '#' held for
// 800 units, its end; and a key press of '5' still going on. Shorter payloads are none.
TEST(TelephoneEventTest, ParsesTheEventEndVolumeAndDuration) {
  const uint8_t hash_end[] = {11, 0x80 | 0x40 | 10, 0x03, 0x20};
  auto event = ParseTelephoneEvent(hash_end);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->event, 11);
  EXPECT_TRUE(event->end);
  EXPECT_EQ(event->volume, 10);
  EXPECT_EQ(event->duration, 800);
  EXPECT_EQ(KeypadDigit(event->event), '#');
  const uint8_t five[] = {5, 7, 0x00, 0xa0, 0xff};  // a trailing byte is ignored
  event = ParseTelephoneEvent(five);
  ASSERT_TRUE(event.has_value());
  EXPECT_FALSE(event->end);
  EXPECT_EQ(KeypadDigit(event->event), '5');
  EXPECT_EQ(KeypadDigit(10), '*');
  EXPECT_EQ(KeypadDigit(12), 0);  // 'A': not a key a PIN has
  EXPECT_EQ(KeypadDigit(16), 0);  // flash
  EXPECT_FALSE(ParseTelephoneEvent(std::span(hash_end).first(3)).has_value());
}

}  // namespace
}  // namespace chorus::rtp
