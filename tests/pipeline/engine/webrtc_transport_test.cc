#include "pipeline/engine/webrtc_transport.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

// GCC 12 reports a false -Wrestrict in std::string assignments at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/codec/audio_encoder.h"
#include "pipeline/dtls/dtls_fingerprint.h"
#include "pipeline/dtls/dtls_srtp.h"
#include "pipeline/engine/datagram_queue.h"
#include "pipeline/engine/engine.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/ice/ice_lite.h"
#include "pipeline/ice/stun.h"
#include "pipeline/net/socket_address.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/rtp/byte_io.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/rtp/transport_feedback.h"
#include "pipeline/srtp/srtp_session.h"
#include "tests/pipeline/dtls/dtls_test_peer.h"

// WebRTC on the media node, end to end over loopback UDP: a real MediaEngine with WebRTC
// endpoints on its workers' shared port, and the test as the browser (its own UDP socket, ICE
// checks built with pipeline/ice, a real DTLS client, SRTP with the keys that client exports).
// Every judgement waits on a deadline for what it expects (a STUN answer, a counter); a STUN
// check answered on the same socket serves as a barrier: the worker handles a socket's
// datagrams in order, so once a check is answered everything sent before it has been handled.
//
// Ports: 42800-42899 (each engine takes a block of ten: its WebRTC port, then its media range).

namespace chorus::engine {
namespace {

using dtls::testing::TestClientIdentity;
using dtls::testing::TestClientOptions;
using dtls::testing::TestDtlsClient;

constexpr double kPi = 3.14159265358979323846;

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// Polls `condition` until it holds or `timeout_us` passes; its last value.
template <typename Condition>
bool WaitUntil(Condition condition, int64_t timeout_us = 10'000'000) {
  const int64_t deadline = NowUs() + timeout_us;
  while (!condition()) {
    if (NowUs() >= deadline) return condition();
    usleep(1000);
  }
  return true;
}

bool Readable(int fd, int timeout_ms) {
  pollfd entry{fd, POLLIN, 0};
  return poll(&entry, 1, timeout_ms) == 1 && (entry.revents & POLLIN) != 0;
}

// The engine's drop counters from the moment of construction.
class DropCounts {
 public:
  explicit DropCounts(MediaEngine& engine) : engine_(engine) {
    for (size_t i = 0; i < kDropReasonCount; ++i) before_[i] = Now(static_cast<DropReason>(i));
  }
  uint64_t Since(DropReason reason) const {
    return Now(reason) - before_[static_cast<size_t>(reason)];
  }
  // Waits until at least `count` drops of `reason` were counted since construction.
  bool WaitFor(DropReason reason, uint64_t count, int64_t timeout_us = 10'000'000) const {
    return WaitUntil([&] { return Since(reason) >= count; }, timeout_us);
  }

