#include "pipeline/dtls/dtls_transport.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <srtp2/srtp.h>

#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/base/clock.h"
#include "pipeline/dtls/dtls_certificate.h"
#include "pipeline/dtls/dtls_record.h"
#include "pipeline/dtls/dtls_srtp.h"
#include "pipeline/srtp/srtp_session.h"
#include "tests/pipeline/dtls/dtls_test_peer.h"

namespace chorus::dtls {
namespace {

using srtp::SrtpSuite;
using testing::Datagram;
using testing::Link;
using testing::RecordingListener;
using testing::TestClientOptions;
using testing::TestDtlsClient;

std::shared_ptr<const DtlsCertificate> NodeCertificate() {
  static const std::shared_ptr<const DtlsCertificate> certificate = *DtlsCertificate::Generate();
  return certificate;
}

// One server transport wired to one test client.
struct Session {
  explicit Session(const TestClientOptions& client_options = {}, DtlsTransportOptions options = {},
                   std::optional<DtlsFingerprint> remote_fingerprint = std::nullopt)
      : client(WithServerFingerprint(client_options)) {
    options.counters = &counters;
    server =
        *DtlsTransport::Create(NodeCertificate(), remote_fingerprint.value_or(client.fingerprint()),
                               &listener, clock, options);
    link = std::make_unique<Link>(&client, server.get(), &listener);
  }

  static TestClientOptions WithServerFingerprint(TestClientOptions options) {
    if (!options.expected_server_fingerprint.has_value()) {
      options.expected_server_fingerprint = NodeCertificate()->fingerprint();
    }
    return options;
  }

