// The WebRTC participant's pieces against the server's own: its offer through pipeline/sdp's
// parser and negotiation, the server's answer back through the participant's reader, its ICE
// checks through pipeline/ice's verifiers and ICE-lite agent, and its DTLS client against
// pipeline/dtls's server transport (the keys each side derives must pair up).

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/base/clock.h"
#include "pipeline/dtls/dtls_certificate.h"
#include "pipeline/dtls/dtls_transport.h"
#include "pipeline/ice/ice_lite.h"
#include "pipeline/ice/stun.h"
#include "pipeline/net/socket_address.h"
#include "pipeline/sdp/answer.h"
#include "pipeline/sdp/negotiation.h"
#include "pipeline/sdp/parser.h"
#include "tools/loadgen/webrtc_client.h"
#include "tools/loadgen/webrtc_offer.h"

namespace chorus::loadgen {
namespace {

WebRtcOfferParams SampleParams() {
  WebRtcOfferParams params;
  params.session_id = 4242;
  params.ice_ufrag = "cLiE";
  params.ice_pwd = "client+password/0123456789";
  for (size_t i = 0; i < params.fingerprint_sha256.size(); ++i) {
    params.fingerprint_sha256[i] = static_cast<uint8_t>(0xA0 + i);
  }
  params.ssrc = 3735928559u;
  params.cname = "loadgen7";
  params.ip = "127.0.0.1";
  params.port = 49123;
  return params;
}

TEST(WebRtcOfferTest, ParsesAsACompleteBrowserOffer) {
  const WebRtcOfferParams params = SampleParams();
  const std::string text = WriteWebRtcOffer(params);
  EXPECT_NE(text.find("\r\n"), std::string::npos);
  const absl::StatusOr<sdp::Offer> offer = sdp::ParseOffer(text);
  ASSERT_TRUE(offer.ok()) << offer.status() << "\n" << text;
  EXPECT_EQ(offer->session_id, "4242");
  EXPECT_FALSE(offer->ice_lite);
  EXPECT_EQ(offer->bundle_mids, std::vector<std::string>({"0"}));
  ASSERT_EQ(offer->sections.size(), 1u);
  const sdp::MediaSection& audio = offer->sections[0];
  EXPECT_EQ(audio.kind, sdp::MediaKind::kAudio);
  EXPECT_EQ(audio.protocol, sdp::kRtpProfile);
  EXPECT_EQ(audio.port, params.port);
  EXPECT_EQ(audio.mid, "0");
  EXPECT_EQ(audio.direction, sdp::Direction::kSendRecv);
  EXPECT_TRUE(audio.rtcp_mux);
  EXPECT_FALSE(audio.rejected());
  // The transport of the BUNDLE tag: the participant's credentials, fingerprint and DTLS role.
  EXPECT_EQ(offer->ice.ufrag, params.ice_ufrag);
  EXPECT_EQ(offer->ice.pwd, params.ice_pwd);
  EXPECT_EQ(offer->fingerprint_sha256, params.fingerprint_sha256);
  EXPECT_EQ(offer->setup, sdp::SetupRole::kActPass);
  // Opus with the audio level extension, as the participant sends.
  ASSERT_EQ(audio.payload_formats.size(), 1u);
  EXPECT_EQ(audio.payload_formats[0].payload_type, 111);
  EXPECT_EQ(audio.payload_formats[0].encoding_name, "opus");
  EXPECT_EQ(audio.payload_formats[0].clock_rate_hz, 48000u);
  EXPECT_EQ(audio.payload_formats[0].channels, 2u);
  EXPECT_EQ(audio.payload_formats[0].parameters.find("usedtx"), std::string::npos);
  ASSERT_EQ(audio.header_extensions.size(), 1u);
  EXPECT_EQ(audio.header_extensions[0].id, 1);
  EXPECT_EQ(audio.header_extensions[0].uri, sdp::kAudioLevelUri);
  // Its SSRC, by which the server routes its packets, and its host candidate.
  ASSERT_EQ(audio.ssrcs.size(), 1u);
  EXPECT_EQ(audio.ssrcs[0].ssrc, params.ssrc);
  EXPECT_EQ(audio.ssrcs[0].cname, params.cname);
  ASSERT_EQ(audio.candidates.size(), 1u);
  EXPECT_EQ(audio.candidates[0].address, "127.0.0.1");
  EXPECT_EQ(audio.candidates[0].port, params.port);
  EXPECT_EQ(audio.candidates[0].type, sdp::CandidateType::kHost);
  EXPECT_EQ(audio.candidates[0].transport, sdp::CandidateTransport::kUdp);
  EXPECT_TRUE(audio.end_of_candidates);
}

TEST(WebRtcOfferTest, NegotiatesOpusTheLevelExtensionAndTheSsrc) {
  WebRtcOfferParams params = SampleParams();
  params.payload_type = 109;
  params.audio_level_id = 5;
  params.dtx = true;
  const absl::StatusOr<sdp::Offer> offer = sdp::ParseOffer(WriteWebRtcOffer(params));
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_NE(offer->sections[0].payload_formats[0].parameters.find("usedtx=1"), std::string::npos);
  const absl::StatusOr<sdp::Negotiated> negotiated =
      sdp::Negotiate(*offer, sdp::LocalCapabilities{});
  ASSERT_TRUE(negotiated.ok()) << negotiated.status();
  ASSERT_TRUE(negotiated->audio_section.has_value());
  const sdp::NegotiatedSection& audio = negotiated->sections[*negotiated->audio_section];
  ASSERT_TRUE(audio.codec.has_value());
  EXPECT_EQ(audio.codec->codec, sdp::Codec::kOpus);
  EXPECT_EQ(audio.codec->payload_type, 109);
  EXPECT_EQ(audio.extensions.audio_level, 5);
  ASSERT_EQ(audio.remote_streams.size(), 1u);
  EXPECT_EQ(audio.remote_streams[0].ssrc, params.ssrc);
  EXPECT_EQ(negotiated->bundle_mids, std::vector<std::string>({"0"}));
  EXPECT_EQ(negotiated->remote_ice.ufrag, params.ice_ufrag);
  EXPECT_EQ(negotiated->remote_fingerprint_sha256, params.fingerprint_sha256);
}

TEST(WebRtcOfferTest, ReadsTheServersAnswer) {
  const absl::StatusOr<sdp::Offer> offer = sdp::ParseOffer(WriteWebRtcOffer(SampleParams()));
  ASSERT_TRUE(offer.ok());
  const absl::StatusOr<sdp::Negotiated> negotiated =
      sdp::Negotiate(*offer, sdp::LocalCapabilities{});
  ASSERT_TRUE(negotiated.ok());
  sdp::AnswerParams params;
  params.ice = {"SeRv", "server+password/9876543210"};
  params.fingerprint_sha256.fill(0x5C);
  params.candidates = {{"127.0.0.2", 46001}};
  params.ssrcs.audio = 1234;
  params.cname = "chorus";
  params.msid_stream_id = "chorus";
  params.session_id = 77;
  ASSERT_TRUE(sdp::ValidateAnswerParams(params).ok());
  const std::string text = sdp::WriteAnswer(*offer, *negotiated, params);

  const absl::StatusOr<WebRtcAnswerInfo> info = ReadWebRtcAnswer(text);
  ASSERT_TRUE(info.ok()) << info.status() << "\n" << text;
  EXPECT_EQ(info->ice_ufrag, "SeRv");
  EXPECT_EQ(info->ice_pwd, "server+password/9876543210");
  EXPECT_EQ(info->fingerprint_sha256, params.fingerprint_sha256);
  EXPECT_EQ(info->ip, "127.0.0.2");
  EXPECT_EQ(info->port, 46001);
  EXPECT_EQ(info->payload_type, 111);

  EXPECT_FALSE(ReadWebRtcAnswer("v=0\r\n").ok());
  // An answer that would make the participant the DTLS server is refused.
  std::string active = text;
  active.replace(active.find("a=setup:passive"), 15, "a=setup:active");
  EXPECT_FALSE(ReadWebRtcAnswer(active).ok());
}

// ----- ICE -----

constexpr char kClientUfrag[] = "cLiE";
constexpr char kServerUfrag[] = "SeRv";
constexpr char kServerPwd[] = "server+password/9876543210";
constexpr char kClientPwd[] = "client+password/0123456789";

std::span<const uint8_t> Bytes(std::string_view text) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

IceClient NewClient(uint64_t tie_breaker = 0x0123456789abcdefULL) {
  auto client = IceClient::Create(kClientUfrag, kServerUfrag, kServerPwd, tie_breaker);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

TEST(IceClientTest, TheNominatingCheckCarriesWhatAnIceLiteServerVerifies) {
  IceClient client = NewClient();
  std::array<uint8_t, kIceMaxCheckBytes> check{};
  const size_t length = client.BuildCheck(check, /*nominate=*/true);
  ASSERT_GT(length, ice::kStunHeaderBytes);
  const std::span<const uint8_t> datagram(check.data(), length);
  EXPECT_TRUE(ice::IsStun(datagram));
  ice::StunMessage message;
  ASSERT_EQ(ice::ParseStun(datagram, &message), ice::StunParseResult::kOk);
  EXPECT_TRUE(message.is_binding_request());
  ASSERT_TRUE(message.username.has_value());
  EXPECT_EQ(*message.username, "SeRv:cLiE");  // "<server ufrag>:<client ufrag>"
  EXPECT_EQ(message.priority, kIceCheckPriority);
  EXPECT_TRUE(message.use_candidate);
  EXPECT_EQ(message.ice_controlling, 0x0123456789abcdefULL);
  EXPECT_FALSE(message.ice_controlled.has_value());
  EXPECT_EQ(message.unknown_attribute_count, 0u);
  EXPECT_TRUE(ice::VerifyFingerprint(datagram, message));
  EXPECT_TRUE(ice::VerifyMessageIntegrity(datagram, message, Bytes(kServerPwd)));
  EXPECT_FALSE(ice::VerifyMessageIntegrity(datagram, message, Bytes(kClientPwd)));
  EXPECT_EQ(ice::StunUsernameLocalPart(datagram), "SeRv");

  // A retransmission is the same transaction; a consent check is a new one, without nomination.
  std::array<uint8_t, kIceMaxCheckBytes> again{};
  ASSERT_EQ(client.RebuildPending(again), length);
  ice::StunMessage retransmitted;
  ASSERT_EQ(ice::ParseStun(std::span<const uint8_t>(again.data(), length), &retransmitted),
            ice::StunParseResult::kOk);
  EXPECT_EQ(retransmitted.transaction_id, message.transaction_id);
  const size_t consent_length = client.BuildCheck(again, /*nominate=*/false);
  ice::StunMessage consent;
  ASSERT_EQ(ice::ParseStun(std::span<const uint8_t>(again.data(), consent_length), &consent),
            ice::StunParseResult::kOk);
  EXPECT_NE(consent.transaction_id, message.transaction_id);
  EXPECT_FALSE(consent.use_candidate);
  EXPECT_TRUE(ice::VerifyMessageIntegrity(std::span<const uint8_t>(again.data(), consent_length),
                                          consent, Bytes(kServerPwd)));
}

TEST(IceClientTest, TheServersAgentSelectsThePairAndItsAnswerCompletesTheCheck) {
  ice::IceLiteConfig config;
  config.local = {kServerUfrag, kServerPwd};
  config.remote = {kClientUfrag, kClientPwd};
  auto agent = ice::IceLiteAgent::Create(config);
  ASSERT_TRUE(agent.ok()) << agent.status();
  const absl::StatusOr<net::SocketAddress> from = net::SocketAddress::FromIp("127.0.0.1", 49123);
  ASSERT_TRUE(from.ok());

  IceClient client = NewClient();
  std::array<uint8_t, kIceMaxCheckBytes> check{};
  size_t length = client.BuildCheck(check, /*nominate=*/true);
  std::array<uint8_t, ice::kIceMaxResponseBytes> response{};
  size_t response_length = 0;
  EXPECT_EQ((*agent)->HandleBindingRequest(std::span<const uint8_t>(check.data(), length), *from,
                                           1'000'000, response, &response_length),
            ice::IceResult::kSelectedPair);
  ASSERT_NE((*agent)->selected(), nullptr);
  ASSERT_GT(response_length, 0u);
  const std::span<const uint8_t> answer(response.data(), response_length);

  // A stranger's answer (another transaction) is not taken; the server's is, once.
  IceClient other = NewClient();
  std::array<uint8_t, kIceMaxCheckBytes> unused{};
  other.BuildCheck(unused, true);
  EXPECT_EQ(other.HandleResponse(answer), IceClient::Response::kIgnored);
  EXPECT_TRUE(client.pending());
  EXPECT_EQ(client.HandleResponse(answer), IceClient::Response::kSuccess);
  EXPECT_FALSE(client.pending());
  EXPECT_EQ(client.HandleResponse(answer), IceClient::Response::kIgnored);

  // A consent check keeps the pair's consent fresh and is answered.
  length = client.BuildCheck(check, /*nominate=*/false);
  EXPECT_EQ((*agent)->HandleBindingRequest(std::span<const uint8_t>(check.data(), length), *from,
                                           6'000'000, response, &response_length),
            ice::IceResult::kResponded);
  EXPECT_EQ(client.HandleResponse(std::span<const uint8_t>(response.data(), response_length)),
            IceClient::Response::kSuccess);
  EXPECT_EQ((*agent)->last_check_us(), 6'000'000);
}

TEST(IceClientTest, AForgedAnswerIsIgnoredAndARefusalEndsTheCheck) {
  IceClient client = NewClient();
  std::array<uint8_t, kIceMaxCheckBytes> check{};
  const size_t length = client.BuildCheck(check, true);
  ice::StunMessage request;
  ASSERT_EQ(ice::ParseStun(std::span<const uint8_t>(check.data(), length), &request),
            ice::StunParseResult::kOk);
  const absl::StatusOr<net::SocketAddress> mapped = net::SocketAddress::FromIp("127.0.0.1", 1);
  ASSERT_TRUE(mapped.ok());
  // Signed with a password other than the server's: not authentic.
  auto wrong_key = ice::StunIntegrityKey::Create(std::string_view(kClientPwd));
  ASSERT_TRUE(wrong_key.ok());
  std::array<uint8_t, ice::kIceMaxResponseBytes> forged{};
  const size_t forged_length =
      ice::BuildBindingSuccessResponse(forged, request.transaction_id, *mapped, *wrong_key);
  EXPECT_EQ(client.HandleResponse(std::span<const uint8_t>(forged.data(), forged_length)),
            IceClient::Response::kIgnored);
  EXPECT_TRUE(client.pending());
  // Not STUN at all.
  const uint8_t rtp[12] = {0x80, 111};
  EXPECT_EQ(client.HandleResponse(rtp), IceClient::Response::kIgnored);
  // The server's 401 for this transaction ends it.
  std::array<uint8_t, ice::kIceMaxResponseBytes> refusal{};
  const size_t refusal_length = ice::BuildBindingErrorResponse(
      refusal, request.transaction_id, ice::kStunErrorUnauthorized, nullptr);
  EXPECT_EQ(client.HandleResponse(std::span<const uint8_t>(refusal.data(), refusal_length)),
            IceClient::Response::kError);
  EXPECT_FALSE(client.pending());
}

TEST(IceClientTest, RefusesCredentialsOutsideRfc8839) {
  EXPECT_FALSE(IceClient::Create("abc", kServerUfrag, kServerPwd, 1).ok());  // ufrag too short
  EXPECT_FALSE(IceClient::Create(kClientUfrag, kServerUfrag, "short", 1).ok());
  EXPECT_FALSE(IceClient::Create(kClientUfrag, "bad ufrag", kServerPwd, 1).ok());
}

// ----- DTLS -----

using Datagram = std::vector<uint8_t>;

struct Queue final : DtlsClient::Sink {
  void SendDatagram(std::span<const uint8_t> datagram) override {
    datagrams.emplace_back(datagram.begin(), datagram.end());
  }
  std::deque<Datagram> datagrams;
};

struct Server final : dtls::DtlsTransport::Listener {
  void OnDtlsSend(std::span<const uint8_t> datagram) override {
    datagrams.emplace_back(datagram.begin(), datagram.end());
  }
  void OnDtlsConnected(const dtls::SrtpKeys& k) override { keys.emplace(k); }
  void OnDtlsFailed(dtls::DtlsFailure reason) override { failure = reason; }
  void OnDtlsClosed() override {}
  std::deque<Datagram> datagrams;
  std::optional<dtls::SrtpKeys> keys;
  std::optional<dtls::DtlsFailure> failure;
};

bool SameBytes(const srtp::SrtpKeyMaterial& a, const srtp::SrtpKeyMaterial& b) {
  return std::ranges::equal(a.bytes(), b.bytes());
}

// Runs a handshake in memory; returns the client's state at the end.
struct Handshake {
  explicit Handshake(const std::string& profiles) {
    auto generated = dtls::DtlsCertificate::Generate();
    EXPECT_TRUE(generated.ok());
    server_certificate = *generated;
    auto context_or = DtlsClientContext::Create(profiles);
    EXPECT_TRUE(context_or.ok()) << context_or.status();
    context = *std::move(context_or);
    auto identity = ClientCertificate::Generate();
    EXPECT_TRUE(identity.ok()) << identity.status();
    client_certificate = *identity;
    auto client_or = DtlsClient::Create(*context, client_certificate, &to_server, 50'000);
    EXPECT_TRUE(client_or.ok()) << client_or.status();
    client = *std::move(client_or);
    dtls::DtlsFingerprint fingerprint;
    fingerprint.sha256 = client_certificate->fingerprint_sha256();
    auto transport =
        dtls::DtlsTransport::Create(server_certificate, fingerprint, &server, base::RealClock());
    EXPECT_TRUE(transport.ok()) << transport.status();
    server_transport = *std::move(transport);
  }

  DtlsClient::State Run(const std::array<uint8_t, 32>& expected_server_fingerprint) {
    client->Start(expected_server_fingerprint);
    for (int round = 0; round < 32; ++round) {
      if (to_server.datagrams.empty() && server.datagrams.empty()) break;
      while (!to_server.datagrams.empty()) {
        server_transport->HandleDatagram(to_server.datagrams.front());
        to_server.datagrams.pop_front();
      }
      while (!server.datagrams.empty()) {
        client->Receive(server.datagrams.front());
        server.datagrams.pop_front();
      }
    }
    return client->state();
  }

  std::shared_ptr<const dtls::DtlsCertificate> server_certificate;
  std::unique_ptr<DtlsClientContext> context;
  std::shared_ptr<const ClientCertificate> client_certificate;
  Queue to_server;
  Server server;
  std::unique_ptr<DtlsClient> client;
  std::unique_ptr<dtls::DtlsTransport> server_transport;
};

std::array<uint8_t, 32> FingerprintOf(const dtls::DtlsCertificate& certificate) {
  std::array<uint8_t, 32> out{};
  std::ranges::copy(certificate.fingerprint_sha256(), out.begin());
  return out;
}

TEST(DtlsClientTest, HandshakesWithTheServerTransportAndThePairedKeysMatch) {
  Handshake h("SRTP_AES128_CM_SHA1_80");
  EXPECT_EQ(h.client->ExportSrtpKeys().status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(h.Run(FingerprintOf(*h.server_certificate)), DtlsClient::State::kConnected)
      << h.client->failure();
  ASSERT_TRUE(h.server.keys.has_value());
  const absl::StatusOr<dtls::SrtpKeys> keys = h.client->ExportSrtpKeys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  // The suite of the SDES participants, and what the client writes is what the server reads.
  EXPECT_EQ(keys->suite, srtp::SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(h.server.keys->suite, keys->suite);
  EXPECT_TRUE(SameBytes(keys->local, h.server.keys->remote));
  EXPECT_TRUE(SameBytes(keys->remote, h.server.keys->local));
  EXPECT_FALSE(SameBytes(keys->local, keys->remote));
  // Nothing is left to retransmit.
  EXPECT_FALSE(h.client->OnTimer());
}

TEST(DtlsClientTest, OffersGcmFirstLikeABrowserWhenAskedTo) {
  Handshake h("SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80");
  ASSERT_EQ(h.Run(FingerprintOf(*h.server_certificate)), DtlsClient::State::kConnected)
      << h.client->failure();
  const absl::StatusOr<dtls::SrtpKeys> keys = h.client->ExportSrtpKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->suite, srtp::SrtpSuite::kAeadAes128Gcm);
  EXPECT_TRUE(SameBytes(keys->local, h.server.keys->remote));
}

TEST(DtlsClientTest, AServerCertificateOtherThanTheAnswersFailsTheHandshake) {
  Handshake h("SRTP_AES128_CM_SHA1_80");
  std::array<uint8_t, 32> wrong = FingerprintOf(*h.server_certificate);
  wrong[7] ^= 1;
  EXPECT_EQ(h.Run(wrong), DtlsClient::State::kFailed);
  EXPECT_NE(h.client->failure().find("fingerprint"), std::string::npos) << h.client->failure();
  EXPECT_FALSE(h.client->ExportSrtpKeys().ok());
}

TEST(DtlsClientTest, RefusesAnUnknownSrtpProfile) {
  EXPECT_FALSE(DtlsClientContext::Create("SRTP_NOT_A_PROFILE").ok());
}

}  // namespace
}  // namespace chorus::loadgen