 private:
  uint64_t Now(DropReason reason) const {
    return engine_.stats().drops[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }
  MediaEngine& engine_;
  std::array<uint64_t, kDropReasonCount> before_{};
};

// One engine with one media worker, its WebRTC port at `webrtc_port` and its media range the
// nine ports after it.
std::unique_ptr<MediaEngine> StartEngine(uint16_t webrtc_port) {
  EngineOptions options;
  options.workers = 1;
  options.video_workers = 1;
  options.webrtc_port = webrtc_port;
  options.port_min = static_cast<uint16_t>(webrtc_port + 1);
  options.port_max = static_cast<uint16_t>(webrtc_port + 9);
  auto engine = MediaEngine::Create(options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

// A 20 ms Opus frame of a tone, encoded once.
const std::vector<uint8_t>& OpusFrame() {
  static const std::vector<uint8_t> frame = [] {
    auto encoder = *codec::AudioEncoder::Create({});
    std::vector<int16_t> samples(960);
    std::vector<uint8_t> payload(1500);
    int size = 0;
    for (int frame = 0; frame < 5 || size <= 0; ++frame) {
      for (int i = 0; i < 960; ++i) {
        samples[i] =
            static_cast<int16_t>(8000 * std::sin(2 * kPi * 440 * (frame * 960 + i) / 48000));
      }
      size = encoder->Encode(samples, payload);
    }
    payload.resize(static_cast<size_t>(size));
    return payload;
  }();
  return frame;
}

std::shared_ptr<const TestClientIdentity> SharedIdentity() {
  static const std::shared_ptr<const TestClientIdentity> identity = TestClientIdentity::Generate();
  return identity;
}

std::optional<EndpointStatsSnapshot> EndpointStats(MediaEngine& engine, const std::string& session,
                                                   const std::string& id) {
  auto stats = engine.GetSessionStats(session);
  if (!stats.ok()) return std::nullopt;
  for (const EndpointStatsSnapshot& endpoint : stats->endpoints) {
    if (endpoint.id == id) return endpoint;
  }
  return std::nullopt;
}

uint64_t PacketsReceived(MediaEngine& engine, const std::string& session, const std::string& id) {
  const auto stats = EndpointStats(engine, session, id);
  return stats.has_value() ? stats->packets_received : 0;
}

// The browser: its UDP socket, ICE credentials, DTLS client and SRTP sessions. Everything that
// arrives from the node is sorted by RFC 7983: STUN kept for whoever waits for it, DTLS handed to
// the DTLS client (and alerts counted), SRTP unprotected and counted.
class Browser {
 public:
  Browser(const std::string& ufrag, uint32_t ssrc)
      : identity_(SharedIdentity()), ssrc_(ssrc), random_(ssrc) {
    auto socket = net::UdpSocket::Bind(*net::SocketAddress::FromIp("127.0.0.1", 0));
    EXPECT_TRUE(socket.ok()) << socket.status();
    if (socket.ok()) socket_ = *std::move(socket);
    ice_.ufrag = ufrag;
    ice_.pwd = ufrag + "BrowserPassword0123456789";  // ice-chars only (RFC 8839)
  }

  // What a browser's offer makes of this participant: WebRTC, Opus on 111, one audio SSRC.
  EndpointConfig Offer(const std::string& id) const {
    EndpointConfig config;
    config.id = id;
    config.secure = true;
    config.webrtc.enabled = true;
    config.webrtc.remote_ufrag = ice_.ufrag;
    config.webrtc.remote_pwd = ice_.pwd;
    config.webrtc.remote_fingerprint = identity_->fingerprint().sha256;
    config.webrtc.audio_ssrcs = {ssrc_};
    config.webrtc.audio_transport_cc_id = transport_cc_id_;
    config.codec.codec = codec::AudioCodec::kOpus;
    config.codec.payload_type = 111;
    config.codec.channels = 2;
    return config;
  }

  // Adds the endpoint `id` to `session` and keeps the answer.
  absl::Status Join(MediaEngine& engine, const std::string& session, const std::string& id) {
    auto answer = engine.AddEndpoint(session, Offer(id));
    if (!answer.ok()) {
      ADD_FAILURE() << "AddEndpoint(" << session << ", " << id << "): " << answer.status();
      return answer.status();
    }
    answer_ = *answer;
    server_ = answer_.webrtc.local;
    return absl::OkStatus();
  }

  // Talks to the node as if it had been given `answer` (another participant's, to forge checks).
  void UseAnswer(const EndpointAnswer& answer) {
    answer_ = answer;
    server_ = answer.webrtc.local;
  }

  const EndpointAnswer& answer() const { return answer_; }
  const net::SocketAddress& address() const { return socket_->local_address(); }
  const net::SocketAddress& server() const { return server_; }
  std::string username() const { return answer_.webrtc.local_ufrag + ":" + ice_.ufrag; }

  // Sends a connectivity check with `username`, keyed with `password` (the answer's by default).
  ice::StunTransactionId SendCheck(bool use_candidate = true,
                                   std::optional<std::string> username = std::nullopt,
                                   std::optional<std::string> password = std::nullopt) {
    ice::StunTransactionId id;
    for (uint8_t& byte : id) byte = static_cast<uint8_t>(random_());
    const std::string user = username.value_or(this->username());
    auto key = ice::StunIntegrityKey::Create(password.value_or(answer_.webrtc.local_pwd));
    EXPECT_TRUE(key.ok()) << key.status();
    if (!key.ok()) return id;
    ice::StunBindingRequest request;
    request.transaction_id = id;
    request.username = user;
    request.priority = 1853824767;
    request.use_candidate = use_candidate;
    request.controlling = true;
    request.tie_breaker = 0x0123456789ABCDEFull ^ ssrc_;
    std::array<uint8_t, 512> datagram{};
    const size_t size = ice::BuildBindingRequest(datagram, request, *key);
    EXPECT_GT(size, 0u);
    Send(std::span<const uint8_t>(datagram.data(), size));
    return id;
  }

  // The STUN message answering `id`, waited for until `timeout_us`; nullopt when none came.
  std::optional<std::vector<uint8_t>> AwaitStun(const ice::StunTransactionId& id,
                                                int64_t timeout_us = 5'000'000) {
    const int64_t deadline = NowUs() + timeout_us;
    for (;;) {
      if (auto found = TakeStun(id)) return found;
      const int64_t left_ms = (deadline - NowUs()) / 1000;
      if (left_ms <= 0) return std::nullopt;
      if (Readable(socket_->fd(), static_cast<int>(std::min<int64_t>(left_ms, 50)))) Drain();
    }
  }

  // A check answered with a success: the pair is validated (and selected with USE-CANDIDATE).
  // Doubles as a barrier: the node has handled everything this socket sent before.
  bool Check(bool use_candidate = true) {
    const auto response = AwaitStun(SendCheck(use_candidate));
    if (!response.has_value()) return false;
    ice::StunMessage message;
    return ice::ParseStun(*response, &message) == ice::StunParseResult::kOk &&
           message.message_class == ice::StunClass::kSuccessResponse;
  }

  // A DTLS handshake through the socket, then the SRTP sessions from the exported keys.
  bool Handshake(int64_t timeout_us = 20'000'000) {
    TestClientOptions options;
    dtls::DtlsFingerprint server;
    server.sha256 = answer_.webrtc.fingerprint;
    options.expected_server_fingerprint = server;  // the node's certificate, as in the answer
    options.initial_timeout_us = 250'000;
    dtls_ = std::make_unique<TestDtlsClient>(options, identity_);
    dtls_->Start();
    FlushDtls();
    const int64_t deadline = NowUs() + timeout_us;
    while (!dtls_->connected() && !dtls_->failed() && NowUs() < deadline) {
      if (Readable(socket_->fd(), 20)) Drain();
      dtls_->HandleTimeout();
      FlushDtls();
    }
    if (!dtls_->connected()) return false;
    const auto suite = dtls::SuiteFromSrtpProfile(dtls_->selected_profile());
    if (!suite.has_value()) return false;
    const std::vector<uint8_t> material =
        dtls_->ExportKeyingMaterial(dtls::DtlsSrtpExportLength(*suite));
    auto keys = dtls::SplitDtlsSrtpKeyingMaterial(*suite, material, dtls::DtlsRole::kClient);
    if (!keys.ok()) return false;
    auto outbound = srtp::SrtpSession::Create(keys->local, srtp::Direction::kOutbound);
    auto inbound = srtp::SrtpSession::Create(keys->remote, srtp::Direction::kInbound);
    if (!outbound.ok() || !inbound.ok()) return false;
    outbound_ = *std::move(outbound);
    inbound_ = *std::move(inbound);
    return true;
  }

  // Offers the transport-wide sequence number extension with `id`, and numbers its packets.
  void UseTransportCc(uint8_t id) { transport_cc_id_ = id; }
  // The transport-wide sequence number the next packet carries (with UseTransportCc).
  uint16_t transport_sequence() const { return transport_sequence_; }
  // Numbers skipped, as if the packet that carried them had been lost on the way.
  void SkipTransportSequence(uint16_t count) { transport_sequence_ += count; }

  // One SRTP-protected Opus packet of its audio stream (or of another SSRC).
  void SendAudio(std::optional<uint32_t> ssrc = std::nullopt) {
    ASSERT_NE(outbound_, nullptr);
    std::array<uint8_t, 1500> buffer{};
    rtp::RtpPacketBuilder builder;
    builder.set_payload_type(111);
    builder.set_sequence_number(sequence_++);
    builder.set_timestamp(timestamp_);
    timestamp_ += 960;
    builder.set_ssrc(ssrc.value_or(ssrc_));
    uint8_t transport_sequence[2];
    if (transport_cc_id_ != 0) {
      rtp::internal::Write16(transport_sequence, transport_sequence_++);
      builder.AddExtension(transport_cc_id_, transport_sequence);
    }
    const size_t length = builder.Build(OpusFrame(), std::span<uint8_t>(buffer).first(1400));
    ASSERT_GT(length, 0u);
    size_t protected_length = 0;
    ASSERT_EQ(outbound_->ProtectRtp(buffer, length, &protected_length), srtp::SrtpResult::kOk);
    Send(std::span<const uint8_t>(buffer.data(), protected_length));
    last_audio_.assign(buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(protected_length));
    ++audio_sent_;
  }

  void Send(std::span<const uint8_t> datagram) { (void)socket_->Send(datagram, server_); }

  // A compound RTCP packet from its audio SSRC: an empty receiver report, then `feedback`
  // (built by `build` into the rest of the buffer), SRTCP-protected.
  template <typename Build>
  void SendRtcp(Build build) {
    ASSERT_NE(outbound_, nullptr);
    std::array<uint8_t, 1500> buffer{};
    size_t length = rtp::BuildRr(ssrc_, {}, buffer);
    ASSERT_GT(length, 0u);
    const size_t feedback = build(std::span<uint8_t>(buffer).subspan(length, 200));
    ASSERT_GT(feedback, 0u);
    length += feedback;
    size_t protected_length = 0;
    ASSERT_EQ(outbound_->ProtectRtcp(buffer, length, &protected_length), srtp::SrtpResult::kOk);
    Send(std::span<const uint8_t>(buffer.data(), protected_length));
  }

  // Reads whatever is waiting now.
  void Drain() {
    std::array<uint8_t, 2048> buffer;
    for (;;) {
      net::SocketAddress from;
      const int length = socket_->Receive(buffer, &from);
      if (length == -1) return;
      if (length < 0) continue;
      Sort(std::span<uint8_t>(buffer.data(), static_cast<size_t>(length)), from);
    }
  }

  // Whether the DTLS client got the node's close_notify by `timeout_us`.
  bool AwaitCloseNotify(int64_t timeout_us) {
    return WaitUntil(
        [&] {
          Drain();
          return dtls_ != nullptr && dtls_->received_close_notify();
        },
        timeout_us);
  }

  TestDtlsClient* dtls() { return dtls_.get(); }
  uint64_t audio_sent() const { return audio_sent_; }
  // The last SRTP packet SendAudio sent, as sent.
  const std::vector<uint8_t>& last_audio() const { return last_audio_; }
  uint64_t dtls_received() const { return dtls_received_; }
  uint64_t dtls_alerts() const { return dtls_alerts_; }
  // SRTP that arrived once the client had its keys, and how much of it unprotected.
  uint64_t srtp_received() const { return srtp_received_; }
  uint64_t srtp_unprotected() const { return srtp_unprotected_; }
  // The sequence numbers of the RTP packets unprotected from the node's stream `ssrc`, in the
  // order they came.
  std::vector<uint16_t> sequences_from(uint32_t ssrc) const {
    auto it = sequences_.find(ssrc);
    return it == sequences_.end() ? std::vector<uint16_t>() : it->second;
  }
  uint64_t rtp_from(uint32_t ssrc) const { return sequences_from(ssrc).size(); }
  // The next RTP packet of `ssrc` is thrown away unread, as if lost on the way; lost() then
  // tells its sequence number.
  void LoseNext(uint32_t ssrc) { lose_ssrc_ = ssrc; }
  const std::optional<uint16_t>& lost() const { return lost_sequence_; }
  // Every DTLS datagram came from the node's WebRTC port.
  bool dtls_from_server_only() const { return dtls_from_elsewhere_ == 0; }
  // Clear RTCP packets received from the node (each datagram as unprotected).
  const std::vector<std::vector<uint8_t>>& rtcp() const { return rtcp_; }
  // STUN that nobody waited for (late answers, errors).
  const std::vector<std::vector<uint8_t>>& stray_stun() const { return stun_; }
  size_t stun_waiting() const { return stun_.size(); }

 private:
  void Sort(std::span<uint8_t> datagram, const net::SocketAddress& from) {
    const uint8_t first = datagram[0];
    if (first <= 3) {
      stun_.emplace_back(datagram.begin(), datagram.end());
    } else if (first >= 20 && first <= 63) {
      ++dtls_received_;
      if (!(from == server_)) ++dtls_from_elsewhere_;
      if (first == 21) ++dtls_alerts_;  // an alert record (close_notify, or a fatal one)
      if (dtls_ != nullptr) {
        dtls_->Receive(datagram);
        FlushDtls();
      }
    } else if (first >= 128 && first <= 191) {
      if (inbound_ == nullptr) {
        ++srtp_before_keys_;  // sent as soon as the node had its keys, before the client had
      } else if (lose_ssrc_.has_value() && !rtp::IsRtcp(datagram) && datagram.size() >= 12 &&
                 rtp::internal::Read32(&datagram[8]) == *lose_ssrc_) {
        lost_sequence_ = rtp::internal::Read16(&datagram[2]);  // as if lost on the way
        lose_ssrc_.reset();
      } else {
        ++srtp_received_;
        size_t clear = 0;
        const bool rtcp = rtp::IsRtcp(datagram);
        const srtp::SrtpResult result =
            rtcp ? inbound_->UnprotectRtcp(datagram, datagram.size(), &clear)
                 : inbound_->UnprotectRtp(datagram, datagram.size(), &clear);
        if (result == srtp::SrtpResult::kOk) ++srtp_unprotected_;
        if (result == srtp::SrtpResult::kOk && !rtcp && clear >= 12) {
          sequences_[rtp::internal::Read32(&datagram[8])].push_back(
              rtp::internal::Read16(&datagram[2]));
        }
        if (result == srtp::SrtpResult::kOk && rtcp) {
          rtcp_.emplace_back(datagram.begin(), datagram.begin() + static_cast<ptrdiff_t>(clear));
        }
      }
    }
  }

  std::optional<std::vector<uint8_t>> TakeStun(const ice::StunTransactionId& id) {
    for (auto it = stun_.begin(); it != stun_.end(); ++it) {
      ice::StunMessage message;
      if (ice::ParseStun(*it, &message) != ice::StunParseResult::kOk) continue;
      if (message.transaction_id != id) continue;
      std::vector<uint8_t> found = std::move(*it);
      stun_.erase(it);
      return found;
    }
    return std::nullopt;
  }

  void FlushDtls() {
    if (dtls_ == nullptr) return;
    for (const auto& datagram : dtls_->TakeOutgoing()) Send(datagram);
  }

  std::shared_ptr<const TestClientIdentity> identity_;
  const uint32_t ssrc_;
  std::mt19937_64 random_;
  std::unique_ptr<net::UdpSocket> socket_;
  ice::IceCredentials ice_;
  EndpointAnswer answer_;
  net::SocketAddress server_;
  std::unique_ptr<TestDtlsClient> dtls_;
  std::unique_ptr<srtp::SrtpSession> outbound_;
  std::unique_ptr<srtp::SrtpSession> inbound_;
  uint16_t sequence_ = 1000;
  uint32_t timestamp_ = 160000;
  uint8_t transport_cc_id_ = 0;
  uint16_t transport_sequence_ = 65500;  // wraps during a test
  uint64_t audio_sent_ = 0;
  std::vector<uint8_t> last_audio_;
  uint64_t dtls_received_ = 0;
  uint64_t dtls_from_elsewhere_ = 0;
  uint64_t dtls_alerts_ = 0;
  uint64_t srtp_before_keys_ = 0;
  uint64_t srtp_received_ = 0;
  std::map<uint32_t, std::vector<uint16_t>> sequences_;
  std::optional<uint32_t> lose_ssrc_;
  std::optional<uint16_t> lost_sequence_;
  uint64_t srtp_unprotected_ = 0;
  std::vector<std::vector<uint8_t>> stun_;
  std::vector<std::vector<uint8_t>> rtcp_;
};

// A datagram that looks like SRTP (RFC 7983: first byte 128..191) but is none.
std::vector<uint8_t> FakeSrtp(uint32_t ssrc) {
  std::vector<uint8_t> packet(60, 0x5a);
  packet[0] = 0x80;
  packet[1] = 111;
  packet[8] = static_cast<uint8_t>(ssrc >> 24);
  packet[9] = static_cast<uint8_t>(ssrc >> 16);
  packet[10] = static_cast<uint8_t>(ssrc >> 8);
  packet[11] = static_cast<uint8_t>(ssrc);
  return packet;
}

// ----- DatagramQueue -----

std::vector<uint8_t> Numbered(uint64_t index, size_t length) {
  std::vector<uint8_t> datagram(length);
  for (size_t i = 0; i < length; ++i) datagram[i] = static_cast<uint8_t>(index * 31 + i);
  return datagram;
}

TEST(DatagramQueueTest, KeepsOrderAndLengthsAcrossManyWraps) {
  auto queue = DatagramQueue::Create(8);
  ASSERT_TRUE(queue.ok()) << queue.status();
  std::array<uint8_t, DatagramQueue::kSlotBytes> buffer{};
  uint64_t pushed = 0;
  uint64_t popped = 0;
  for (int round = 0; round < 500; ++round) {
    const int burst = 1 + round % 8;  // up to the capacity
    for (int i = 0; i < burst; ++i, ++pushed) {
      ASSERT_TRUE((*queue)->Push(Numbered(pushed, 1 + (pushed * 37) % 1500))) << pushed;
    }
    for (int i = 0; i < burst; ++i, ++popped) {
      const int length = (*queue)->Pop(buffer);
      const std::vector<uint8_t> expected = Numbered(popped, 1 + (popped * 37) % 1500);
      ASSERT_EQ(length, static_cast<int>(expected.size())) << popped;
      ASSERT_TRUE(std::equal(expected.begin(), expected.end(), buffer.begin())) << popped;
    }
    ASSERT_EQ((*queue)->Pop(buffer), -1);
  }
  // A slot holds a whole 1500-byte datagram; a larger one is refused and leaves no trace.
  EXPECT_TRUE((*queue)->Push(std::vector<uint8_t>(1500, 0xab)));
  EXPECT_FALSE((*queue)->Push(std::vector<uint8_t>(1501, 0xcd)));
  EXPECT_EQ((*queue)->Pop(buffer), 1500);
  EXPECT_EQ(buffer[1499], 0xab);
  EXPECT_EQ((*queue)->Pop(buffer), -1);
  // A datagram larger than the reader's buffer is dropped (-2); the next one still comes.
  ASSERT_TRUE((*queue)->Push(std::vector<uint8_t>(100, 1)));
  ASSERT_TRUE((*queue)->Push(std::vector<uint8_t>(10, 2)));
  std::array<uint8_t, 50> small{};
  EXPECT_EQ((*queue)->Pop(small), -2);
  EXPECT_EQ((*queue)->Pop(small), 10);
  EXPECT_EQ(small[9], 2);
  EXPECT_EQ((*queue)->Pop(small), -1);
}

TEST(DatagramQueueTest, AFullQueueDropsAndTakesAgainOnceASlotIsFree) {
  auto queue = DatagramQueue::Create(5);  // rounded up to 8
  ASSERT_TRUE(queue.ok()) << queue.status();
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE((*queue)->Push(Numbered(i, 20))) << i;
  EXPECT_FALSE((*queue)->Push(Numbered(99, 20)));  // full: dropped
  EXPECT_FALSE((*queue)->Push(Numbered(99, 20)));
  std::array<uint8_t, DatagramQueue::kSlotBytes> buffer{};
  ASSERT_EQ((*queue)->Pop(buffer), 20);
  EXPECT_EQ(buffer[0], Numbered(0, 20)[0]);
  EXPECT_TRUE((*queue)->Push(Numbered(8, 20)));  // one slot free again
  EXPECT_FALSE((*queue)->Push(Numbered(99, 20)));
  // Nothing of the dropped ones shows: 1..8 in order, then empty.
  for (uint64_t i = 1; i <= 8; ++i) {
    ASSERT_EQ((*queue)->Pop(buffer), 20) << i;
    const std::vector<uint8_t> expected = Numbered(i, 20);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), buffer.begin())) << i;
  }
  EXPECT_EQ((*queue)->Pop(buffer), -1);
}

// The eventfd is readable whenever a datagram waits; the Pop that finds the queue empty (-1)
// resets it, so a consumer that reads until -1 sleeps in epoll until the next push.
TEST(DatagramQueueTest, ItsEventFdIsReadableWhileDatagramsWait) {
  auto queue = DatagramQueue::Create(16);
  ASSERT_TRUE(queue.ok()) << queue.status();
  const int fd = (*queue)->fd();
  std::array<uint8_t, DatagramQueue::kSlotBytes> buffer{};
  EXPECT_FALSE(Readable(fd, 0));
  EXPECT_EQ((*queue)->Pop(buffer), -1);
  EXPECT_FALSE(Readable(fd, 0));
  for (int round = 0; round < 200; ++round) {
    const int count = 1 + round % 16;
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE((*queue)->Push(Numbered(static_cast<uint64_t>(i), 30)));
      ASSERT_TRUE(Readable(fd, 0)) << round << " after push " << i;
    }
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(Readable(fd, 0)) << round << ": " << count - i << " waiting";
      ASSERT_EQ((*queue)->Pop(buffer), 30);
    }
    ASSERT_EQ((*queue)->Pop(buffer), -1);
    ASSERT_FALSE(Readable(fd, 0)) << round << ": empty after -1";
  }
  // Full and dropping: still readable, and not after it is drained.
  for (int i = 0; i < 20; ++i) (void)(*queue)->Push(Numbered(static_cast<uint64_t>(i), 30));
  EXPECT_TRUE(Readable(fd, 0));
  int drained = 0;
  while ((*queue)->Pop(buffer) >= 0) ++drained;
  EXPECT_EQ(drained, 16);
  EXPECT_FALSE(Readable(fd, 0));
}