  base::FakeClock clock;
  DtlsCounters counters;
  RecordingListener listener;
  TestDtlsClient client;
  std::unique_ptr<DtlsTransport> server;
  std::unique_ptr<Link> link;
};

// The client's view of RFC 5764 4.2: client_write_key | server_write_key | client_write_salt |
// server_write_salt, sliced here by hand (not with SplitDtlsSrtpKeyingMaterial).
struct ClientKeys {
  std::vector<uint8_t> client_key_salt;
  std::vector<uint8_t> server_key_salt;
};
std::vector<uint8_t> Concat(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  std::vector<uint8_t> out;
  out.reserve(a.size() + b.size());
  for (uint8_t byte : a) out.push_back(byte);
  for (uint8_t byte : b) out.push_back(byte);
  return out;
}
ClientKeys SliceByHand(const std::vector<uint8_t>& material, size_t salt_bytes) {
  const std::span<const uint8_t> m(material);
  return {Concat(m.subspan(0, 16), m.subspan(32, salt_bytes)),
          Concat(m.subspan(16, 16), m.subspan(32 + salt_bytes, salt_bytes))};
}

std::vector<uint8_t> Bytes(std::span<const uint8_t> span) { return {span.begin(), span.end()}; }

TEST(DtlsTransportTest, HandshakePrefersGcmAndKeysMatchCrosswise) {
  Session s;  // the client offers AES_CM first, then GCM: the server's preference decides
  EXPECT_EQ(s.server->state(), DtlsState::kNew);
  s.link->Handshake();

  ASSERT_TRUE(s.client.connected());
  ASSERT_EQ(s.server->state(), DtlsState::kConnected);
  ASSERT_TRUE(s.listener.keys.has_value());
  EXPECT_EQ(s.listener.connected_calls, 1);
  EXPECT_EQ(s.client.selected_profile(), kSrtpProfileAeadAes128Gcm);
  EXPECT_EQ(s.listener.keys->suite, SrtpSuite::kAeadAes128Gcm);

  const std::vector<uint8_t> material = s.client.ExportKeyingMaterial(56);
  ASSERT_EQ(material.size(), 56u);
  const ClientKeys client = SliceByHand(material, 12);
  // What the client writes with is what we read with, and the other way round.
  EXPECT_EQ(Bytes(s.listener.keys->remote.bytes()), client.client_key_salt);
  EXPECT_EQ(Bytes(s.listener.keys->local.bytes()), client.server_key_salt);
  EXPECT_NE(client.client_key_salt, client.server_key_salt);
  EXPECT_EQ(s.counters.handshakes_started.load(), 1u);
  EXPECT_EQ(s.counters.handshakes_completed.load(), 1u);
  EXPECT_FALSE(s.server->NextTimeoutUs().has_value());
}

TEST(DtlsTransportTest, HandshakeWithAesCmOnly) {
  Session s({.srtp_profiles = "SRTP_AES128_CM_SHA1_80"});
  s.link->Handshake();
  ASSERT_EQ(s.server->state(), DtlsState::kConnected);
  EXPECT_EQ(s.client.selected_profile(), kSrtpProfileAes128CmSha1_80);
  ASSERT_TRUE(s.listener.keys.has_value());
  EXPECT_EQ(s.listener.keys->suite, SrtpSuite::kAesCm128HmacSha1_80);
  const ClientKeys client = SliceByHand(s.client.ExportKeyingMaterial(60), 14);
  EXPECT_EQ(Bytes(s.listener.keys->remote.bytes()), client.client_key_salt);
  EXPECT_EQ(Bytes(s.listener.keys->local.bytes()), client.server_key_salt);
}

TEST(DtlsTransportTest, DatagramsFitTheMtuAndHoldWholeRecords) {
  Session s({.mtu_bytes = 300}, {.mtu_bytes = 300});
  std::vector<Datagram> seen;
  s.link->set_drop_filter([&](Link::Direction direction, size_t, const Datagram& datagram) {
    if (direction == Link::Direction::kToClient) seen.push_back(datagram);
    return false;
  });
  s.link->Handshake();
  ASSERT_EQ(s.server->state(), DtlsState::kConnected);
  ASSERT_GT(seen.size(), 3u);  // a 300-byte MTU fragments the certificate flight
  for (const Datagram& datagram : seen) {
    EXPECT_LE(datagram.size(), 300u);
    size_t records = 0;
    EXPECT_EQ(CountDtlsRecords(datagram, &records), DtlsRecordResult::kOk);
    EXPECT_GE(records, 1u);
  }
}

// The derived keys protect real SRTP: the client side uses libsrtp2 directly with the bytes it
// exported itself; our side uses pipeline/srtp sessions made from SrtpKeys.
class DtlsSrtpKeysTest : public ::testing::TestWithParam<const char*> {};

srtp_t ClientSrtp(SrtpSuite suite, std::vector<uint8_t> key_salt, bool outbound) {
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  if (suite == SrtpSuite::kAeadAes128Gcm) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  }
  policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  static std::vector<std::vector<uint8_t>> keep;  // libsrtp copies the key, but keep it simple
  keep.push_back(std::move(key_salt));
  policy.key = keep.back().data();
  policy.window_size = 128;
  srtp_t session = nullptr;
  EXPECT_EQ(srtp_create(&session, &policy), srtp_err_status_ok);
  return session;
}

size_t WriteRtp(uint8_t* out, uint16_t sequence) {
  const uint8_t header[12] = {0x80,
                              111,
                              static_cast<uint8_t>(sequence >> 8),
                              static_cast<uint8_t>(sequence),
                              0,
                              0,
                              0x03,
                              0xc0,
                              0xca,
                              0xfe,
                              0xba,
                              0xbe};
  std::memcpy(out, header, sizeof(header));
  for (size_t i = 0; i < 160; ++i) out[12 + i] = static_cast<uint8_t>(i * 7);
  return 12 + 160;
}

TEST_P(DtlsSrtpKeysTest, ExportedKeysProtectAndUnprotectBothWays) {
  Session s({.srtp_profiles = GetParam()});
  s.link->Handshake();
  ASSERT_TRUE(s.listener.keys.has_value());
  const SrtpKeys& keys = *s.listener.keys;
  const size_t salt = srtp::MasterSaltLength(keys.suite);
  const ClientKeys client = SliceByHand(s.client.ExportKeyingMaterial(2 * (16 + salt)), salt);

  // Our sessions first: they initialise libsrtp2 for the process.
  auto inbound = *srtp::SrtpSession::Create(keys.remote, srtp::Direction::kInbound);
  auto outbound = *srtp::SrtpSession::Create(keys.local, srtp::Direction::kOutbound);
  srtp_t client_out = ClientSrtp(keys.suite, client.client_key_salt, true);
  srtp_t client_in = ClientSrtp(keys.suite, client.server_key_salt, false);

  // Browser -> Chorus.
  std::array<uint8_t, 256> packet{};
  std::array<uint8_t, 256> clear{};
  int length = static_cast<int>(WriteRtp(packet.data(), 1000));
  std::memcpy(clear.data(), packet.data(), static_cast<size_t>(length));
  const int clear_length = length;
  ASSERT_EQ(srtp_protect(client_out, packet.data(), &length), srtp_err_status_ok);
  EXPECT_EQ(static_cast<size_t>(length - clear_length), srtp::RtpOverhead(keys.suite));
  size_t out = 0;
  ASSERT_EQ(inbound->UnprotectRtp(packet, static_cast<size_t>(length), &out),
            srtp::SrtpResult::kOk);
  ASSERT_EQ(out, static_cast<size_t>(clear_length));
  EXPECT_EQ(std::memcmp(packet.data(), clear.data(), out), 0);

  // Chorus -> browser.
  size_t protected_length = 0;
  const size_t ours = WriteRtp(packet.data(), 2000);
  ASSERT_EQ(outbound->ProtectRtp(packet, ours, &protected_length), srtp::SrtpResult::kOk);
  int client_length = static_cast<int>(protected_length);
  ASSERT_EQ(srtp_unprotect(client_in, packet.data(), &client_length), srtp_err_status_ok);
  EXPECT_EQ(static_cast<size_t>(client_length), ours);

  // Keys of the wrong direction do not work: the client cannot unprotect its own packets.
  length = static_cast<int>(WriteRtp(packet.data(), 1001));
  ASSERT_EQ(srtp_protect(client_out, packet.data(), &length), srtp_err_status_ok);
  EXPECT_NE(srtp_unprotect(client_in, packet.data(), &length), srtp_err_status_ok);

  srtp_dealloc(client_out);
  srtp_dealloc(client_in);
}

INSTANTIATE_TEST_SUITE_P(Profiles, DtlsSrtpKeysTest,
                         ::testing::Values("SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80"));

TEST(DtlsTransportTest, ClientSeesTheNodeCertificate) {
  Session s;
  s.link->Handshake();
  ASSERT_TRUE(s.client.connected());
  X509* server = s.client.server_certificate();
  ASSERT_NE(server, nullptr);
  std::array<uint8_t, 32> digest{};
  unsigned int length = 0;
  ASSERT_EQ(X509_digest(server, EVP_sha256(), digest.data(), &length), 1);
  EXPECT_EQ(digest, NodeCertificate()->fingerprint().sha256);
  EXPECT_STREQ(SSL_get_cipher_name(s.client.ssl()), "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(SSL_version(s.client.ssl()), DTLS1_2_VERSION);
}

TEST(DtlsTransportTest, WrongClientCertificateFailsAndIsCounted) {
  TestDtlsClient other;  // the certificate the SDP named, but another one shows up
  Session s({}, {}, other.fingerprint());
  s.link->Handshake();
  EXPECT_EQ(s.server->state(), DtlsState::kFailed);
  EXPECT_EQ(s.server->failure(), DtlsFailure::kFingerprintMismatch);
  EXPECT_EQ(s.listener.failure, DtlsFailure::kFingerprintMismatch);
  EXPECT_EQ(s.listener.failed_calls, 1);
  EXPECT_FALSE(s.listener.keys.has_value());
  EXPECT_FALSE(s.client.connected());
  EXPECT_EQ(s.counters.failure(DtlsFailure::kFingerprintMismatch), 1u);
  EXPECT_EQ(s.counters.handshakes_completed.load(), 0u);
  // Nothing is accepted afterwards.
  s.client.Start();
  EXPECT_FALSE(
      s.server->HandleDatagram(std::vector<uint8_t>{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(s.server->stats().drop(DtlsDrop::kNotAccepting), 1u);
}

TEST(DtlsTransportTest, ClientRefusingOurCertificateIsAPeerAlert) {
  DtlsFingerprint wrong;
  wrong.sha256.fill(0xab);
  Session s({.expected_server_fingerprint = wrong});
  s.link->Handshake();
  EXPECT_EQ(s.server->failure(), DtlsFailure::kPeerAlert);
  EXPECT_FALSE(s.listener.keys.has_value());
}

TEST(DtlsTransportTest, NoCommonSrtpProfileFailsBeforeAnyPublicKeyWork) {
  for (const char* profiles : {"", "SRTP_AES128_CM_SHA1_32"}) {
    Session s({.srtp_profiles = profiles});
    s.link->Handshake();
    EXPECT_EQ(s.server->failure(), DtlsFailure::kNoSrtpProfile) << profiles;
    // Only an alert went back: no certificate flight (so no signature was made).
    EXPECT_EQ(s.server->stats().datagrams_out, 1u) << profiles;
    EXPECT_LT(s.server->stats().bytes_out, 64u) << profiles;
  }
}

TEST(DtlsTransportTest, LostServerFlightIsRetransmittedOnTimer) {
  // OpenSSL keeps its retransmission timer on the system clock, so this test waits for real
  // (about 20 ms); the deadline stays on the fake clock.
  Session s({}, {.initial_retransmit_us = 20'000});
  bool dropped = false;
  s.link->set_drop_filter([&](Link::Direction direction, size_t, const Datagram&) {
    if (direction == Link::Direction::kToClient && !dropped) {
      return true;  // the whole first server flight
    }
    return false;
  });
  s.client.Start();
  s.link->Pump();
  dropped = true;
  ASSERT_EQ(s.server->state(), DtlsState::kConnecting);
  ASSERT_FALSE(s.client.connected());
  const std::optional<int64_t> next = s.server->NextTimeoutUs();
  ASSERT_TRUE(next.has_value());
  EXPECT_LE(*next - s.clock.NowUs(), 20'000);

  for (int i = 0; i < 100 && s.server->stats().retransmissions == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    s.server->OnTimer(s.clock.NowUs());
  }
  EXPECT_EQ(s.server->stats().retransmissions, 1u);
  EXPECT_EQ(s.counters.retransmissions.load(), 1u);
  s.link->Pump();
  EXPECT_TRUE(s.client.connected());
  EXPECT_EQ(s.server->state(), DtlsState::kConnected);
  EXPECT_EQ(s.listener.connected_calls, 1);
}

TEST(DtlsTransportTest, LostFinalFlightIsResentWhenTheClientRetransmits) {
  Session s({.initial_timeout_us = 20'000});
  size_t drop_from = SIZE_MAX;
  s.link->set_drop_filter([&](Link::Direction direction, size_t, const Datagram&) {
    // Once the server is connected, its last flight (ChangeCipherSpec, Finished) is lost once.
    if (direction == Link::Direction::kToClient && s.server->state() == DtlsState::kConnected &&
        drop_from == SIZE_MAX) {
      drop_from = 0;
      return true;
    }
    return false;
  });
  s.link->Handshake();
  ASSERT_EQ(s.server->state(), DtlsState::kConnected);
  ASSERT_FALSE(s.client.connected());
  const uint64_t sent_before = s.server->stats().datagrams_out;
  bool resent = false;
  for (int i = 0; i < 100 && !resent; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    resent = s.client.HandleTimeout();
  }
  ASSERT_TRUE(resent);
  s.link->Pump();
  EXPECT_TRUE(s.client.connected());
  EXPECT_GT(s.server->stats().datagrams_out, sent_before);
  EXPECT_EQ(s.listener.connected_calls, 1);
  // The client's key view matches ours after the recovery too.
  const ClientKeys client = SliceByHand(s.client.ExportKeyingMaterial(56), 12);
  EXPECT_EQ(Bytes(s.listener.keys->remote.bytes()), client.client_key_salt);
}

TEST(DtlsTransportTest, HandshakeThatNeverFinishesFailsAtTheDeadline) {
  Session s;
  s.client.Start();
  for (const Datagram& hello : s.client.TakeOutgoing()) s.server->HandleDatagram(hello);
  ASSERT_EQ(s.server->state(), DtlsState::kConnecting);
  // The client never answers. Just before the deadline nothing fails.
  s.clock.AdvanceUs(30'000'000 - 1);
  s.server->OnTimer(s.clock.NowUs());
  EXPECT_EQ(s.server->state(), DtlsState::kConnecting);
  ASSERT_TRUE(s.server->NextTimeoutUs().has_value());
  EXPECT_LE(*s.server->NextTimeoutUs(), s.clock.NowUs() + 1);
  s.clock.AdvanceUs(1);
  s.server->OnTimer(s.clock.NowUs());
  EXPECT_EQ(s.server->state(), DtlsState::kFailed);
  EXPECT_EQ(s.listener.failure, DtlsFailure::kTimeout);
  EXPECT_EQ(s.counters.failure(DtlsFailure::kTimeout), 1u);
  EXPECT_FALSE(s.server->NextTimeoutUs().has_value());
}

TEST(DtlsTransportTest, PeerThatNeverStartsFailsAtTheDeadline) {
  Session s({}, {.handshake_timeout_us = 5'000'000});
  EXPECT_EQ(s.server->NextTimeoutUs(), s.clock.NowUs() + 5'000'000);
  s.clock.AdvanceUs(5'000'000);
  // A datagram arriving after the deadline is not processed either.
  s.client.Start();
  for (const Datagram& hello : s.client.TakeOutgoing()) {
    EXPECT_FALSE(s.server->HandleDatagram(hello));
  }
  EXPECT_EQ(s.listener.failure, DtlsFailure::kTimeout);
  EXPECT_EQ(s.server->stats().datagrams_out, 0u);
}

TEST(DtlsTransportTest, GarbageIsDroppedAndCountedAndTheHandshakeStillWorks) {
  Session s;
  const std::vector<Datagram> garbage = {
      {},                                                        // empty
      {0x80, 0x6f, 0x00, 0x01, 0, 0, 0, 0, 1, 2, 3, 4},          // RTP
      {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42},          // STUN binding request
      {22, 0xfe, 0xfd, 0, 0},                                    // truncated record header
      {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 1, 2, 3},  // length past the end
      {24, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},            // heartbeat content type
      {22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},            // TLS, not DTLS, version
      Datagram(1501, 22),                                        // oversized
  };
  for (const Datagram& datagram : garbage) EXPECT_FALSE(s.server->HandleDatagram(datagram));
  const DtlsTransportStats& stats = s.server->stats();
  EXPECT_EQ(stats.drop(DtlsDrop::kNotDtls), 3u);
  EXPECT_EQ(stats.drop(DtlsDrop::kMalformedRecord), 4u);
  EXPECT_EQ(stats.drop(DtlsDrop::kOversized), 1u);
  EXPECT_EQ(s.counters.drop(DtlsDrop::kMalformedRecord), 4u);
  EXPECT_EQ(stats.datagrams_in, garbage.size());
  EXPECT_EQ(s.server->state(), DtlsState::kNew);

  s.link->Handshake();
  EXPECT_EQ(s.server->state(), DtlsState::kConnected);
}

TEST(DtlsTransportTest, WellFramedJunkNeverCrashesOrConnects) {
  // Records that pass the framing check but carry nonsense go to OpenSSL, which drops them or
  // fails the handshake; either way nothing connects and nothing is sent in clear.
  for (uint8_t type : {20, 21, 22, 23}) {
    Session s;
    Datagram junk = {type, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24};
    for (int i = 0; i < 24; ++i) junk.push_back(static_cast<uint8_t>(i * 37 + type));
    s.server->HandleDatagram(junk);
    EXPECT_NE(s.server->state(), DtlsState::kConnected);
    EXPECT_FALSE(s.listener.keys.has_value());
  }
}

TEST(DtlsTransportTest, ClientHelloFloodIsBounded) {
  Session s({}, {.max_handshake_datagrams = 64});
  s.client.Start();
  const std::vector<Datagram> hello = s.client.TakeOutgoing();
  ASSERT_EQ(hello.size(), 1u);
  for (int i = 0; i < 1000; ++i) s.server->HandleDatagram(hello[0]);
  EXPECT_EQ(s.server->state(), DtlsState::kFailed);
  EXPECT_EQ(s.server->failure(), DtlsFailure::kHandshakeBudget);
  // Repeated ClientHellos are not answered again: one flight went out, whatever the flood.
  const uint64_t flight = s.listener.datagrams_sent;
  EXPECT_LE(flight, 3u);
  EXPECT_LT(s.server->stats().bytes_out, 2500u);
  EXPECT_EQ(s.server->stats().drop(DtlsDrop::kNotAccepting), 1000u - 65u);
}

TEST(DtlsTransportTest, DistinctClientHellosToOneTransportAreIgnored) {
  Session s;
  s.link->Handshake();  // one real client connects
  ASSERT_EQ(s.server->state(), DtlsState::kConnected);
  const uint64_t sent = s.listener.datagrams_sent;
  // Others replay fresh ClientHellos (epoch 0) at the connected transport: dropped by OpenSSL.
  for (int i = 0; i < 20; ++i) {
    TestDtlsClient intruder;
    intruder.Start();
    for (const Datagram& hello : intruder.TakeOutgoing()) s.server->HandleDatagram(hello);
  }
  EXPECT_EQ(s.server->state(), DtlsState::kConnected);
  EXPECT_EQ(s.listener.datagrams_sent, sent);
  EXPECT_EQ(s.listener.connected_calls, 1);
}

TEST(DtlsTransportTest, RenegotiationIsRefused) {
  Session s;
  s.link->Handshake();
  ASSERT_EQ(s.server->state(), DtlsState::kConnected);
  const std::vector<uint8_t> remote_before = Bytes(s.listener.keys->remote.bytes());
  s.client.Renegotiate();  // a ClientHello inside the association (epoch 1)
  for (const Datagram& hello : s.client.TakeOutgoing()) s.server->HandleDatagram(hello);
  EXPECT_EQ(s.server->stats().renegotiations_refused, 1u);
  EXPECT_EQ(s.counters.renegotiations_refused.load(), 1u);
  EXPECT_EQ(s.server->state(), DtlsState::kConnected);
  EXPECT_EQ(s.listener.connected_calls, 1);
  EXPECT_EQ(Bytes(s.listener.keys->remote.bytes()), remote_before);
  // Only the warning alert went back, no new handshake flight.
  const std::vector<Datagram> answer = s.listener.TakeSent();
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer[0][0], kContentAlert);
  EXPECT_LT(answer[0].size(), 64u);

  // OpenSSL's client treats no_renegotiation as fatal and aborts with an alert: we then report
  // the peer's abort (the keys never changed).
  s.client.Receive(answer[0]);
  s.link->Pump();
  EXPECT_EQ(s.server->failure(), DtlsFailure::kPeerAlert);
  EXPECT_EQ(s.listener.connected_calls, 1);
}

TEST(DtlsTransportTest, ApplicationDataIsIgnored) {
  Session s;
  s.link->Handshake();
  const uint8_t data[] = {1, 2, 3, 4, 5};
  for (int i = 0; i < 3; ++i) s.client.Write(data);
  s.link->Pump();
  EXPECT_EQ(s.server->state(), DtlsState::kConnected);
  EXPECT_EQ(s.server->stats().drop(DtlsDrop::kApplicationData), 3u);
  EXPECT_EQ(s.listener.datagrams_sent, s.server->stats().datagrams_out);
}

TEST(DtlsTransportTest, CloseNotifyFromThePeer) {
  Session s;
  s.link->Handshake();
  s.client.Shutdown();
  s.link->Pump();
  EXPECT_EQ(s.server->state(), DtlsState::kClosed);
  EXPECT_EQ(s.listener.closed_calls, 1);
  EXPECT_EQ(s.listener.failed_calls, 0);
  EXPECT_TRUE(s.client.received_close_notify());  // we answered with ours
  const Datagram record = {kContentApplicationData, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 0};
  EXPECT_FALSE(s.server->HandleDatagram(record));
  EXPECT_EQ(s.server->stats().drop(DtlsDrop::kNotAccepting), 1u);
}

TEST(DtlsTransportTest, CloseSendsCloseNotify) {
  Session s;
  s.link->Handshake();
  s.server->Close();
  s.link->Pump();
  EXPECT_TRUE(s.client.received_close_notify());
  EXPECT_EQ(s.server->state(), DtlsState::kClosed);
  EXPECT_EQ(s.listener.closed_calls, 0);  // a local close is not reported back
  s.server->Close();                      // idempotent
}

TEST(DtlsTransportTest, CreateRefusesBadArguments) {
  base::FakeClock clock;
  RecordingListener listener;
  const DtlsFingerprint fingerprint;
  EXPECT_EQ(DtlsTransport::Create(nullptr, fingerprint, &listener, clock).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DtlsTransport::Create(NodeCertificate(), fingerprint, nullptr, clock).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(
      DtlsTransport::Create(NodeCertificate(), fingerprint, &listener, clock, {.mtu_bytes = 100})
          .ok());
  EXPECT_FALSE(DtlsTransport::Create(NodeCertificate(), fingerprint, &listener, clock,
                                     {.max_datagram_bytes = 1000})
                   .ok());
  EXPECT_FALSE(
      DtlsTransport::Create(NodeCertificate(), fingerprint, &listener, clock,
                            {.initial_retransmit_us = 5'000'000, .max_retransmit_us = 1'000'000})
          .ok());
  EXPECT_TRUE(DtlsTransport::Create(NodeCertificate(), fingerprint, &listener, clock).ok());
}

TEST(DtlsTransportTest, WorkersShareOneCertificate) {
  // Each thread stands for a media worker: its own transports, one shared certificate and
  // SSL_CTX.
  std::vector<std::thread> workers;
  std::array<int, 2> connected{};
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([w, &connected] {
      for (int i = 0; i < 10; ++i) {
        Session s;
        s.link->Handshake();
        connected[w] += s.server->state() == DtlsState::kConnected ? 1 : 0;
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  EXPECT_EQ(connected[0], 10);
  EXPECT_EQ(connected[1], 10);
}

}  // namespace
}  // namespace chorus::dtls
