#include <array>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"

namespace chorus::srtp {
namespace {

struct Packet {
  std::array<uint8_t, 1500> buffer{};
  size_t length = 0;
  std::span<uint8_t> span() { return buffer; }
};

Packet Rtp(uint16_t sequence) {
  Packet packet;
  rtp::RtpHeader header;
  header.payload_type = 111;
  header.sequence_number = sequence;
  header.ssrc = 42;
  std::vector<uint8_t> payload(160, 0x55);
  packet.length = rtp::BuildRtp(header, payload, std::span<uint8_t>(packet.buffer.data(), 1400));
  return packet;
}

Packet Rtcp() {
  Packet packet;
  rtp::SenderReport report;
  report.ssrc = 42;
  const uint8_t cname[] = {'a'};
  packet.length =
      rtp::BuildSenderReport(report, cname, std::span<uint8_t>(packet.buffer.data(), 1400));
  return packet;
}

class SrtpSuiteTest : public ::testing::TestWithParam<SrtpSuite> {};

TEST_P(SrtpSuiteTest, RtpAndRtcpRoundTrip) {
  SrtpKeyMaterial key = SrtpKeyMaterial::Generate(GetParam());
  auto sender = *SrtpSession::Create(key, Direction::kOutbound);
  auto receiver = *SrtpSession::Create(key, Direction::kInbound);
  for (uint16_t sequence = 0; sequence < 5; ++sequence) {
    Packet packet = Rtp(sequence);
    const Packet clear = packet;
    size_t length = 0;
    ASSERT_EQ(sender->ProtectRtp(packet.span(), packet.length, &length), SrtpResult::kOk);
    EXPECT_EQ(length, packet.length + RtpOverhead(GetParam()));
    size_t out = 0;
    ASSERT_EQ(receiver->UnprotectRtp(packet.span(), length, &out), SrtpResult::kOk);
    ASSERT_EQ(out, clear.length);
    EXPECT_EQ(0, std::memcmp(packet.buffer.data(), clear.buffer.data(), out));
  }
  Packet report = Rtcp();
  size_t length = 0;
  ASSERT_EQ(sender->ProtectRtcp(report.span(), report.length, &length), SrtpResult::kOk);
  size_t out = 0;
  ASSERT_EQ(receiver->UnprotectRtcp(report.span(), length, &out), SrtpResult::kOk);
  EXPECT_EQ(out, report.length);
}

TEST_P(SrtpSuiteTest, WrongKeysForgeriesReplaysAndTruncationsAreRefused) {
  SrtpKeyMaterial key = SrtpKeyMaterial::Generate(GetParam());
  auto sender = *SrtpSession::Create(key, Direction::kOutbound);
  auto receiver = *SrtpSession::Create(key, Direction::kInbound);
  auto stranger = *SrtpSession::Create(SrtpKeyMaterial::Generate(GetParam()), Direction::kInbound);
  Packet packet = Rtp(7);
  size_t length = 0;
  ASSERT_EQ(sender->ProtectRtp(packet.span(), packet.length, &length), SrtpResult::kOk);
  Packet copy = packet;
  size_t out = 0;
  EXPECT_EQ(stranger->UnprotectRtp(copy.span(), length, &out), SrtpResult::kAuthFailed);
  Packet flipped = packet;
  flipped.buffer[20] ^= 1;
  EXPECT_EQ(receiver->UnprotectRtp(flipped.span(), length, &out), SrtpResult::kAuthFailed);
  Packet good = packet;
  ASSERT_EQ(receiver->UnprotectRtp(good.span(), length, &out), SrtpResult::kOk);
  Packet replay = packet;
  EXPECT_EQ(receiver->UnprotectRtp(replay.span(), length, &out), SrtpResult::kReplayed);
  Packet truncated = Rtp(8);
  EXPECT_NE(receiver->UnprotectRtp(truncated.span(), 8, &out), SrtpResult::kOk);
  Packet tight = Rtp(9);
  EXPECT_EQ(
      sender->ProtectRtp(std::span<uint8_t>(tight.buffer.data(), tight.length), tight.length, &out),
      SrtpResult::kNoSpace);
}

INSTANTIATE_TEST_SUITE_P(AllSuites, SrtpSuiteTest,
                         ::testing::Values(SrtpSuite::kAesCm128HmacSha1_80,
                                           SrtpSuite::kAesCm128HmacSha1_32,
                                           SrtpSuite::kAeadAes128Gcm));

TEST(SrtpSessionTest, OneInboundSessionTakesAnySsrc) {
  SrtpKeyMaterial key = SrtpKeyMaterial::Generate(SrtpSuite::kAesCm128HmacSha1_80);
  auto sender = *SrtpSession::Create(key, Direction::kOutbound);
  auto receiver = *SrtpSession::Create(key, Direction::kInbound);
  for (uint32_t ssrc : {1u, 2u}) {
    Packet packet;
    rtp::RtpHeader header;
    header.ssrc = ssrc;
    std::vector<uint8_t> payload(20, 1);
    packet.length = rtp::BuildRtp(header, payload, std::span<uint8_t>(packet.buffer.data(), 1400));
    size_t length = 0, out = 0;
    ASSERT_EQ(sender->ProtectRtp(packet.span(), packet.length, &length), SrtpResult::kOk);
    EXPECT_EQ(receiver->UnprotectRtp(packet.span(), length, &out), SrtpResult::kOk);
  }
}

TEST(SrtpKeyTest, TextFormsAndErrors) {
  SrtpKeyMaterial key = SrtpKeyMaterial::Generate(SrtpSuite::kAesCm128HmacSha1_80);
  std::string text = key.ToBase64();
  EXPECT_EQ(text.size(), 40u);
  auto parsed = SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(std::equal(parsed->bytes().begin(), parsed->bytes().end(), key.bytes().begin()));
  EXPECT_TRUE(SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, "inline:" + text).ok());
  EXPECT_TRUE(SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, text + "|2^31").ok());
  EXPECT_FALSE(
      SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, text + "|2^20|1:4").ok());
  EXPECT_FALSE(SrtpKeyMaterial::FromBase64(SrtpSuite::kAeadAes128Gcm, text).ok());  // 30 != 28
  EXPECT_FALSE(SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, "%%%").ok());
  EXPECT_FALSE(SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, "").ok());
  EXPECT_FALSE(
      SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, std::string(5000, 'A')).ok());
  EXPECT_EQ(SuiteFromName("AEAD_AES_128_GCM"), SrtpSuite::kAeadAes128Gcm);
  EXPECT_FALSE(SuiteFromName("NULL").has_value());
}

}  // namespace
}  // namespace chorus::srtp