// A producer thread and a consumer thread (which waits on the eventfd as an event loop would, and
// reads until -1): 100k datagrams of varied sizes, none lost, none reordered, none corrupted, as
// long as the producer stays within the capacity (it then never sees the queue full).
TEST(DatagramQueueTest, TwoThreadsPassAHundredThousandDatagramsInOrder) {
  constexpr uint64_t kCount = 100'000;
  constexpr uint64_t kCapacity = 256;
  auto created = DatagramQueue::Create(kCapacity);
  ASSERT_TRUE(created.ok()) << created.status();
  DatagramQueue& queue = **created;
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<bool> abort{false};
  auto length_of = [](uint64_t index) { return static_cast<size_t>(8 + (index * 7919) % 1492); };
  auto byte_of = [](uint64_t index, size_t at) { return static_cast<uint8_t>(index * 131 + at); };
  const int64_t start = NowUs();
  std::thread producer([&] {
    std::array<uint8_t, DatagramQueue::kSlotBytes> datagram{};
    for (uint64_t i = 0; i < kCount && !abort.load(); ++i) {
      while (i - consumed.load(std::memory_order_acquire) >= kCapacity) {
        if (abort.load()) return;
        std::this_thread::yield();
      }
      const size_t length = length_of(i);
      std::memcpy(datagram.data(), &i, sizeof(i));
      for (size_t at = sizeof(i); at < length; ++at) datagram[at] = byte_of(i, at);
      if (!queue.Push(std::span<const uint8_t>(datagram.data(), length))) {
        refused.fetch_add(1);
      }
    }
  });
  std::array<uint8_t, DatagramQueue::kSlotBytes> buffer{};
  uint64_t next = 0;
  uint64_t bad = 0;
  uint64_t lost_wakeups = 0;
  while (next < kCount && bad == 0) {
    // A level-triggered wait with a generous timeout: a datagram that waits while the eventfd
    // says nothing would show as a timeout with the queue not empty.
    if (!Readable(queue.fd(), 10'000)) {
      ++lost_wakeups;
      break;
    }
    for (;;) {
      const int length = queue.Pop(buffer);
      if (length == -1) break;
      uint64_t index = 0;
      std::memcpy(&index, buffer.data(), sizeof(index));
      bool ok = length == static_cast<int>(length_of(next)) && index == next;
      for (size_t at = sizeof(index); ok && at < static_cast<size_t>(length); ++at) {
        ok = buffer[at] == byte_of(next, at);
      }
      if (!ok) {
        ADD_FAILURE() << "datagram " << next << " arrived as " << index << " (" << length
                      << " bytes)";
        ++bad;
        break;
      }
      ++next;
      consumed.store(next, std::memory_order_release);
    }
  }
  abort.store(true);
  producer.join();
  EXPECT_EQ(next, kCount);
  EXPECT_EQ(refused.load(), 0u);
  EXPECT_EQ(lost_wakeups, 0u);
  EXPECT_EQ(queue.Pop(buffer), -1);
  std::printf("[ timing ] 100k datagrams through the queue in %.0f ms\n",
              static_cast<double>(NowUs() - start) / 1000);
}

// "Readable while datagrams wait" must hold for any consumer, not only for one that reads until
// -1: an event loop may take a bounded number per wakeup and count on the eventfd to bring it
// back (the endpoints take at most 64; a video endpoint pops on the video worker while the
// transport pushes on the media worker). Here the consumer takes one per wakeup while the
// producer pushes bursts of two or three as soon as the queue is empty. Whenever the producer
// has finished a burst (every Push, its eventfd write included, returned) and datagrams wait,
// the eventfd must be readable; otherwise the consumer sleeps with datagrams in the queue until
// some later push.
//
// It failed within a second or so before Pop re-armed the eventfd: Pop found the queue empty,
// reset the eventfd with read(2), then took one datagram; pushes that landed between the empty
// check and the read had their eventfd writes swallowed, and when more than one landed, the rest
// waited with the eventfd at zero.
TEST(DatagramQueueTest, AConsumerTakingOnePerWakeupIsNeverLeftWithUnsignalledDatagrams) {
  constexpr int64_t kRunUs = 2'000'000;
  auto created = DatagramQueue::Create(64);
  ASSERT_TRUE(created.ok()) << created.status();
  DatagramQueue& queue = **created;
  std::atomic<uint64_t> pushed{0};
  std::atomic<uint64_t> consumed{0};
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    std::minstd_rand random(11);
    const std::array<uint8_t, 64> datagram{};
    uint64_t total = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int spins = 0; consumed.load(std::memory_order_acquire) != total; ++spins) {
        if (stop.load(std::memory_order_relaxed)) return;
        if (spins > 10'000) std::this_thread::yield();  // the consumer may be off its core
      }
      // A varying delay, so the burst lands at every point of the consumer's Pop.
      for (int spin = static_cast<int>(random() % 200); spin > 0; --spin) {
        std::atomic_signal_fence(std::memory_order_seq_cst);
      }
      const int burst = 2 + static_cast<int>(random() % 2);
      for (int i = 0; i < burst; ++i) {
        if (queue.Push(datagram)) ++total;
      }
      pushed.store(total, std::memory_order_release);
    }
  });
  std::array<uint8_t, DatagramQueue::kSlotBytes> buffer{};
  uint64_t taken = 0;
  uint64_t unsignalled = 0;
  uint64_t wakeups = 0;
  const int64_t end = NowUs() + kRunUs;
  while (NowUs() < end && unsignalled == 0) {
    if (Readable(queue.fd(), 0)) {
      ++wakeups;
      if (queue.Pop(buffer) >= 0) consumed.store(++taken, std::memory_order_release);
      continue;
    }
    // Not readable. Every push up to `finished` has written the eventfd (before the store).
    const uint64_t finished = pushed.load(std::memory_order_acquire);
    if (taken < finished && !Readable(queue.fd(), 0)) {
      ++unsignalled;
      while (queue.Pop(buffer) >= 0) ++taken;  // recover, and go on
      consumed.store(taken, std::memory_order_release);
    }
  }
  stop.store(true);
  producer.join();
  EXPECT_EQ(unsignalled, 0u) << "datagrams waited while the eventfd was not readable, after "
                             << wakeups << " wakeups (" << taken << " datagrams)";
}

