#include "pipeline/srtp/srtp_session.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/srtp/srtp_crypto.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_suite.h"
#include "tests/pipeline/srtp/srtp_test_util.h"

namespace chorus::srtp {
namespace {

using testing::WriteRtcpReceiverReport;
using testing::WriteRtp;

constexpr uint32_t kSsrc = 0x11223344;

struct Packet {
  std::array<uint8_t, 1500> buffer{};
  size_t length = 0;
};

Packet Rtp(uint16_t sequence, uint32_t ssrc = kSsrc, size_t payload_bytes = 160) {
  Packet packet;
  packet.length = WriteRtp(packet.buffer, 0, sequence, sequence * 160u, ssrc, payload_bytes,
                           static_cast<uint8_t>(sequence));
  return packet;
}

Packet Rtcp(uint32_t ssrc = kSsrc) {
  Packet packet;
  packet.length = WriteRtcpReceiverReport(packet.buffer, ssrc);
  return packet;
}

class SrtpSessionSuiteTest : public ::testing::TestWithParam<SrtpSuite> {
 protected:
  void SetUp() override {
    sender_ = *SrtpSession::Create(key_, Direction::kOutbound);
    receiver_ = *SrtpSession::Create(key_, Direction::kInbound);
  }

  // Protects `packet` in place with the sender; fails the test otherwise.
  void Protect(Packet& packet) {
    size_t length = 0;
    ASSERT_EQ(sender_->ProtectRtp(packet.buffer, packet.length, &length), SrtpResult::kOk);
    ASSERT_EQ(length, packet.length + RtpOverhead(GetParam()));
    packet.length = length;
  }

  SrtpResult Unprotect(Packet packet) {
    size_t length = 0;
    return receiver_->UnprotectRtp(packet.buffer, packet.length, &length);
  }