// ----- ICE on the shared port -----

// A valid check is answered from the WebRTC port with a success response whose XOR-MAPPED-ADDRESS
// is the browser's address, authenticated with the answer's password. A check with the wrong
// password is refused (401, counted kIceRejected) and validates nothing; a check for a ufrag no
// transport has is dropped unanswered (kUnknownPeer); DTLS and SRTP from an address that never
// passed a check are dropped (kUnknownPeer) before any transport sees them.
TEST(WebRtcTransportTest, ChecksAreAnsweredAndEverythingElseFromStrangersIsDropped) {
  auto engine = StartEngine(42810);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("clinic", {}).ok());
  Browser alice("alice", 0x1111AAAA);
  ASSERT_TRUE(alice.Join(*engine, "clinic", "alice").ok());
  const EndpointAnswer& answer = alice.answer();
  ASSERT_TRUE(answer.webrtc.enabled);
  EXPECT_EQ(answer.webrtc.local.port(), 42810);
  EXPECT_EQ(answer.webrtc.local, answer.local);
  EXPECT_EQ(engine->webrtc_ports().size(), 1u);
  EXPECT_GE(answer.webrtc.local_ufrag.size(), 4u);
  EXPECT_GE(answer.webrtc.local_pwd.size(), 22u);

  // The valid check.
  DropCounts drops(*engine);
  const ice::StunTransactionId id = alice.SendCheck(/*use_candidate=*/true);
  const auto response = alice.AwaitStun(id);
  ASSERT_TRUE(response.has_value()) << "no answer to a valid check";
  ice::StunMessage message;
  ASSERT_EQ(ice::ParseStun(*response, &message), ice::StunParseResult::kOk);
  EXPECT_EQ(message.method, ice::kStunMethodBinding);
  EXPECT_EQ(message.message_class, ice::StunClass::kSuccessResponse);
  EXPECT_EQ(message.transaction_id, id);
  ASSERT_TRUE(message.xor_mapped_address.has_value());
  EXPECT_EQ(*message.xor_mapped_address, alice.address())
      << message.xor_mapped_address->ToString() << " vs " << alice.address().ToString();
  const std::string& pwd = answer.webrtc.local_pwd;
  EXPECT_TRUE(ice::VerifyMessageIntegrity(
      *response, message,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(pwd.data()), pwd.size())));
  EXPECT_TRUE(ice::VerifyFingerprint(*response, message));
  EXPECT_EQ(drops.Since(DropReason::kIceRejected), 0u);
  EXPECT_EQ(drops.Since(DropReason::kUnknownPeer), 0u);

  // The right username, the wrong password, from another address.
  Browser mallory("mallory", 0x2222BBBB);
  mallory.UseAnswer(answer);
  const ice::StunTransactionId forged =
      mallory.SendCheck(true, alice.username(), std::string("not-the-password-0123456789"));
  ASSERT_TRUE(drops.WaitFor(DropReason::kIceRejected, 1));
  // Any answer was sent before the drop was counted: it is in the socket by now.
  mallory.Drain();
  EXPECT_LE(mallory.stray_stun().size(), 1u);
  for (const auto& stun : mallory.stray_stun()) {
    ice::StunMessage refusal;
    ASSERT_EQ(ice::ParseStun(stun, &refusal), ice::StunParseResult::kOk);
    EXPECT_EQ(refusal.transaction_id, forged);
    EXPECT_EQ(refusal.message_class, ice::StunClass::kErrorResponse);
    EXPECT_EQ(refusal.error_code, ice::kStunErrorUnauthorized);
    EXPECT_FALSE(refusal.xor_mapped_address.has_value());
  }
  // That address is no validated peer: its DTLS and SRTP go nowhere.
  const uint64_t unknown_before = drops.Since(DropReason::kUnknownPeer);
  TestDtlsClient hello_source({}, SharedIdentity());
  hello_source.Start();
  const auto hello = hello_source.TakeOutgoing();
  ASSERT_FALSE(hello.empty());
  mallory.Send(hello[0]);
  mallory.Send(FakeSrtp(0x2222BBBB));
  ASSERT_TRUE(drops.WaitFor(DropReason::kUnknownPeer, unknown_before + 2));

  // A ufrag nobody has: dropped at the port, unanswered.
  Browser stranger("strangr", 0x3333CCCC);
  stranger.UseAnswer(answer);
  const uint64_t unknown_before_stranger = drops.Since(DropReason::kUnknownPeer);
  stranger.SendCheck(true, std::string("nobody00:strangr"), answer.webrtc.local_pwd);
  ASSERT_TRUE(drops.WaitFor(DropReason::kUnknownPeer, unknown_before_stranger + 1));
  stranger.Drain();
  EXPECT_EQ(stranger.stun_waiting(), 0u) << "a check for an unknown ufrag was answered";

  // DTLS and SRTP from an address that never sent anything before.
  Browser nobody("nobody", 0x4444DDDD);
  nobody.UseAnswer(answer);
  const uint64_t unknown_before_nobody = drops.Since(DropReason::kUnknownPeer);
  nobody.Send(hello[0]);
  nobody.Send(FakeSrtp(0x1111AAAA));  // even with the SSRC of a real participant
  ASSERT_TRUE(drops.WaitFor(DropReason::kUnknownPeer, unknown_before_nobody + 2));
  EXPECT_EQ(drops.Since(DropReason::kNotConnected), 0u)
      << "a stranger's datagram reached a transport";
  EXPECT_EQ(drops.Since(DropReason::kDtlsRejected), 0u);

  // A second offer for the same id is refused and leaves the first transport alone; an offer
  // with ICE credentials outside RFC 8839's grammar is refused and leaves nothing behind.
  EXPECT_EQ(engine->AddEndpoint("clinic", alice.Offer("alice")).status().code(),
            absl::StatusCode::kAlreadyExists);
  EndpointConfig bad = nobody.Offer("bad");
  bad.webrtc.remote_pwd = "short";
  EXPECT_EQ(engine->AddEndpoint("clinic", bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->endpoint_count(), 1);
  EXPECT_TRUE(nobody.Join(*engine, "clinic", "bad").ok());
  EXPECT_TRUE(nobody.Check());

  // Alice's validated pair is unaffected by all of it.
  EXPECT_TRUE(alice.Check());
}

// What the transports do is counted for the node's metrics: each check a transport answers by
// its outcome, DTLS handshakes, and the transports the node holds.
TEST(WebRtcTransportTest, ChecksHandshakesAndTransportsAreCounted) {
  auto engine = StartEngine(42880);
  ASSERT_NE(engine, nullptr);
  const WebRtcStats& webrtc = engine->stats().webrtc;
  auto checks = [&](ice::IceResult result) {
    return webrtc.stun_checks[static_cast<size_t>(result)].load();
  };
  ASSERT_TRUE(engine->CreateSession("clinic", {}).ok());
  EXPECT_EQ(webrtc.transports.load(), 0);
  Browser nurse("nurse", 0x6666AAAA);
  ASSERT_TRUE(nurse.Join(*engine, "clinic", "nurse").ok());
  EXPECT_EQ(webrtc.transports.load(), 1);
  ASSERT_TRUE(nurse.Check(/*use_candidate=*/false));
  EXPECT_EQ(checks(ice::IceResult::kResponded), 1u);
  ASSERT_TRUE(nurse.Check(/*use_candidate=*/true));
  EXPECT_EQ(checks(ice::IceResult::kSelectedPair), 1u);
  nurse.SendCheck(true, std::nullopt, std::string("not-the-password-0123456789"));
  EXPECT_TRUE(WaitUntil([&] { return checks(ice::IceResult::kBadIntegrity) == 1; }));
  EXPECT_EQ(webrtc.dtls.handshakes_started.load(), 0u);
  ASSERT_TRUE(nurse.Handshake());
  EXPECT_TRUE(WaitUntil([&] { return webrtc.dtls.handshakes_completed.load() == 1; }));
  EXPECT_EQ(webrtc.dtls.handshakes_started.load(), 1u);
  for (size_t i = 0; i < dtls::kDtlsFailureCount; ++i)
    EXPECT_EQ(webrtc.dtls.failures[i].load(), 0u);
  Browser doctor("doctor", 0x7777BBBB);
  ASSERT_TRUE(doctor.Join(*engine, "clinic", "doctor").ok());
  EXPECT_EQ(webrtc.transports.load(), 2);
  ASSERT_TRUE(engine->RemoveEndpoint("clinic", "nurse").ok());
  EXPECT_EQ(webrtc.transports.load(), 1);
  ASSERT_TRUE(engine->DeleteSession("clinic").ok());
  EXPECT_EQ(webrtc.transports.load(), 0);
  EXPECT_EQ(webrtc.consent_expiries.load(), 0u);
}

// ----- Congestion control -----