  SrtpKeyMaterial key_ = SrtpKeyMaterial::Generate(GetParam());
  std::unique_ptr<SrtpSession> sender_;
  std::unique_ptr<SrtpSession> receiver_;
};

TEST_P(SrtpSessionSuiteTest, RtpRoundTripRestoresEveryPacket) {
  EXPECT_EQ(sender_->suite(), GetParam());
  for (uint16_t sequence = 65530; sequence != 10; ++sequence) {  // across the wrap-around
    Packet packet = Rtp(sequence);
    const Packet clear = packet;
    Protect(packet);
    EXPECT_NE(0, std::memcmp(packet.buffer.data() + 12, clear.buffer.data() + 12, 160))
        << "payload sent in the clear";
    size_t length = 0;
    ASSERT_EQ(receiver_->UnprotectRtp(packet.buffer, packet.length, &length), SrtpResult::kOk);
    ASSERT_EQ(length, clear.length);
    EXPECT_EQ(0, std::memcmp(packet.buffer.data(), clear.buffer.data(), length));
  }
}

TEST_P(SrtpSessionSuiteTest, RtcpRoundTripRestoresEveryReport) {
  for (int i = 0; i < 3; ++i) {
    Packet report = Rtcp();
    const Packet clear = report;
    size_t length = 0;
    ASSERT_EQ(sender_->ProtectRtcp(report.buffer, report.length, &length), SrtpResult::kOk);
    EXPECT_EQ(length, clear.length + RtcpOverhead(GetParam()));
    size_t out = 0;
    ASSERT_EQ(receiver_->UnprotectRtcp(report.buffer, length, &out), SrtpResult::kOk);
    ASSERT_EQ(out, clear.length);
    EXPECT_EQ(0, std::memcmp(report.buffer.data(), clear.buffer.data(), out));
  }
}

TEST_P(SrtpSessionSuiteTest, WrongKeyIsAnAuthenticationFailure) {
  auto stranger = *SrtpSession::Create(SrtpKeyMaterial::Generate(GetParam()), Direction::kInbound);
  Packet packet = Rtp(1);
  Protect(packet);
  size_t length = 0;
  EXPECT_EQ(stranger->UnprotectRtp(packet.buffer, packet.length, &length), SrtpResult::kAuthFailed);

  Packet report = Rtcp();
  ASSERT_EQ(sender_->ProtectRtcp(report.buffer, report.length, &length), SrtpResult::kOk);
  EXPECT_EQ(stranger->UnprotectRtcp(report.buffer, length, &length), SrtpResult::kAuthFailed);
}

TEST_P(SrtpSessionSuiteTest, AnyFlippedBitIsAnAuthenticationFailure) {
  Packet packet = Rtp(1);
  Protect(packet);
  // A bit in the header, the payload and the tag.
  for (size_t byte : {size_t{3}, size_t{40}, packet.length - 1}) {
    Packet forged = packet;
    forged.buffer[byte] ^= 0x01;
    EXPECT_EQ(Unprotect(forged), SrtpResult::kAuthFailed) << "byte " << byte;
  }
  EXPECT_EQ(Unprotect(packet), SrtpResult::kOk);  // the forgeries did not burn the index

  Packet report = Rtcp();
  size_t length = 0;
  ASSERT_EQ(sender_->ProtectRtcp(report.buffer, report.length, &length), SrtpResult::kOk);
  // The header, the E flag of the SRTCP index (byte 8) and the tag.
  for (size_t byte : {size_t{1}, size_t{8}, length - 1}) {
    Packet forged = report;
    forged.buffer[byte] ^= byte == 8 ? 0x80 : 0x01;
    size_t out = 0;
    EXPECT_EQ(receiver_->UnprotectRtcp(forged.buffer, length, &out), SrtpResult::kAuthFailed)
        << "byte " << byte;
  }
}

TEST_P(SrtpSessionSuiteTest, ReplayedPacketsAreRefused) {
  Packet packet = Rtp(5);
  Protect(packet);
  EXPECT_EQ(Unprotect(packet), SrtpResult::kOk);
  EXPECT_EQ(Unprotect(packet), SrtpResult::kReplayed);

  Packet report = Rtcp();
  size_t length = 0;
  ASSERT_EQ(sender_->ProtectRtcp(report.buffer, report.length, &length), SrtpResult::kOk);
  report.length = length;
  Packet copy = report;
  EXPECT_EQ(receiver_->UnprotectRtcp(copy.buffer, copy.length, &length), SrtpResult::kOk);
  copy = report;
  EXPECT_EQ(receiver_->UnprotectRtcp(copy.buffer, copy.length, &length), SrtpResult::kReplayed);
}

TEST_P(SrtpSessionSuiteTest, TruncatedPacketsAreRefused) {
  Packet packet = Rtp(5);
  Protect(packet);
  size_t length = 0;
  Packet copy = packet;
  EXPECT_EQ(receiver_->UnprotectRtp(copy.buffer, 11, &length), SrtpResult::kTooShort);
  copy = packet;
  EXPECT_EQ(receiver_->UnprotectRtp(copy.buffer, 12 + RtpOverhead(GetParam()) - 1, &length),
            SrtpResult::kTooShort);
  copy = packet;
  EXPECT_EQ(receiver_->UnprotectRtp(copy.buffer, packet.length - 1, &length),
            SrtpResult::kAuthFailed);
  Packet report = Rtcp();
  EXPECT_EQ(receiver_->UnprotectRtcp(report.buffer, report.length, &length), SrtpResult::kTooShort);
  EXPECT_EQ(sender_->ProtectRtp(copy.buffer, 4, &length), SrtpResult::kTooShort);
  EXPECT_EQ(sender_->ProtectRtcp(copy.buffer, 4, &length), SrtpResult::kTooShort);
  EXPECT_EQ(Unprotect(packet), SrtpResult::kOk);
}

TEST_P(SrtpSessionSuiteTest, BufferWithoutRoomForTheTagIsNoSpace) {
  Packet clear = Rtp(9);
  const size_t overhead = RtpOverhead(GetParam());
  // Exactly sized heap buffers, so AddressSanitizer sees any write past the end.
  std::vector<uint8_t> tight(clear.buffer.begin(), clear.buffer.begin() + clear.length);
  tight.resize(clear.length + overhead - 1);
  size_t length = 0;
  EXPECT_EQ(sender_->ProtectRtp(tight, clear.length, &length), SrtpResult::kNoSpace);
  tight.resize(clear.length + overhead);
  ASSERT_EQ(sender_->ProtectRtp(tight, clear.length, &length), SrtpResult::kOk);
  EXPECT_EQ(length, tight.size());
  EXPECT_EQ(receiver_->UnprotectRtp(tight, length, &length), SrtpResult::kOk);

  Packet report = Rtcp();
  std::vector<uint8_t> tight_report(report.buffer.begin(), report.buffer.begin() + report.length);
  tight_report.resize(report.length + RtcpOverhead(GetParam()) - 1);
  EXPECT_EQ(sender_->ProtectRtcp(tight_report, report.length, &length), SrtpResult::kNoSpace);
  tight_report.resize(report.length + RtcpOverhead(GetParam()));
  EXPECT_EQ(sender_->ProtectRtcp(tight_report, report.length, &length), SrtpResult::kOk);
  EXPECT_EQ(length, tight_report.size());
}

TEST_P(SrtpSessionSuiteTest, MalformedHeadersAreBadPackets) {
  size_t length = 0;
  Packet version_one = Rtp(1);
  version_one.buffer[0] = 0x40;
  EXPECT_EQ(sender_->ProtectRtp(version_one.buffer, version_one.length, &length),
            SrtpResult::kBadPacket);
  EXPECT_EQ(receiver_->UnprotectRtp(version_one.buffer, version_one.length, &length),
            SrtpResult::kBadPacket);
  // 15 CSRCs (60 bytes) claimed in a 30-byte packet.
  Packet csrcs = Rtp(1, kSsrc, 18);
  csrcs.buffer[0] = 0x8f;
  EXPECT_EQ(sender_->ProtectRtp(csrcs.buffer, csrcs.length, &length), SrtpResult::kBadPacket);
  EXPECT_EQ(receiver_->UnprotectRtp(csrcs.buffer, csrcs.length, &length), SrtpResult::kBadPacket);
  // A header extension longer than the packet.
  Packet extension = Rtp(1, kSsrc, 40);
  extension.buffer[0] = 0x90;
  extension.buffer[14] = 0xff;
  extension.buffer[15] = 0xff;
  EXPECT_EQ(receiver_->UnprotectRtp(extension.buffer, extension.length, &length),
            SrtpResult::kBadPacket);
  Packet report = Rtcp();
  report.buffer[0] = 0x00;
  EXPECT_EQ(sender_->ProtectRtcp(report.buffer, report.length, &length), SrtpResult::kBadPacket);
  EXPECT_EQ(receiver_->UnprotectRtcp(report.buffer, 40, &length), SrtpResult::kBadPacket);
  // A length beyond the buffer is the caller's bug, reported without touching memory.
  EXPECT_EQ(receiver_->UnprotectRtp(std::span<uint8_t>(report.buffer).first(20), 21, &length),
            SrtpResult::kError);
}

TEST_P(SrtpSessionSuiteTest, OneInboundSessionTakesEverySsrcOfThePeer) {
  for (uint16_t sequence = 100; sequence < 105; ++sequence) {
    for (uint32_t ssrc : {1u, 0xdeadbeefu}) {  // same sequence numbers on both streams
      Packet packet = Rtp(sequence, ssrc);
      const Packet clear = packet;
      Protect(packet);
      size_t length = 0;
      ASSERT_EQ(receiver_->UnprotectRtp(packet.buffer, packet.length, &length), SrtpResult::kOk)
          << "ssrc " << ssrc;
      EXPECT_EQ(0, std::memcmp(packet.buffer.data(), clear.buffer.data(), length));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllSuites, SrtpSessionSuiteTest,
                         ::testing::Values(SrtpSuite::kAesCm128HmacSha1_80,
                                           SrtpSuite::kAesCm128HmacSha1_32,
                                           SrtpSuite::kAeadAes128Gcm),
                         [](const ::testing::TestParamInfo<SrtpSuite>& info) {
                           return std::string(SuiteName(info.param));
                         });

TEST(SrtpSessionTest, SuitesDoNotInteroperate) {
  // Same key bytes, different tag length: the receiver must refuse, not misparse.
  const SrtpKeyMaterial key80 = SrtpKeyMaterial::Generate(SrtpSuite::kAesCm128HmacSha1_80);
  const SrtpKeyMaterial key32 =
      *SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_32, key80.ToBase64());
  auto sender = *SrtpSession::Create(key80, Direction::kOutbound);
  auto receiver = *SrtpSession::Create(key32, Direction::kInbound);
  Packet packet = Rtp(1);
  size_t length = 0;
  ASSERT_EQ(sender->ProtectRtp(packet.buffer, packet.length, &length), SrtpResult::kOk);
  EXPECT_EQ(receiver->UnprotectRtp(packet.buffer, length, &length), SrtpResult::kAuthFailed);
}

TEST(SrtpSessionTest, ReplayWindowOptionBoundsHowLatePacketsMayArrive) {
  const SrtpKeyMaterial key = SrtpKeyMaterial::Generate(SrtpSuite::kAesCm128HmacSha1_80);
  auto sender = *SrtpSession::Create(key, Direction::kOutbound);
  auto small_window = *SrtpSession::Create(key, Direction::kInbound, {.replay_window_packets = 64});
  auto default_window = *SrtpSession::Create(key, Direction::kInbound);
  Packet late = Rtp(1000);
  Packet first = Rtp(1200);
  size_t length = 0;
  ASSERT_EQ(sender->ProtectRtp(late.buffer, late.length, &late.length), SrtpResult::kOk);
  ASSERT_EQ(sender->ProtectRtp(first.buffer, first.length, &first.length), SrtpResult::kOk);
  for (SrtpSession* receiver : {small_window.get(), default_window.get()}) {
    Packet copy = first;
    ASSERT_EQ(receiver->UnprotectRtp(copy.buffer, copy.length, &length), SrtpResult::kOk);
  }
  // 200 packets late: beyond a 64-packet window, within the default 1024.
  Packet copy = late;
  EXPECT_EQ(small_window->UnprotectRtp(copy.buffer, copy.length, &length), SrtpResult::kReplayed);
  copy = late;
  EXPECT_EQ(default_window->UnprotectRtp(copy.buffer, copy.length, &length), SrtpResult::kOk);
}

TEST(SrtpSessionTest, RetransmissionsNeedAllowRepeatTx) {
  const SrtpKeyMaterial key = SrtpKeyMaterial::Generate(SrtpSuite::kAesCm128HmacSha1_80);
  auto strict = *SrtpSession::Create(key, Direction::kOutbound);
  auto resending = *SrtpSession::Create(key, Direction::kOutbound, {.allow_repeat_tx = true});
  for (SrtpSession* sender : {strict.get(), resending.get()}) {
    Packet packet = Rtp(7);
    size_t length = 0;
    ASSERT_EQ(sender->ProtectRtp(packet.buffer, packet.length, &length), SrtpResult::kOk);
  }
  Packet again = Rtp(7);
  size_t length = 0;
  EXPECT_EQ(strict->ProtectRtp(again.buffer, again.length, &length), SrtpResult::kReplayed);
  again = Rtp(7);
  EXPECT_EQ(resending->ProtectRtp(again.buffer, again.length, &length), SrtpResult::kOk);
}

TEST(SrtpSessionTest, ReplayWindowOutOfRangeIsInvalidArgument) {
  const SrtpKeyMaterial key = SrtpKeyMaterial::Generate(SrtpSuite::kAesCm128HmacSha1_80);
  for (uint32_t window : {0u, 63u, 32768u}) {
    auto session = SrtpSession::Create(key, Direction::kInbound, {.replay_window_packets = window});
    ASSERT_FALSE(session.ok()) << window;
    EXPECT_EQ(session.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(SrtpSession::Create(key, Direction::kInbound, {.replay_window_packets = 32767}).ok());
}

// AES-CM and HMAC-SHA1 come from Nettle unless CHORUS_SRTP_CRYPTO=libsrtp keeps libsrtp2's own;
// either way libsrtp2 ran its known-answer tests on them before the first session.
TEST(SrtpCryptoTest, ThePrimitivesFollowTheEnvironment) {
  auto session = SrtpSession::Create(SrtpKeyMaterial::Generate(SrtpSuite::kAesCm128HmacSha1_80),
                                     Direction::kOutbound);
  ASSERT_TRUE(session.ok()) << session.status();
  const char* choice = std::getenv("CHORUS_SRTP_CRYPTO");
  const bool libsrtp = choice != nullptr && std::string_view(choice) == "libsrtp";
  EXPECT_EQ(ActiveCryptoBackend(), libsrtp ? CryptoBackend::kLibsrtp : CryptoBackend::kNettle);
  EXPECT_EQ(CryptoBackendName(ActiveCryptoBackend()), libsrtp ? "libsrtp" : "nettle");
}

}  // namespace
}  // namespace chorus::srtp