// Transport-wide congestion control feedback (RTPFB FMT 15) about every packet the browser
// numbered, from the transport's own SSRC about the browser's stream, within a fraction of a
// second: the packets that came as received, the numbers it skipped as lost, across the 16-bit
// wrap. A browser that did not negotiate the extension gets none.
std::vector<rtp::TransportFeedbackStatus> FeedbackStatuses(Browser& browser,
                                                           rtp::TransportFeedbackHeader* last) {
  std::vector<rtp::TransportFeedbackStatus> all;
  std::vector<rtp::TransportFeedbackStatus> statuses(4096);
  for (const std::vector<uint8_t>& datagram : browser.rtcp()) {
    // Walk the packets of the (possibly compound) datagram.
    for (size_t offset = 0; offset + 4 <= datagram.size();) {
      const std::span<const uint8_t> packet = std::span<const uint8_t>(datagram).subspan(offset);
      const size_t length = (static_cast<size_t>(rtp::internal::Read16(&packet[2])) + 1) * 4;
      if (packet[1] == rtp::kRtcpRtpfb && (packet[0] & 0x1f) == rtp::kTransportFeedbackFmt) {
        rtp::TransportFeedbackHeader header;
        const auto result = rtp::ParseTransportFeedback(packet, &header, statuses);
        EXPECT_EQ(result, rtp::TransportFeedbackParseResult::kOk)
            << rtp::TransportFeedbackParseResultName(result);
        if (result == rtp::TransportFeedbackParseResult::kOk) {
          all.insert(all.end(), statuses.begin(), statuses.begin() + header.status_count);
          *last = header;
        }
      }
      offset += length;
    }
  }
  return all;
}

TEST(WebRtcTransportTest, TransportFeedbackReportsEveryNumberedPacket) {
  auto engine = StartEngine(42890);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("ward", {}).ok());
  Browser patient("patient", 0x5151A0A0);
  patient.UseTransportCc(5);
  Browser nurse("nurse", 0x5252B0B0);  // no transport-cc
  ASSERT_TRUE(patient.Join(*engine, "ward", "patient").ok());
  ASSERT_TRUE(nurse.Join(*engine, "ward", "nurse").ok());
  for (Browser* browser : {&patient, &nurse}) {
    ASSERT_TRUE(browser->Check());
    ASSERT_TRUE(browser->Handshake());
  }
  // 60 packets numbered from 65500, across the wrap; the numbers of 3 are skipped (lost).
  std::vector<uint16_t> sent;
  std::vector<uint16_t> skipped;
  for (int i = 0; i < 63; ++i) {
    if (i == 10 || i == 35 || i == 36) {
      skipped.push_back(patient.transport_sequence());
      patient.SkipTransportSequence(1);
      continue;
    }
    sent.push_back(patient.transport_sequence());
    patient.SendAudio();
    nurse.SendAudio();
    usleep(2000);
  }
  const uint16_t last_sent = sent.back();
  rtp::TransportFeedbackHeader last;
  std::vector<rtp::TransportFeedbackStatus> statuses;
  EXPECT_TRUE(WaitUntil([&] {
    patient.Drain();
    statuses = FeedbackStatuses(patient, &last);
    return !statuses.empty() && statuses.back().sequence == last_sent;
  })) << statuses.size()
      << " statuses reported";
  ASSERT_EQ(statuses.size(), sent.size() + skipped.size());
  for (size_t i = 0; i < statuses.size(); ++i) {
    const uint16_t expected = static_cast<uint16_t>(65500 + i);
    EXPECT_EQ(statuses[i].sequence, expected);
    const bool was_skipped = std::find(skipped.begin(), skipped.end(), expected) != skipped.end();
    EXPECT_EQ(statuses[i].received, !was_skipped) << expected;
  }
  EXPECT_EQ(last.media_ssrc, 0x5151A0A0u);  // the browser's stream
  EXPECT_NE(last.sender_ssrc, patient.answer().ssrc);
  EXPECT_NE(last.sender_ssrc, 0u);
  EXPECT_GE(engine->stats().webrtc.transport_feedback_sent.load(), 1u);
  // The nurse, who did not negotiate it, got none.
  nurse.Drain();
  rtp::TransportFeedbackHeader none;
  EXPECT_TRUE(FeedbackStatuses(nurse, &none).empty());
  EXPECT_GT(nurse.rtcp().size() + nurse.srtp_unprotected(), 0u);
}

// ----- DTLS and SRTP -----

// After its check, the browser's DTLS handshake completes through the shared port (every answer
// comes from the port to the selected address), and its SRTP audio, protected with the keys its
// DTLS client exported, reaches its endpoint in the session; what the session sends back
// unprotects with the same keys. SRTP before the handshake is dropped as kNotConnected.
TEST(WebRtcTransportTest, AHandshakeThroughThePortCarriesSrtpAudioIntoTheSession) {
  auto engine = StartEngine(42820);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("ward", {}).ok());
  Browser patient("patient", 0x5555EEEE);
  ASSERT_TRUE(patient.Join(*engine, "ward", "patient").ok());
  ASSERT_TRUE(patient.Check());

  DropCounts drops(*engine);
  patient.Send(FakeSrtp(0x5555EEEE));
  ASSERT_TRUE(drops.WaitFor(DropReason::kNotConnected, 1));
  EXPECT_EQ(drops.Since(DropReason::kUnknownPeer), 0u);
  EXPECT_EQ(PacketsReceived(*engine, "ward", "patient"), 0u);

  const int64_t handshake_start = NowUs();
  ASSERT_TRUE(patient.Handshake()) << "DTLS handshake did not complete (" << patient.dtls_received()
                                   << " DTLS datagrams received)";
  const double handshake_ms = static_cast<double>(NowUs() - handshake_start) / 1000;
  EXPECT_GT(patient.dtls_received(), 0u);
  EXPECT_TRUE(patient.dtls_from_server_only());
  EXPECT_EQ(drops.Since(DropReason::kDtlsRejected), 0u);

  constexpr int kPackets = 50;
  for (int i = 0; i < kPackets; ++i) patient.SendAudio();
  EXPECT_TRUE(WaitUntil([&] { return PacketsReceived(*engine, "ward", "patient") >= kPackets; }))
      << PacketsReceived(*engine, "ward", "patient") << " of " << kPackets << " packets arrived";
  const auto after = EndpointStats(*engine, "ward", "patient");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->packets_received, static_cast<uint64_t>(kPackets));
  EXPECT_EQ(after->srtp_failures, 0u);
  EXPECT_LT(after->seconds_since_media, 5.0);
  EXPECT_EQ(drops.Since(DropReason::kSrtpAuth), 0u);
  EXPECT_EQ(drops.Since(DropReason::kUnknownStream), 0u);
  EXPECT_EQ(drops.Since(DropReason::kNotConnected), 1u);  // only the one before the handshake

  // The session's sends reach the browser from the port, protected with the DTLS keys.
  EXPECT_TRUE(WaitUntil([&] {
    patient.Drain();
    return patient.srtp_unprotected() >= 5;
  })) << patient.srtp_received()
      << " SRTP datagrams, " << patient.srtp_unprotected() << " unprotected";
  EXPECT_EQ(patient.srtp_unprotected(), patient.srtp_received());

  // A replayed packet and a forged one are dropped by SRTP; an SSRC the offer did not announce
  // goes to no stream. None of them reaches the endpoint.
  patient.Send(patient.last_audio());
  EXPECT_TRUE(drops.WaitFor(DropReason::kSrtpReplay, 1));
  std::vector<uint8_t> forged = patient.last_audio();
  forged[forged.size() / 2] ^= 0x01;
  forged[3] ^= 0x40;  // another sequence number, so it is no replay
  patient.Send(forged);
  EXPECT_TRUE(drops.WaitFor(DropReason::kSrtpAuth, 1));
  patient.SendAudio(0x0BADBAD0);
  EXPECT_TRUE(drops.WaitFor(DropReason::kUnknownStream, 1));
  EXPECT_TRUE(patient.Check());
  EXPECT_EQ(PacketsReceived(*engine, "ward", "patient"), static_cast<uint64_t>(kPackets));
  std::printf("[ timing ] DTLS handshake through the port in %.1f ms\n", handshake_ms);
}

// A browser may start DTLS on a validated pair before it nominates one (a check without
// USE-CANDIDATE): the handshake is answered where it came from, and that address then carries
// the session's media both ways.
TEST(WebRtcTransportTest, DtlsOnAValidatedPairIsAnsweredBeforeANomination) {
  auto engine = StartEngine(42870);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("ward", {}).ok());
  Browser nurse("nurse", 0x71000001);
  ASSERT_TRUE(nurse.Join(*engine, "ward", "nurse").ok());
  ASSERT_TRUE(nurse.Check(/*use_candidate=*/false));
  ASSERT_TRUE(nurse.Handshake());
  EXPECT_TRUE(nurse.dtls_from_server_only());
  for (int i = 0; i < 10; ++i) nurse.SendAudio();
  EXPECT_TRUE(WaitUntil([&] { return PacketsReceived(*engine, "ward", "nurse") == 10; }))
      << PacketsReceived(*engine, "ward", "nurse");
  EXPECT_TRUE(WaitUntil([&] {
    nurse.Drain();
    return nurse.srtp_unprotected() >= 3;
  }));
}

// ----- A flood -----

// A validated peer floods the port with ten thousand DTLS ClientHellos (one real ClientHello
// re-sent with fresh record sequence numbers, as a retransmitting or hostile client would) and
// garbage of every RFC 7983 kind. Its transport passes exactly its handshake budget (256
// datagrams) to OpenSSL and refuses the rest (kDtlsRejected); every piece of garbage is counted
// by its reason; and the other participant of the session, on the same worker and the same
// port, keeps getting every one of its SRTP audio packets through the flood.
TEST(WebRtcTransportTest, AClientHelloFloodFailsOnItsBudgetAndSparesTheOtherParticipant) {
  auto engine = StartEngine(42830);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("ward", {}).ok());
  Browser flooder("flooder", 0x66660001);
  Browser doctor("doctor", 0x77770002);
  ASSERT_TRUE(flooder.Join(*engine, "ward", "flooder").ok());
  ASSERT_TRUE(doctor.Join(*engine, "ward", "doctor").ok());
  ASSERT_TRUE(doctor.Check());
  ASSERT_TRUE(doctor.Handshake());
  ASSERT_TRUE(flooder.Check());

  TestDtlsClient hello_source({}, SharedIdentity());
  hello_source.Start();
  const auto hellos = hello_source.TakeOutgoing();
  ASSERT_EQ(hellos.size(), 1u);
  const std::vector<uint8_t>& hello = hellos[0];
  ASSERT_GE(hello.size(), 13u + 12u);
  ASSERT_EQ(hello[0], 22);  // handshake record
  ASSERT_EQ(hello[13], 1);  // ClientHello

  constexpr int kHellos = 10'000;
  constexpr int kHellosPerRound = 25;  // then a barrier, so the port's socket never overflows
  constexpr int kRounds = kHellos / kHellosPerRound;
  constexpr int kPhases = 10;
  constexpr uint32_t kBudget = 256;  // DtlsTransportOptions::max_handshake_datagrams
  DropCounts drops(*engine);
  std::mt19937 random(7);
  uint64_t record_sequence = 0;
  uint64_t phase_packets = 0;
  const int64_t start = NowUs();
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kHellosPerRound; ++i) {
      std::vector<uint8_t> copy = hello;
      ++record_sequence;
      for (int byte = 0; byte < 6; ++byte) {
        copy[5 + byte] = static_cast<uint8_t>(record_sequence >> (8 * (5 - byte)));
      }
      flooder.Send(copy);
    }
    // Garbage, one of each kind: a DTLS record that runs past its datagram; neither DTLS, STUN
    // nor RTP; RTP-looking before any handshake; STUN-looking that does not parse; too large.
    std::vector<uint8_t> garbage(40);
    for (uint8_t& byte : garbage) byte = static_cast<uint8_t>(random());
    std::vector<uint8_t> bad_record = garbage;
    bad_record[0] = 22;
    bad_record[11] = 0x05;  // length 0x05xx: past the end
    flooder.Send(bad_record);
    std::vector<uint8_t> other = garbage;
    other[0] = static_cast<uint8_t>(64 + random() % 64);
    flooder.Send(other);
    std::vector<uint8_t> rtp_like = garbage;
    rtp_like[0] = 0x80;
    flooder.Send(rtp_like);
    std::vector<uint8_t> stun_like = garbage;
    stun_like[0] = 0;
    flooder.Send(stun_like);
    flooder.Send(std::vector<uint8_t>(1800, 0x17));
    // The doctor speaks on.
    doctor.SendAudio();
    // Barrier: the flooder's check is answered once all of the round is handled.
    ASSERT_TRUE(flooder.Check()) << "round " << round;
    if ((round + 1) % (kRounds / kPhases) == 0) {
      // Every one of the doctor's packets so far has reached its endpoint.
      const uint64_t sent = doctor.audio_sent();
      ASSERT_TRUE(WaitUntil([&] { return PacketsReceived(*engine, "ward", "doctor") >= sent; }))
          << "phase " << (round + 1) / (kRounds / kPhases) << ": "
          << PacketsReceived(*engine, "ward", "doctor") << " of " << sent;
      EXPECT_GT(sent, phase_packets);
      phase_packets = sent;
      doctor.Drain();
      flooder.Drain();
    }
  }
  const double flood_ms = static_cast<double>(NowUs() - start) / 1000;

  // The flooder's handshake took exactly its budget; everything after was refused.
  EXPECT_EQ(drops.Since(DropReason::kDtlsRejected),
            static_cast<uint64_t>(kHellos - kBudget + kRounds))
      << "the DTLS transport passed more or fewer than its budget of ClientHellos to OpenSSL";
  EXPECT_EQ(drops.Since(DropReason::kMalformedRtp), static_cast<uint64_t>(kRounds));
  EXPECT_EQ(drops.Since(DropReason::kNotConnected), static_cast<uint64_t>(kRounds));
  EXPECT_EQ(drops.Since(DropReason::kIceRejected), static_cast<uint64_t>(kRounds));
  EXPECT_EQ(drops.Since(DropReason::kOversized), static_cast<uint64_t>(kRounds));
  EXPECT_EQ(drops.Since(DropReason::kUnknownPeer), 0u);
  // It stays refused: a real handshake from the flooder gets nowhere.
  const uint64_t rejected = drops.Since(DropReason::kDtlsRejected);
  TestDtlsClient late_client({}, SharedIdentity());
  late_client.Start();
  for (const auto& datagram : late_client.TakeOutgoing()) flooder.Send(datagram);
  ASSERT_TRUE(flooder.Check());
  EXPECT_EQ(drops.Since(DropReason::kDtlsRejected), rejected + 1);
  EXPECT_GT(flooder.dtls_received(), 0u);  // it was answered before the budget ran out

  // The doctor: every packet arrived, its transport and its endpoint are fine.
  EXPECT_TRUE(
      WaitUntil([&] { return PacketsReceived(*engine, "ward", "doctor") == doctor.audio_sent(); }));
  EXPECT_EQ(PacketsReceived(*engine, "ward", "doctor"), static_cast<uint64_t>(kRounds));
  EXPECT_TRUE(doctor.Check());
  const auto doctor_stats = EndpointStats(*engine, "ward", "doctor");
  ASSERT_TRUE(doctor_stats.has_value());
  EXPECT_EQ(doctor_stats->srtp_failures, 0u);
  EXPECT_EQ(PacketsReceived(*engine, "ward", "flooder"), 0u);
  std::printf("[ timing ] %d ClientHellos and %d garbage datagrams in %.0f ms\n", kHellos,
              5 * kRounds, flood_ms);
}

// ----- Removal -----

// RemoveEndpoint frees the participant's transport: its ufrag is unknown at once (a check with
// it is dropped as kUnknownPeer, unanswered) and its validated address no longer reaches
// anything. DeleteSession frees every transport of the session, and no other session's.
TEST(WebRtcTransportTest, RemovingAnEndpointOrItsSessionFreesItsTransports) {
  auto engine = StartEngine(42840);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("room", {}).ok());
  ASSERT_TRUE(engine->CreateSession("room-b", {}).ok());
  Browser first("first", 0x10000001);
  Browser second("second", 0x20000002);
  Browser third("third", 0x30000003);
  Browser other("other", 0x40000004);
  ASSERT_TRUE(first.Join(*engine, "room", "first").ok());
  ASSERT_TRUE(second.Join(*engine, "room", "second").ok());
  ASSERT_TRUE(third.Join(*engine, "room", "third").ok());
  ASSERT_TRUE(other.Join(*engine, "room-b", "other").ok());
  for (Browser* browser : {&first, &second, &third, &other}) ASSERT_TRUE(browser->Check());
  ASSERT_TRUE(second.Handshake());
  second.SendAudio();
  ASSERT_TRUE(WaitUntil([&] { return PacketsReceived(*engine, "room", "second") == 1; }));

  DropCounts drops(*engine);
  ASSERT_TRUE(engine->RemoveEndpoint("room", "first").ok());
  first.SendCheck();
  ASSERT_TRUE(drops.WaitFor(DropReason::kUnknownPeer, 1));
  first.Drain();
  EXPECT_EQ(first.stun_waiting(), 0u) << "a removed transport answered a check";
  EXPECT_EQ(drops.Since(DropReason::kIceRejected), 0u);
  // Its address reaches nothing either.
  first.Send(FakeSrtp(0x10000001));
  ASSERT_TRUE(drops.WaitFor(DropReason::kUnknownPeer, 2));
  EXPECT_EQ(drops.Since(DropReason::kNotConnected), 0u);
  // The others are untouched.
  EXPECT_TRUE(second.Check());
  EXPECT_TRUE(third.Check());
  // The same id joins again with a new transport and new credentials.
  Browser again("again", 0x50000005);
  ASSERT_TRUE(again.Join(*engine, "room", "first").ok());
  EXPECT_NE(again.answer().webrtc.local_ufrag, first.answer().webrtc.local_ufrag);
  EXPECT_TRUE(again.Check());

  ASSERT_TRUE(engine->DeleteSession("room").ok());
  const uint64_t unknown_before = drops.Since(DropReason::kUnknownPeer);
  for (Browser* browser : {&second, &third, &again}) browser->SendCheck();
  ASSERT_TRUE(drops.WaitFor(DropReason::kUnknownPeer, unknown_before + 3));
  second.SendAudio();  // SRTP of a once connected participant
  ASSERT_TRUE(drops.WaitFor(DropReason::kUnknownPeer, unknown_before + 4));
  for (Browser* browser : {&second, &third, &again}) {
    browser->Drain();
    EXPECT_EQ(browser->stun_waiting(), 0u) << "a transport of a deleted session answered";
  }
  EXPECT_EQ(drops.Since(DropReason::kIceRejected), 0u);
  EXPECT_EQ(drops.Since(DropReason::kNotConnected), 0u);
  // The other session's participant shares the port and the worker, and is still served.
  EXPECT_TRUE(other.Check());
  EXPECT_EQ(engine->endpoint_count(), 1);
  ASSERT_TRUE(engine->RemoveEndpoint("room-b", "other").ok());
  const uint64_t unknown_last = drops.Since(DropReason::kUnknownPeer);
  other.SendCheck();
  ASSERT_TRUE(drops.WaitFor(DropReason::kUnknownPeer, unknown_last + 1));
  EXPECT_EQ(engine->endpoint_count(), 0);
}

// A camera turned on after the join adds its section in a renegotiation (UpdateMedia), on the
// same transport, DTLS and SRTP going on; a camera section stopped (port 0 in the next offer)
// takes it away again. The composed view comes while the section is there, and not after.
TEST(WebRtcTransportTest, ACameraSectionComesAndGoesInARenegotiation) {
  auto engine = StartEngine(42600);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("room", {}).ok());
  Browser browser("late", 0x60000006);
  ASSERT_TRUE(browser.Join(*engine, "room", "late").ok());
  EXPECT_FALSE(browser.answer().video.enabled);
  ASSERT_TRUE(browser.Check());
  ASSERT_TRUE(browser.Handshake());

  EndpointConfig offer = browser.Offer("late");
  offer.video.enabled = true;
  offer.video.codec = video::VideoCodec::kVp8;
  offer.video.payload_type = 96;
  offer.webrtc.video_ssrcs = {0x60000007};
  auto with_camera = engine->RenegotiateWebRtc("room", offer);
  ASSERT_TRUE(with_camera.ok()) << with_camera.status();
  ASSERT_TRUE(with_camera->video.enabled);
  EXPECT_NE(with_camera->video.ssrc, 0u);
  EXPECT_EQ(with_camera->webrtc.local_ufrag, browser.answer().webrtc.local_ufrag)
      << "a renegotiation without new ICE credentials restarted ICE";
  const uint32_t view = with_camera->video.ssrc;
  EXPECT_TRUE(WaitUntil([&] {
    browser.Drain();
    return browser.rtp_from(view) >= 3;
  })) << "no view on the transport after the camera section came";
  // A view packet lost on the way and NACKed comes again, protected anew under its own index
  // (the stream protects as it sends, so its SRTP session must allow that).
  browser.LoseNext(view);
  ASSERT_TRUE(WaitUntil([&] {
    browser.Drain();
    return browser.lost().has_value();
  }));
  const uint16_t lost = *browser.lost();
  browser.SendRtcp([&](std::span<uint8_t> out) {
    return rtp::BuildNack(0x60000006, view, std::span<const uint16_t>(&lost, 1), out);
  });
  EXPECT_TRUE(WaitUntil([&] {
    browser.Drain();
    const std::vector<uint16_t> seen = browser.sequences_from(view);
    return std::find(seen.begin(), seen.end(), lost) != seen.end();
  })) << "a lost view packet was not sent again on its NACK";
  // The same offer again (a renegotiation for something else) keeps the camera and its view.
  auto again = engine->RenegotiateWebRtc("room", offer);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->video.ssrc, view);

  offer.video.enabled = false;
  offer.webrtc.video_ssrcs.clear();
  auto without = engine->RenegotiateWebRtc("room", offer);
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_FALSE(without->video.enabled);
  browser.Drain();  // what was sent before the answer
  const uint64_t before = browser.rtp_from(view);
  (void)WaitUntil(  // ten view frames' time at the 25 fps tick
      [&] {
        browser.Drain();
        return false;
      },
      400'000);
  EXPECT_EQ(browser.rtp_from(view), before) << "the view went on without a camera section";
  // Audio goes on over the same transport.
  browser.SendAudio();
  EXPECT_TRUE(WaitUntil([&] { return PacketsReceived(*engine, "room", "late") == 1; }));
}

// A participant removed while connected is told: its transport closes the DTLS association
// (close_notify, an alert record) from the port, as DtlsTransport::Close promises.
TEST(WebRtcTransportTest, ARemovedConnectedParticipantGetsCloseNotify) {
  auto engine = StartEngine(42850);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("room", {}).ok());
  Browser leaving("leaving", 0x61000001);
  Browser staying("staying", 0x62000002);
  ASSERT_TRUE(leaving.Join(*engine, "room", "leaving").ok());
  ASSERT_TRUE(staying.Join(*engine, "room", "staying").ok());
  ASSERT_TRUE(leaving.Check());
  ASSERT_TRUE(leaving.Handshake());
  ASSERT_TRUE(staying.Check());
  ASSERT_TRUE(engine->RemoveEndpoint("room", "leaving").ok());
  EXPECT_TRUE(leaving.AwaitCloseNotify(5'000'000)) << leaving.dtls_alerts() << " alerts received";
}

// The same for the last WebRTC participant on a port.
//
// It failed before RemoveTransport flushed the port's send batch: the close_notify that
// ~WebRtcTransport sends went into the batch, flushed only at the end of OnReadable or in
// OnTickDone, and the port had just left the worker's tick listeners with its last transport.
TEST(WebRtcTransportTest, TheLastParticipantOfAPortGetsCloseNotifyWhenRemoved) {
  auto engine = StartEngine(42860);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->CreateSession("room", {}).ok());
  Browser leaving("leaving", 0x63000003);
  ASSERT_TRUE(leaving.Join(*engine, "room", "leaving").ok());
  ASSERT_TRUE(leaving.Check());
  ASSERT_TRUE(leaving.Handshake());
  ASSERT_TRUE(engine->RemoveEndpoint("room", "leaving").ok());
  EXPECT_TRUE(leaving.AwaitCloseNotify(5'000'000)) << "no close_notify in 5 s";
  // Anything arriving on the port flushes it.
  Browser passer_by("passerby", 0x64000004);
  passer_by.UseAnswer(leaving.answer());
  passer_by.SendCheck();
  EXPECT_TRUE(leaving.AwaitCloseNotify(5'000'000))
      << "no close_notify even after another datagram reached the port";
}

}  // namespace
}  // namespace chorus::engine
