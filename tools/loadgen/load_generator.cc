#include "tools/loadgen/load_generator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pipeline/base/clock.h"
#include "pipeline/codec/audio_decoder.h"
#include "pipeline/ice/ice_lite.h"
#include "pipeline/rtp/audio_level.h"
#include "pipeline/rtp/receive_statistics.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"
#include "tools/loadgen/server_probe.h"
#include "tools/loadgen/webrtc_client.h"
#include "tools/loadgen/webrtc_offer.h"

namespace chorus::loadgen {
namespace {

constexpr int64_t kFrameUs = 20'000;
constexpr int64_t kVideoFrameUs = 40'000;  // 25 frames per second
constexpr uint8_t kVideoPayloadType = 96;
constexpr int64_t kTimerUs = 5'000;
constexpr uint64_t kTimerData = ~uint64_t{0};       // epoll data of the timer
constexpr uint64_t kJoinedData = ~uint64_t{0} - 1;  // epoll data of the set-up thread's eventfd
constexpr uint8_t kPayloadType = 111;
constexpr uint8_t kAudioLevelId = 1;
constexpr size_t kBufferSize = 1500 + srtp::kSrtpMaxRtpOverheadBytes;
// An onset is credited to the latest spurt only if it comes within this long of its first packet.
constexpr int64_t kMaxOnsetDelayUs = 1'500'000;
// WebRTC: the nominating check is retransmitted after 100 ms, then at doubling intervals up to
// 800 ms until answered (RFC 8489's RTO, shortened for loopback); consent is checked every 5 s,
// randomised by +-20 % as RFC 7675 section 5.1 asks (browsers do the same).
constexpr int64_t kIceFirstRetransmitUs = 100'000;
constexpr int64_t kIceMaxRetransmitUs = 800'000;
constexpr int64_t kConsentIntervalUs = 5'000'000;
// WebRTC: the DTLS client's first retransmission timeout (doubled by OpenSSL's timer after).
constexpr unsigned int kDtlsFirstRetransmitUs = 100'000;

int64_t NowUs() { return base::RealClock().NowUs(); }

// A participant's camera stream and the view it receives, on a socket of its own.
struct VideoStream {
  VideoStream() : receive_stats(90000) {}
  ~VideoStream() {
    if (fd >= 0) close(fd);
  }
  VideoStream(const VideoStream&) = delete;
  VideoStream& operator=(const VideoStream&) = delete;

  int fd = -1;  // owned
  sockaddr_in remote{};
  uint32_t ssrc = 0;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  std::unique_ptr<srtp::SrtpSession> outbound;
  std::unique_ptr<srtp::SrtpSession> inbound;
  int64_t next_send_us = 0;
  size_t frame_index = 0;
  rtp::ReceiveStatistics receive_stats;
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t frames_received = 0;
  uint64_t bytes_received = 0;
  uint64_t srtp_failures = 0;
};

// A WebRTC participant's transport: its ICE agent and DTLS client, and the sink through which the
// DTLS client writes (the participant's socket, to the server's candidate).
struct WebRtcState final : DtlsClient::Sink {
  void SendDatagram(std::span<const uint8_t> datagram) override {
    (void)sendto(fd, datagram.data(), datagram.size(), 0,
                 reinterpret_cast<const sockaddr*>(&remote), sizeof(remote));
  }

  int fd = -1;  // the participant's, not owned
  sockaddr_in remote{};
  ice::IceCredentials local;
  std::unique_ptr<DtlsClient> dtls;
  std::optional<IceClient> ice;
  std::array<uint8_t, 32> server_fingerprint{};
  bool ice_done = false;
  int64_t next_check_us = 0;  // the next retransmission, then the next consent check
  int64_t retransmit_us = kIceFirstRetransmitUs;
  int64_t ice_done_us = 0;
  int64_t connected_us = 0;
  uint64_t stun_retransmits = 0;
  uint64_t dtls_retransmits = 0;
  uint64_t consent_sent = 0;
  uint64_t consent_answered = 0;
};

// One simulated participant: its socket (it sends from the port it receives on), its SRTP
// sessions, what it sends, and what it measured. Owned by the generator; its thread only.
struct Participant {
  Participant() : receive_stats(48000) {}
  ~Participant() {
    if (fd >= 0) close(fd);
  }
  Participant(const Participant&) = delete;
  Participant& operator=(const Participant&) = delete;

  int fd = -1;  // owned
  int room = 0;
  int index_in_room = 0;
  sockaddr_in remote{};
  uint32_t ssrc = 0;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  std::unique_ptr<srtp::SrtpSession> outbound;  // null for plain RTP
  std::unique_ptr<srtp::SrtpSession> inbound;
  int64_t next_send_us = 0;
  TalkSpurt* spurt = nullptr;  // the spurt being sent (points into the room's schedule)
  size_t clip_position = 0;
  int silent_frames = 0;  // frames since the last spurt ended (DTX sends one in 20)

  rtp::ReceiveStatistics receive_stats;
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t srtp_failures = 0;
  uint64_t malformed = 0;
  uint64_t late_sends = 0;

  // Onset detection (sampled receivers only).
  std::unique_ptr<codec::AudioDecoder> decoder;
  bool loud = false;
  int64_t quiet_since_us = 0;  // 0: no quiet frame seen yet
  std::vector<bool> heard;     // per spurt of the room: its onset was detected here

  std::unique_ptr<VideoStream> video;   // null: audio only
  std::unique_ptr<WebRtcState> webrtc;  // null: RTP or SRTP with SDES keys

  // Set-up: the answer arrived (from the set-up thread, at answer_us), the media keys are known
  // (at once for RTP and SDES; after DTLS for WebRTC), the first mixed packet arrived.
  bool answered = false;
  bool connected = false;
  int64_t answer_us = 0;
  int64_t first_mix_us = 0;
};

// What the set-up thread hands the loop: one participant's join (or the room's creation failing).
struct JoinResult {
  size_t index = 0;  // into the participants
  absl::StatusOr<JoinAnswer> answer;
  int64_t answer_us = 0;
  bool room_failed = false;  // CreateRoom failed: `answer` holds its error
};

struct Room {
  std::string handle;
  std::unique_ptr<TalkSchedule> schedule;
};

// Binds non-blocking UDP sockets on the configured (ip, port) pool, skipping ports in use (a pool
// of port 0 only: any free port, as often as asked).
class PortPool {
 public:
  explicit PortPool(const LoadConfig& config) : config_(config), port_(config.port_min) {}

  // The socket and its address; RESOURCE_EXHAUSTED when the pool is used up.
  absl::StatusOr<std::pair<int, sockaddr_in>> Next() {
    while (ip_index_ < config_.local_ips.size()) {
      const std::string& ip = config_.local_ips[ip_index_];
      sockaddr_in address{};
      address.sin_family = AF_INET;
      if (inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("--local_ips: not an IPv4 address: ", ip));
      }
      while (port_ <= config_.port_max) {
        // A range of 0..0 asks for the kernel's choice every time.
        const bool any = config_.port_min == 0 && config_.port_max == 0;
        address.sin_port = htons(static_cast<uint16_t>(any ? 0 : port_++));
        const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          return absl::ResourceExhaustedError(
              "socket() failed: raise the open file limit (ulimit -n)");
        }
        if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
          socklen_t length = sizeof(address);  // port 0: the kernel's choice
          getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
          return std::make_pair(fd, address);
        }
        close(fd);
        if (any) break;  // no free port at all on this address
      }
      ++ip_index_;
      port_ = config_.port_min;
    }
    return absl::ResourceExhaustedError(
        "no local port left: widen --port_min/--port_max or add --local_ips");
  }

 private:
  const LoadConfig& config_;
  size_t ip_index_ = 0;
  int port_;
};

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::string IpOf(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, text, sizeof(text));
  return text;
}

// Everything one run owns, on the generator's thread.
class Generator {
 public:
  Generator(const LoadConfig& config, ServerDriver& driver, const TalkClip& clip,
            const VideoClip* video)
      : config_(config),
        driver_(driver),
        clip_(clip),
        video_clip_(video),
        ports_(config),
        random_(config.seed) {}
  ~Generator() {
    StopJoining();
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (timer_fd_ >= 0) close(timer_fd_);
    if (joined_fd_ >= 0) close(joined_fd_);
  }
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  absl::StatusOr<LoadReport> Run();

 private:
  // Set-up. Prepare makes a participant (socket, keys or certificate, its offer); the set-up thread
  // runs JoinAll (rooms and joins through the driver, one result at a time to the loop); the loop
  // takes the results (TakeJoined, OnAnswer) and, for WebRTC, runs ICE and DTLS (OnStun, OnDtls,
  // ServiceConnections) until every participant is connected.
  absl::Status Prepare(int room, int index_in_room);
  void JoinAll();
  void StopJoining();
  absl::Status TakeJoined(bool* all_joined);
  absl::Status OnAnswer(size_t index, const JoinAnswer& answer, int64_t answer_us);
  absl::Status ConnectAll();
  absl::Status ServiceConnections(int64_t now_us);
  void OnStun(Participant& p, size_t length, int64_t now_us);
  void OnDtls(Participant& p, size_t length, int64_t now_us);
  void OnConnected(Participant& p, int64_t now_us);
  void SendCheck(Participant& p, bool nominate);
  int64_t ConsentInterval();

  void SendDue(int64_t now_us);
  void Send(Participant& p, int64_t now_us);
  void Receive(Participant& p);
  void SendVideo(Participant& p, VideoStream& v, int64_t now_us);
  void ReceiveVideo(VideoStream& v);
  void OnMedia(Participant& p, size_t length, int64_t now_us);
  void OnDecodedFrame(Participant& p, uint8_t level, int64_t now_us);
  void StartWindow(int64_t now_us);
  LoadReport Finish();

  const LoadConfig& config_;
  ServerDriver& driver_;
  const TalkClip& clip_;
  const VideoClip* video_clip_;  // null: audio only
  PortPool ports_;
  std::mt19937 random_;
  std::vector<Room> rooms_;
  std::vector<std::unique_ptr<Participant>> participants_;  // room by room
  std::vector<JoinOffer> offers_;                           // the same order
  int sampled_ = 0;
  int epoll_fd_ = -1;   // owned
  int timer_fd_ = -1;   // owned
  int joined_fd_ = -1;  // owned: eventfd the set-up thread signals a result on
  // The set-up thread and what it hands over (guarded by joined_mutex_).
  std::thread joiner_;
  std::atomic<bool> stop_joining_{false};
  std::mutex joined_mutex_;
  std::deque<JoinResult> joined_;
  bool joining_done_ = false;
  size_t answered_ = 0;
  size_t connected_ = 0;
  // Set in a callback that cannot return it (a failed handshake): ends the set-up.
  absl::Status setup_error_;
  std::unique_ptr<DtlsClientContext> dtls_context_;  // WebRTC
  std::string srtp_suite_;                           // WebRTC: what the server selected
  bool started_ = false;  // the talk schedules exist: media is sent, measured and decoded
  bool measuring_ = false;
  int64_t window_start_us_ = 0;
  int64_t window_end_us_ = 0;
  double join_seconds_ = 0;
  std::vector<double> delays_ms_;
  std::array<uint8_t, kBufferSize> buffer_{};
  std::array<int16_t, 960> pcm_{};
  // The server at the start of the window.
  bool have_usage_ = false;
  ProcessUsage usage_start_;
  int64_t rss_before_kb_ = 0;
  bool have_metrics_ = false;
  MetricsSnapshot metrics_start_;
};

absl::Status Generator::Prepare(int room, int index_in_room) {
  auto socket = ports_.Next();
  if (!socket.ok()) return socket.status();
  auto p = std::make_unique<Participant>();
  p->fd = socket->first;
  p->room = room;
  p->index_in_room = index_in_room;
  p->ssrc = static_cast<uint32_t>(random_());
  p->sequence = static_cast<uint16_t>(random_() & 0x7fff);
  p->timestamp = static_cast<uint32_t>(random_());
  JoinOffer offer;
  offer.ip = IpOf(socket->second);
  offer.port = ntohs(socket->second.sin_port);
  offer.ssrc = p->ssrc;
  offer.payload_type = kPayloadType;
  offer.audio_level_id = kAudioLevelId;
  if (config_.transport == Transport::kSrtp) {
    const srtp::SrtpKeyMaterial key =
        srtp::SrtpKeyMaterial::Generate(srtp::SrtpSuite::kAesCm128HmacSha1_80);
    offer.key_base64 = key.ToBase64();
    auto outbound = srtp::SrtpSession::Create(key, srtp::Direction::kOutbound);
    if (!outbound.ok()) return outbound.status();
    p->outbound = *std::move(outbound);
  }
  if (config_.transport == Transport::kWebRtc) {
    // A browser's peer connection: its own certificate and ICE credentials, an SDP offer.
    auto certificate = ClientCertificate::Generate();
    if (!certificate.ok()) return certificate.status();
    p->webrtc = std::make_unique<WebRtcState>();
    WebRtcState& w = *p->webrtc;
    w.fd = p->fd;
    w.local = ice::IceCredentials::Generate();
    auto dtls = DtlsClient::Create(*dtls_context_, *certificate, &w, kDtlsFirstRetransmitUs);
    if (!dtls.ok()) return dtls.status();
    w.dtls = *std::move(dtls);
    WebRtcOfferParams params;
    params.session_id = (uint64_t{random_()} << 31) ^ random_();
    params.ice_ufrag = w.local.ufrag;
    params.ice_pwd = w.local.pwd;
    params.fingerprint_sha256 = (*certificate)->fingerprint_sha256();
    params.ssrc = p->ssrc;
    params.cname = absl::StrCat("loadgen", participants_.size());
    params.payload_type = kPayloadType;
    params.audio_level_id = kAudioLevelId;
    params.dtx = config_.dtx;
    params.ip = offer.ip;
    params.port = offer.port;
    offer.webrtc_sdp = WriteWebRtcOffer(params);
  }
  if (config_.video_width > 0) {
    auto video_socket = ports_.Next();
    if (!video_socket.ok()) return video_socket.status();
    p->video = std::make_unique<VideoStream>();
    VideoStream& v = *p->video;
    v.fd = video_socket->first;
    v.ssrc = static_cast<uint32_t>(random_());
    v.sequence = static_cast<uint16_t>(random_() & 0x7fff);
    v.timestamp = static_cast<uint32_t>(random_());
    offer.video_port = ntohs(video_socket->second.sin_port);
    offer.video_ssrc = v.ssrc;
    offer.video_payload_type = kVideoPayloadType;
    offer.video_width = config_.video_width;
    offer.video_height = config_.video_height;
    if (config_.transport == Transport::kSrtp) {
      const srtp::SrtpKeyMaterial key =
          srtp::SrtpKeyMaterial::Generate(srtp::SrtpSuite::kAesCm128HmacSha1_80);
      offer.video_key_base64 = key.ToBase64();
      auto outbound = srtp::SrtpSession::Create(key, srtp::Direction::kOutbound);
      if (!outbound.ok()) return outbound.status();
      v.outbound = *std::move(outbound);
    }
  }
  if (index_in_room < config_.sampled_per_room && sampled_ < config_.max_sampled) {
    auto decoder = codec::AudioDecoder::Create(codec::AudioCodec::kOpus);
    if (!decoder.ok()) return decoder.status();
    p->decoder = *std::move(decoder);
    ++sampled_;
  }
  participants_.push_back(std::move(p));
  offers_.push_back(std::move(offer));
  return absl::OkStatus();
}

void Generator::JoinAll() {
  auto post = [this](JoinResult result) {
    {
      std::lock_guard<std::mutex> lock(joined_mutex_);
      joined_.push_back(std::move(result));
    }
    const uint64_t one = 1;
    (void)!write(joined_fd_, &one, sizeof(one));
  };
  size_t index = 0;
  for (int r = 0; r < config_.rooms && !stop_joining_; ++r) {
    auto handle = driver_.CreateRoom(r, config_.room_size);
    if (!handle.ok()) {
      post({index, handle.status(), 0, true});
      break;
    }
    bool failed = false;
    for (int i = 0; i < config_.room_size && !stop_joining_; ++i, ++index) {
      auto answer = driver_.Join(*handle, i, offers_[index]);
      failed = !answer.ok();
      post({index, std::move(answer), NowUs(), false});
      if (failed) break;
      if (config_.join_interval_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(config_.join_interval_ms));
      }
    }
    if (failed) break;
  }
  {
    std::lock_guard<std::mutex> lock(joined_mutex_);
    joining_done_ = true;
  }
  const uint64_t one = 1;
  (void)!write(joined_fd_, &one, sizeof(one));
}

void Generator::StopJoining() {
  stop_joining_ = true;
  if (joiner_.joinable()) joiner_.join();
}

absl::Status Generator::TakeJoined(bool* all_joined) {
  uint64_t count = 0;
  (void)!read(joined_fd_, &count, sizeof(count));
  std::deque<JoinResult> results;
  {
    std::lock_guard<std::mutex> lock(joined_mutex_);
    results.swap(joined_);
    *all_joined = joining_done_;
  }
  for (JoinResult& result : results) {
    if (result.room_failed) return result.answer.status();
    Participant& p = *participants_[result.index];
    absl::Status status = result.answer.ok()
                              ? OnAnswer(result.index, *result.answer, result.answer_us)
                              : result.answer.status();
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat("room ", p.room, " participant ",
                                                      p.index_in_room, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status Generator::OnAnswer(size_t index, const JoinAnswer& answer, int64_t answer_us) {
  Participant& p = *participants_[index];
  if (p.video != nullptr) {
    VideoStream& v = *p.video;
    if (config_.transport == Transport::kSrtp) {
      auto key = srtp::SrtpKeyMaterial::FromBase64(srtp::SrtpSuite::kAesCm128HmacSha1_80,
                                                   answer.video_key_base64);
      if (!key.ok()) return key.status();
      auto inbound = srtp::SrtpSession::Create(*key, srtp::Direction::kInbound);
      if (!inbound.ok()) return inbound.status();
      v.inbound = *std::move(inbound);
    }
    v.remote.sin_family = AF_INET;
    v.remote.sin_port = htons(answer.video_port);
    if (inet_pton(AF_INET, answer.video_ip.c_str(), &v.remote.sin_addr) != 1) {
      return absl::InternalError("the server answered a video address that is not IPv4");
    }
  }
  std::string ip = answer.ip;
  uint16_t port = answer.port;
  std::optional<WebRtcAnswerInfo> webrtc;
  if (config_.transport == Transport::kWebRtc) {
    auto info = ReadWebRtcAnswer(answer.webrtc_sdp);
    if (!info.ok()) return info.status();
    if (info->payload_type != kPayloadType) {
      return absl::InternalError("the WebRTC answer chose another audio payload type");
    }
    ip = info->ip;
    port = info->port;
    webrtc = *std::move(info);
  }
  if (config_.transport == Transport::kSrtp) {
    auto key =
        srtp::SrtpKeyMaterial::FromBase64(srtp::SrtpSuite::kAesCm128HmacSha1_80, answer.key_base64);
    if (!key.ok()) return key.status();
    auto inbound = srtp::SrtpSession::Create(*key, srtp::Direction::kInbound);
    if (!inbound.ok()) return inbound.status();
    p.inbound = *std::move(inbound);
  }
  p.remote.sin_family = AF_INET;
  p.remote.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &p.remote.sin_addr) != 1) {
    return absl::InternalError(
        absl::StrCat("the server answered a media address that is not IPv4: '", ip, "'"));
  }
  // epoll data: participant index * 2, plus 1 for its video socket. Added only now, with the keys
  // known: what arrived before waits in the socket.
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = uint64_t{index} * 2;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, p.fd, &event) != 0) {
    return absl::InternalError("epoll_ctl failed");
  }
  if (p.video != nullptr) {
    event.data.u64 = uint64_t{index} * 2 + 1;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, p.video->fd, &event) != 0) {
      return absl::InternalError("epoll_ctl failed");
    }
  }
  p.answered = true;
  p.answer_us = answer_us;
  ++answered_;
  if (!webrtc.has_value()) {
    p.connected = true;
    ++connected_;
    return absl::OkStatus();
  }
  // WebRTC: the nominating check at once, then DTLS once it is answered.
  WebRtcState& w = *p.webrtc;
  w.remote = p.remote;
  w.server_fingerprint = webrtc->fingerprint_sha256;
  const uint64_t tie_breaker = (uint64_t{random_()} << 32) | random_();
  auto ice_client =
      IceClient::Create(w.local.ufrag, webrtc->ice_ufrag, webrtc->ice_pwd, tie_breaker);
  if (!ice_client.ok()) return ice_client.status();
  w.ice.emplace(*std::move(ice_client));
  SendCheck(p, /*nominate=*/true);
  w.retransmit_us = kIceFirstRetransmitUs;
  w.next_check_us = NowUs() + w.retransmit_us;
  return absl::OkStatus();
}

void Generator::SendCheck(Participant& p, bool nominate) {
  WebRtcState& w = *p.webrtc;
  std::array<uint8_t, kIceMaxCheckBytes> check;
  const size_t length = w.ice->BuildCheck(check, nominate);
  if (length > 0) w.SendDatagram(std::span<const uint8_t>(check.data(), length));
}

int64_t Generator::ConsentInterval() {
  std::uniform_int_distribution<int64_t> interval(kConsentIntervalUs * 8 / 10,
                                                  kConsentIntervalUs * 12 / 10);
  return interval(random_);
}

void Generator::OnStun(Participant& p, size_t length, int64_t now_us) {
  WebRtcState& w = *p.webrtc;
  if (!w.ice.has_value()) return;
  const IceClient::Response response =
      w.ice->HandleResponse(std::span<const uint8_t>(buffer_.data(), length));
  if (response == IceClient::Response::kIgnored) return;
  if (w.ice_done) {
    if (response == IceClient::Response::kSuccess) ++w.consent_answered;
    return;
  }
  if (response == IceClient::Response::kError) {
    if (setup_error_.ok())
      setup_error_ = absl::UnavailableError("the server refused the ICE check");
    return;
  }
  // The pair is nominated and selected: DTLS next (the participant is the client), and consent
  // checks from now on.
  w.ice_done = true;
  w.ice_done_us = now_us;
  w.next_check_us = now_us + ConsentInterval();
  w.dtls->Start(w.server_fingerprint);
  if (w.dtls->state() == DtlsClient::State::kFailed && setup_error_.ok()) {
    setup_error_ = absl::UnavailableError(absl::StrCat("DTLS: ", w.dtls->failure()));
  }
}

void Generator::OnDtls(Participant& p, size_t length, int64_t now_us) {
  WebRtcState& w = *p.webrtc;
  const DtlsClient::State before = w.dtls->state();
  const DtlsClient::State after = w.dtls->Receive(std::span<const uint8_t>(buffer_.data(), length));
  if (before == after) return;
  if (after == DtlsClient::State::kFailed) {
    if (setup_error_.ok()) {
      setup_error_ = absl::UnavailableError(absl::StrCat("DTLS: ", w.dtls->failure()));
    }
    return;
  }
  if (after == DtlsClient::State::kConnected) OnConnected(p, now_us);
}

void Generator::OnConnected(Participant& p, int64_t now_us) {
  WebRtcState& w = *p.webrtc;
  auto keys = w.dtls->ExportSrtpKeys();
  absl::Status status = keys.status();
  if (keys.ok()) {
    auto outbound = srtp::SrtpSession::Create(keys->local, srtp::Direction::kOutbound);
    auto inbound = srtp::SrtpSession::Create(keys->remote, srtp::Direction::kInbound);
    status = !outbound.ok() ? outbound.status() : inbound.status();
    if (outbound.ok() && inbound.ok()) {
      p.outbound = *std::move(outbound);
      p.inbound = *std::move(inbound);
      srtp_suite_ = std::string(srtp::SuiteName(keys->suite));
    }
  }
  if (!status.ok()) {
    if (setup_error_.ok()) setup_error_ = status;
    return;
  }
  w.connected_us = now_us;
  p.connected = true;
  ++connected_;
}

absl::Status Generator::ServiceConnections(int64_t now_us) {
  if (!setup_error_.ok()) return setup_error_;
  if (config_.transport != Transport::kWebRtc) return absl::OkStatus();
  for (auto& participant : participants_) {
    Participant& p = *participant;
    if (!p.answered || p.connected) continue;
    WebRtcState& w = *p.webrtc;
    if (now_us - p.answer_us > int64_t{config_.connect_timeout_ms} * 1000) {
      return absl::DeadlineExceededError(
          absl::StrCat("room ", p.room, " participant ", p.index_in_room, ": ",
                       w.ice_done ? "the DTLS handshake" : "the ICE check", " did not complete in ",
                       config_.connect_timeout_ms, " ms"));
    }
    if (!w.ice_done) {
      if (now_us >= w.next_check_us && w.ice->pending()) {
        std::array<uint8_t, kIceMaxCheckBytes> check;
        const size_t length = w.ice->RebuildPending(check);
        if (length > 0) w.SendDatagram(std::span<const uint8_t>(check.data(), length));
        ++w.stun_retransmits;
        w.retransmit_us = std::min(w.retransmit_us * 2, kIceMaxRetransmitUs);
        w.next_check_us = now_us + w.retransmit_us;
      }
    } else if (w.dtls->OnTimer()) {
      ++w.dtls_retransmits;
    }
    if (w.dtls->state() == DtlsClient::State::kFailed) {
      return absl::UnavailableError(absl::StrCat("room ", p.room, " participant ", p.index_in_room,
                                                 ": DTLS: ", w.dtls->failure()));
    }
  }
  return absl::OkStatus();
}

absl::Status Generator::ConnectAll() {
  joined_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (joined_fd_ < 0) return absl::InternalError("eventfd unavailable");
  epoll_event joined_event{};
  joined_event.events = EPOLLIN;
  joined_event.data.u64 = kJoinedData;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, joined_fd_, &joined_event) != 0) {
    return absl::InternalError("epoll_ctl failed");
  }
  joiner_ = std::thread([this] { JoinAll(); });
  std::vector<epoll_event> events(256);
  bool all_joined = false;
  for (;;) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 5);
    if (n < 0 && errno != EINTR) return absl::InternalError("epoll_wait failed");
    for (int i = 0; i < n; ++i) {
      const uint64_t data = events[static_cast<size_t>(i)].data.u64;
      if (data == kJoinedData) {
        if (absl::Status taken = TakeJoined(&all_joined); !taken.ok()) return taken;
        continue;
      }
      Participant& p = *participants_[static_cast<size_t>(data / 2)];
      if (data % 2 == 0) {
        Receive(p);
      } else if (p.video != nullptr) {
        ReceiveVideo(*p.video);
      }
    }
    if (absl::Status serviced = ServiceConnections(NowUs()); !serviced.ok()) return serviced;
    if (all_joined) {
      if (answered_ < participants_.size()) {
        // The set-up thread stopped early without an error result: it was told to stop.
        return absl::CancelledError("set-up stopped");
      }
      if (connected_ == participants_.size()) break;
    }
  }
  StopJoining();
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, joined_fd_, nullptr);
  return absl::OkStatus();
}

void Generator::Send(Participant& p, int64_t now_us) {
  const int64_t at_us = p.next_send_us;
  Room& room = rooms_[static_cast<size_t>(p.room)];
  TalkSpurt* spurt = room.schedule->SpurtAt(p.index_in_room, at_us);
  bool marker = false;
  if (spurt != p.spurt) {
    p.spurt = spurt;
    p.clip_position = 0;
    p.silent_frames = 0;
    if (spurt != nullptr) {
      marker = true;  // RFC 3551: the first packet of a talk spurt
      if (spurt->first_sent_us == 0) spurt->first_sent_us = now_us;
    }
  }
  // Opus DTX (RFC 7587 section 3.1.3): while silent, one frame every 400 ms; the timestamp
  // follows the clock, the sequence number only the packets sent.
  if (spurt == nullptr && config_.dtx && p.silent_frames++ % 20 != 0) {
    p.timestamp += 960;
    return;
  }
  const EncodedFrame& frame = spurt != nullptr ? clip_.talk(p.clip_position++) : clip_.silence();
  rtp::RtpPacketBuilder builder;
  builder.set_marker(marker);
  builder.set_payload_type(kPayloadType);
  builder.set_sequence_number(p.sequence++);
  builder.set_timestamp(p.timestamp);
  p.timestamp += 960;
  builder.set_ssrc(p.ssrc);
  uint8_t level_byte = 0;
  rtp::WriteAudioLevel({frame.voice, frame.level}, std::span<uint8_t>(&level_byte, 1));
  builder.AddExtension(kAudioLevelId, std::span<const uint8_t>(&level_byte, 1));
  size_t length = builder.Build(frame.payload, buffer_);
  if (length == 0) return;
  if (p.outbound != nullptr &&
      p.outbound->ProtectRtp(buffer_, length, &length) != srtp::SrtpResult::kOk) {
    return;
  }
  const ssize_t n = sendto(p.fd, buffer_.data(), length, 0,
                           reinterpret_cast<const sockaddr*>(&p.remote), sizeof(p.remote));
  if (n == static_cast<ssize_t>(length) && measuring_) ++p.sent;
  if (measuring_ && now_us - at_us > 10'000) ++p.late_sends;
}

void Generator::SendDue(int64_t now_us) {
  for (auto& p : participants_) {
    // WebRTC consent freshness (RFC 7675): a check on the selected pair every 5 s or so.
    if (p->webrtc != nullptr && now_us >= p->webrtc->next_check_us) {
      SendCheck(*p, /*nominate=*/false);
      ++p->webrtc->consent_sent;
      p->webrtc->next_check_us = now_us + ConsentInterval();
    }
    // Catch up at most five frames after a stall; beyond that the frames are skipped, as a real
    // endpoint's audio device would drop them.
    int burst = 0;
    while (p->next_send_us <= now_us) {
      if (++burst > 5) {
        const int64_t behind = (now_us - p->next_send_us) / kFrameUs + 1;
        p->next_send_us += behind * kFrameUs;
        p->timestamp += static_cast<uint32_t>(behind * 960);
        break;
      }
      Send(*p, now_us);
      p->next_send_us += kFrameUs;
    }
    if (p->video != nullptr && p->video->next_send_us <= now_us) {
      VideoStream& v = *p->video;
      if (now_us - v.next_send_us > 5 * kVideoFrameUs) {
        // Far behind: skip the frames a camera would have dropped.
        const int64_t behind = (now_us - v.next_send_us) / kVideoFrameUs;
        v.next_send_us += behind * kVideoFrameUs;
        v.timestamp += static_cast<uint32_t>(behind * 3600);
      }
      while (v.next_send_us <= now_us) {
        SendVideo(*p, v, now_us);
        v.next_send_us += kVideoFrameUs;
      }
    }
  }
}

void Generator::SendVideo(Participant& p, VideoStream& v, int64_t now_us) {
  (void)p;
  (void)now_us;
  const VideoClip::Frame& frame = video_clip_->frame(v.frame_index++);
  rtp::RtpPacketBuilder builder;
  builder.set_payload_type(kVideoPayloadType);
  builder.set_timestamp(v.timestamp);
  builder.set_ssrc(v.ssrc);
  v.timestamp += 3600;  // 90 kHz, 40 ms
  for (size_t i = 0; i < frame.payloads.size(); ++i) {
    builder.set_marker(i + 1 == frame.payloads.size());  // RFC 7741: the frame's last packet
    builder.set_sequence_number(v.sequence++);
    size_t length = builder.Build(frame.payloads[i], buffer_);
    if (length == 0) continue;
    if (v.outbound != nullptr &&
        v.outbound->ProtectRtp(buffer_, length, &length) != srtp::SrtpResult::kOk) {
      continue;
    }
    const ssize_t n = sendto(v.fd, buffer_.data(), length, 0,
                             reinterpret_cast<const sockaddr*>(&v.remote), sizeof(v.remote));
    if (n == static_cast<ssize_t>(length) && measuring_) ++v.sent;
  }
}

void Generator::ReceiveVideo(VideoStream& v) {
  for (int i = 0; i < 256; ++i) {
    const ssize_t n = recv(v.fd, buffer_.data(), buffer_.size(), MSG_TRUNC);
    if (n < 0) return;
    if (static_cast<size_t>(n) > buffer_.size()) continue;
    size_t length = static_cast<size_t>(n);
    // Keyframe requests (PLI) and reports: the clip sends a keyframe every 2 s anyway.
    if (rtp::IsRtcp(std::span<const uint8_t>(buffer_.data(), length))) continue;
    if (v.inbound != nullptr &&
        v.inbound->UnprotectRtp(buffer_, length, &length) != srtp::SrtpResult::kOk) {
      if (measuring_) ++v.srtp_failures;
      continue;
    }
    rtp::RtpPacketView packet;
    if (rtp::ParseRtp(std::span<const uint8_t>(buffer_.data(), length), &packet) !=
            rtp::RtpParseResult::kOk ||
        !measuring_) {
      continue;
    }
    ++v.received;
    v.bytes_received += packet.payload.size();
    if (packet.marker) ++v.frames_received;
    v.receive_stats.OnPacket(packet.sequence_number, packet.timestamp, NowUs());
  }
}

void Generator::OnDecodedFrame(Participant& p, uint8_t level, int64_t now_us) {
  const bool loud = level <= config_.onset_level_dbov;
  if (!loud) {
    if (p.loud || p.quiet_since_us == 0) p.quiet_since_us = now_us;
    p.loud = false;
    return;
  }
  const bool onset = !p.loud && p.quiet_since_us != 0 &&
                     now_us - p.quiet_since_us >= int64_t{config_.min_silence_ms} * 1000;
  p.loud = true;
  if (!onset || !measuring_) return;
  const TalkSchedule& schedule = *rooms_[static_cast<size_t>(p.room)].schedule;
  const TalkSpurt* spurt = schedule.LatestStartBefore(now_us);
  if (spurt == nullptr || spurt->speaker == p.index_in_room || spurt->first_sent_us == 0 ||
      spurt->first_sent_us < window_start_us_) {
    return;
  }
  const int64_t delay_us = now_us - spurt->first_sent_us;
  if (delay_us < 0 || delay_us > kMaxOnsetDelayUs) return;
  const size_t index = static_cast<size_t>(spurt - schedule.spurts().data());
  if (index < p.heard.size() && !p.heard[index]) {
    p.heard[index] = true;
    delays_ms_.push_back(static_cast<double>(delay_us) / 1000.0);
  }
}

void Generator::OnMedia(Participant& p, size_t length, int64_t now_us) {
  std::span<const uint8_t> data(buffer_.data(), length);
  if (rtp::IsRtcp(data)) return;  // reports from the server: not measured
  if (!p.connected) return;       // WebRTC before the keys: cannot be authenticated
  if (p.inbound != nullptr &&
      p.inbound->UnprotectRtp(buffer_, length, &length) != srtp::SrtpResult::kOk) {
    if (measuring_) ++p.srtp_failures;
    return;
  }
  rtp::RtpPacketView packet;
  if (rtp::ParseRtp(std::span<const uint8_t>(buffer_.data(), length), &packet) !=
      rtp::RtpParseResult::kOk) {
    if (measuring_) ++p.malformed;
    return;
  }
  if (p.first_mix_us == 0) p.first_mix_us = now_us;
  if (!started_) return;  // set-up: only the join time is measured
  if (measuring_) {
    ++p.received;
    p.receive_stats.OnPacket(packet.sequence_number, packet.timestamp, now_us);
  }
  if (p.decoder != nullptr) {
    if (p.decoder->Decode(packet.payload, pcm_) == codec::DecodeResult::kOk) {
      OnDecodedFrame(p, rtp::LevelFromSamples(pcm_), now_us);
    }
  }
}

void Generator::Receive(Participant& p) {
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = recv(p.fd, buffer_.data(), buffer_.size(), MSG_TRUNC);
    if (n < 0) return;
    if (static_cast<size_t>(n) > buffer_.size()) {
      if (measuring_) ++p.malformed;
      continue;
    }
    const size_t length = static_cast<size_t>(n);
    if (p.webrtc != nullptr && length > 0) {
      // RFC 7983: the first byte tells STUN, DTLS and SRTP apart on the one 5-tuple.
      const uint8_t first = buffer_[0];
      if (first <= 3) {
        OnStun(p, length, NowUs());
        continue;
      }
      if (first >= 20 && first <= 63) {
        OnDtls(p, length, NowUs());
        continue;
      }
      if (first < 128 || first > 191) {
        if (measuring_) ++p.malformed;
        continue;
      }
    }
    OnMedia(p, length, NowUs());
  }
}

void Generator::StartWindow(int64_t now_us) {
  for (auto& p : participants_) {
    p->receive_stats.Reset();
    p->heard.assign(rooms_[static_cast<size_t>(p->room)].schedule->spurts().size(), false);
    if (p->video != nullptr) p->video->receive_stats.Reset();
  }
  if (config_.server_pid > 0) {
    auto usage = ReadProcessUsage(config_.server_pid);
    have_usage_ = usage.ok();
    if (usage.ok()) usage_start_ = *usage;
  }
  if (!config_.metrics_url.empty()) {
    auto text = HttpRequest(config_.metrics_url, "GET", "");
    have_metrics_ = text.ok();
    if (text.ok()) metrics_start_ = MetricsSnapshot::Parse(*text);
  }
  measuring_ = true;
  window_start_us_ = now_us;
}

LoadReport Generator::Finish() {
  measuring_ = false;
  const int64_t end_us = NowUs();
  LoadReport report;
  report.server = driver_.name();
  report.transport = TransportName(config_.transport);
  report.dtx = config_.dtx;
  report.rooms = config_.rooms;
  report.room_size = config_.room_size;
  report.participants = static_cast<int>(participants_.size());
  report.talkers_per_room =
      config_.talkers > 0 ? std::min(config_.talkers, config_.room_size) : config_.room_size;
  report.join_seconds = join_seconds_;
  if (FILE* loadavg = std::fopen("/proc/loadavg", "r"); loadavg != nullptr) {
    if (std::fscanf(loadavg, "%lf", &report.load_average) != 1) report.load_average = 0;
    std::fclose(loadavg);
  }
  report.window_seconds = static_cast<double>(end_us - window_start_us_) / 1e6;
  double jitter_sum = 0;
  int jitter_count = 0;
  uint64_t counted = 0;  // received packets in sequence statistics (after RFC 3550 probation)
  for (const auto& p : participants_) {
    report.packets_sent += p->sent;
    report.packets_received += p->received;
    counted += p->receive_stats.received();
    report.packets_expected +=
        static_cast<uint64_t>(std::max<int64_t>(0, p->receive_stats.expected()));
    report.srtp_failures += p->srtp_failures;
    report.malformed += p->malformed;
    report.late_sends += p->late_sends;
    if (p->received == 0) ++report.participants_silent;
    if (p->receive_stats.valid()) {
      jitter_sum += p->receive_stats.jitter_ms();
      report.jitter_ms_max = std::max(report.jitter_ms_max, p->receive_stats.jitter_ms());
      ++jitter_count;
    }
    if (p->decoder != nullptr) {
      ++report.sampled_receivers;
      const auto& spurts = rooms_[static_cast<size_t>(p->room)].schedule->spurts();
      for (size_t i = 0; i < spurts.size() && i < p->heard.size(); ++i) {
        // Spurts that began in the window, at least 1.5 s before its end, by someone else.
        if (spurts[i].speaker == p->index_in_room || spurts[i].first_sent_us < window_start_us_ ||
            spurts[i].first_sent_us == 0 || spurts[i].first_sent_us > end_us - kMaxOnsetDelayUs) {
          continue;
        }
        ++report.spurts_expected;
        if (p->heard[i]) ++report.spurts_heard;
      }
    }
  }
  // Loss from RFC 3550 sequence statistics (expected = highest - first + 1), so duplicates and
  // the two probation packets do not hide losses.
  if (report.packets_expected > 0) {
    report.loss_percent =
        100.0 *
        static_cast<double>(report.packets_expected - std::min(report.packets_expected, counted)) /
        static_cast<double>(report.packets_expected);
  }
  report.jitter_ms_mean = jitter_count > 0 ? jitter_sum / jitter_count : 0;
  if (config_.video_width > 0) {
    report.have_video = true;
    report.video_width = config_.video_width;
    report.video_height = config_.video_height;
    uint64_t expected = 0, counted = 0, frames = 0, bytes = 0;
    for (const auto& p : participants_) {
      if (p->video == nullptr) continue;
      report.video_packets_sent += p->video->sent;
      report.video_packets_received += p->video->received;
      report.srtp_failures += p->video->srtp_failures;
      expected += static_cast<uint64_t>(std::max<int64_t>(0, p->video->receive_stats.expected()));
      counted += p->video->receive_stats.received();
      frames += p->video->frames_received;
      bytes += p->video->bytes_received;
    }
    if (expected > 0) {
      report.video_loss_percent = 100.0 *
                                  static_cast<double>(expected - std::min(expected, counted)) /
                                  static_cast<double>(expected);
    }
    const double seconds = std::max(report.window_seconds, 1e-3);
    if (!participants_.empty()) {
      const double n = static_cast<double>(participants_.size());
      report.video_frames_per_s = static_cast<double>(frames) / n / seconds;
      report.video_kbps = static_cast<double>(bytes) * 8 / 1000 / n / seconds;
    }
  }
  std::vector<double> join_ms, ice_ms, dtls_ms, mix_ms;
  for (const auto& p : participants_) {
    if (p->first_mix_us != 0) {
      join_ms.push_back(static_cast<double>(p->first_mix_us - p->answer_us) / 1000.0);
    }
    if (p->webrtc == nullptr) continue;
    const WebRtcState& w = *p->webrtc;
    ice_ms.push_back(static_cast<double>(w.ice_done_us - p->answer_us) / 1000.0);
    dtls_ms.push_back(static_cast<double>(w.connected_us - w.ice_done_us) / 1000.0);
    if (p->first_mix_us != 0) {
      mix_ms.push_back(static_cast<double>(p->first_mix_us - w.connected_us) / 1000.0);
    }
    report.stun_retransmits += w.stun_retransmits;
    report.dtls_retransmits += w.dtls_retransmits;
    report.consent_checks_sent += w.consent_sent;
    report.consent_checks_answered += w.consent_answered;
  }
  report.join.samples = static_cast<int64_t>(join_ms.size());
  report.join.p50_ms = Percentile(join_ms, 50);
  report.join.p95_ms = Percentile(join_ms, 95);
  report.join.p99_ms = Percentile(join_ms, 99);
  report.join.max_ms = Percentile(join_ms, 100);
  if (config_.transport == Transport::kWebRtc) {
    report.have_webrtc = true;
    report.ice_ms_p50 = Percentile(ice_ms, 50);
    report.ice_ms_p95 = Percentile(ice_ms, 95);
    report.dtls_ms_p50 = Percentile(dtls_ms, 50);
    report.dtls_ms_p95 = Percentile(dtls_ms, 95);
    report.mix_ms_p50 = Percentile(mix_ms, 50);
    report.mix_ms_p95 = Percentile(mix_ms, 95);
    report.srtp_suite = srtp_suite_;
  }
  report.delay.samples = static_cast<int64_t>(delays_ms_.size());
  report.delay.p50_ms = Percentile(delays_ms_, 50);
  report.delay.p95_ms = Percentile(delays_ms_, 95);
  report.delay.p99_ms = Percentile(delays_ms_, 99);
  report.delay.max_ms = Percentile(delays_ms_, 100);
  if (have_usage_) {
    auto usage = ReadProcessUsage(config_.server_pid);
    if (usage.ok()) {
      report.have_cpu = true;
      report.server_cpu_seconds = usage->cpu_seconds - usage_start_.cpu_seconds;
      report.server_cores = report.server_cpu_seconds / std::max(report.window_seconds, 1e-3);
      if (report.participants > 0) {
        report.cpu_ms_per_participant_s = 1000.0 * report.server_cores / report.participants;
        report.participants_per_core =
            report.server_cores > 0 ? report.participants / report.server_cores : 0;
      }
      report.rss_kb_before = rss_before_kb_;
      report.rss_kb_after = usage->rss_kb;
      if (report.participants > 0 && rss_before_kb_ > 0) {
        report.rss_kb_per_participant =
            static_cast<double>(usage->rss_kb - rss_before_kb_) / report.participants;
      }
    }
  }
  if (have_metrics_) {
    auto text = HttpRequest(config_.metrics_url, "GET", "");
    if (text.ok()) {
      const MetricsSnapshot end = MetricsSnapshot::Parse(*text);
      report.have_metrics = true;
      report.node_load = end.Value("chorus_node_load").value_or(0);
      report.tick_p50_ms =
          1000.0 *
          end.QuantileSince(metrics_start_, "chorus_tick_duration_seconds", 0.5).value_or(0);
      report.tick_p99_ms =
          1000.0 *
          end.QuantileSince(metrics_start_, "chorus_tick_duration_seconds", 0.99).value_or(0);
      auto delta = [&](const char* name) {
        return end.Value(name).value_or(0) - metrics_start_.Value(name).value_or(0);
      };
      report.tick_overruns = delta("chorus_tick_overruns_total");
      report.video_tick_overruns = delta("chorus_video_tick_overruns_total");
      report.video_ticks = delta("chorus_video_ticks_total");
      report.video_frames_encoded = delta("chorus_video_frames_encoded_total");
      report.ticks = delta("chorus_ticks_total");
      if (report.ticks > 0)
        report.audio_encodes_per_tick = delta("chorus_audio_encodes_total") / report.ticks;
    }
  }
  return report;
}

absl::StatusOr<LoadReport> Generator::Run() {
  if (config_.rooms < 1 || config_.room_size < 2) {
    return absl::InvalidArgumentError("--rooms must be at least 1 and --room_size at least 2");
  }
  if (config_.duration_ms < 1000 || config_.warmup_ms < 0) {
    return absl::InvalidArgumentError("--duration must be at least 1s, --warmup not negative");
  }
  if (config_.video_width > 0 && video_clip_ == nullptr) {
    return absl::InvalidArgumentError("video asked for without a video clip");
  }
  if (config_.video_width > 0 && config_.transport == Transport::kWebRtc) {
    return absl::InvalidArgumentError("WebRTC participants send audio only (no video)");
  }
  if (config_.connect_timeout_ms < 100 || config_.join_interval_ms < 0) {
    return absl::InvalidArgumentError(
        "the connection timeout must be at least 100 ms, the join interval not negative");
  }
  RaiseOpenFileLimit();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd_ < 0 || timer_fd_ < 0) return absl::InternalError("epoll/timerfd unavailable");
  if (config_.server_pid > 0) {
    auto usage = ReadProcessUsage(config_.server_pid);
    if (!usage.ok()) return usage.status();
    rss_before_kb_ = usage->rss_kb;
  }

  if (config_.transport == Transport::kWebRtc) {
    auto context = DtlsClientContext::Create(config_.webrtc_gcm
                                                 ? "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
                                                 : "SRTP_AES128_CM_SHA1_80");
    if (!context.ok()) return context.status();
    dtls_context_ = *std::move(context);
  }

  const int64_t setup_start_us = NowUs();
  rooms_.resize(static_cast<size_t>(config_.rooms));
  for (int r = 0; r < config_.rooms; ++r) {
    for (int i = 0; i < config_.room_size; ++i) {
      absl::Status prepared = Prepare(r, i);
      if (!prepared.ok()) {
        return absl::Status(prepared.code(),
                            absl::StrCat("room ", r, " participant ", i, ": ", prepared.message()));
      }
    }
  }
  if (absl::Status connected = ConnectAll(); !connected.ok()) {
    StopJoining();
    return connected;
  }
  join_seconds_ = static_cast<double>(NowUs() - setup_start_us) / 1e6;

  // The talk schedules start half a second into the warm-up, each room at its own phase.
  const int64_t start_us = NowUs();
  window_end_us_ = start_us + int64_t{config_.warmup_ms + config_.duration_ms} * 1000;
  const int talkers =
      config_.talkers > 0 ? std::min(config_.talkers, config_.room_size) : config_.room_size;
  std::uniform_int_distribution<int> phase_ms(0, 1000);
  for (Room& room : rooms_) {
    room.schedule = std::make_unique<TalkSchedule>(
        talkers, config_.pattern, start_us + 500'000 + int64_t{phase_ms(random_)} * 1000,
        window_end_us_, random_);
  }
  started_ = true;
  for (size_t i = 0; i < participants_.size(); ++i) {
    // Spread the sends over the 20 ms frame in four groups, as independent endpoints would be.
    participants_[i]->next_send_us = start_us + static_cast<int64_t>(i % 4) * kTimerUs;
    if (participants_[i]->video != nullptr) {
      participants_[i]->video->next_send_us = start_us + static_cast<int64_t>(i % 8) * kTimerUs;
    }
  }
  itimerspec timer{};
  timer.it_interval.tv_nsec = kTimerUs * 1000;
  timer.it_value.tv_nsec = kTimerUs * 1000;
  timerfd_settime(timer_fd_, 0, &timer, nullptr);
  epoll_event timer_event{};
  timer_event.events = EPOLLIN;
  timer_event.data.u64 = kTimerData;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &timer_event);

  const int64_t measure_from_us = start_us + int64_t{config_.warmup_ms} * 1000;
  std::vector<epoll_event> events(256);
  SendDue(NowUs());
  for (;;) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 20);
    if (n < 0 && errno != EINTR) return absl::InternalError("epoll_wait failed");
    for (int i = 0; i < n; ++i) {
      const uint64_t data = events[static_cast<size_t>(i)].data.u64;
      if (data == kTimerData) {
        uint64_t expirations = 0;
        (void)!read(timer_fd_, &expirations, sizeof(expirations));
        continue;
      }
      Participant& p = *participants_[static_cast<size_t>(data / 2)];
      if (data % 2 == 0) {
        Receive(p);
      } else if (p.video != nullptr) {
        ReceiveVideo(*p.video);
      }
    }
    const int64_t now_us = NowUs();
    if (!measuring_ && now_us >= measure_from_us) StartWindow(now_us);
    if (now_us >= window_end_us_) break;
    SendDue(now_us);
  }
  LoadReport report = Finish();
  driver_.CloseAll();
  return report;
}

}  // namespace

const char* TransportName(Transport transport) {
  switch (transport) {
    case Transport::kSrtp:
      return "srtp";
    case Transport::kRtp:
      return "rtp";
    case Transport::kWebRtc:
      return "webrtc";
  }
  return "unknown";
}

double Percentile(std::vector<double>& values, double percent) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank =
      std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(values.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

absl::StatusOr<LoadReport> RunLoad(const LoadConfig& config, ServerDriver& driver,
                                   const TalkClip& clip, const VideoClip* video) {
  Generator generator(config, driver, clip, video);
  auto report = generator.Run();
  if (!report.ok()) driver.CloseAll();
  return report;
}

std::string ReportJson(const LoadReport& r) {
  std::string json = absl::StrFormat(
      "{\"server\": \"%s\", \"transport\": \"%s\", \"dtx\": %s, \"rooms\": %d, "
      "\"room_size\": %d, "
      "\"participants\": %d, \"talkers_per_room\": %d, \"join_seconds\": %.2f, "
      "\"window_seconds\": %.2f, \"packets_sent\": %d, \"packets_received\": %d, "
      "\"packets_expected\": %d, \"loss_percent\": %.3f, \"jitter_ms_mean\": %.2f, "
      "\"jitter_ms_max\": %.2f, \"srtp_failures\": %d, \"malformed\": %d, \"late_sends\": %d, "
      "\"participants_silent\": %d, \"load_average\": %.2f, \"sampled_receivers\": %d, "
      "\"delay_ms\": {\"samples\": %d, \"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, "
      "\"max\": %.1f}, \"spurts_expected\": %d, \"spurts_heard\": %d",
      r.server, r.transport, r.dtx ? "true" : "false", r.rooms, r.room_size, r.participants,
      r.talkers_per_room, r.join_seconds, r.window_seconds, r.packets_sent, r.packets_received,
      r.packets_expected, r.loss_percent, r.jitter_ms_mean, r.jitter_ms_max, r.srtp_failures,
      r.malformed, r.late_sends, r.participants_silent, r.load_average, r.sampled_receivers,
      r.delay.samples, r.delay.p50_ms, r.delay.p95_ms, r.delay.p99_ms, r.delay.max_ms,
      r.spurts_expected, r.spurts_heard);
  absl::StrAppendFormat(&json,
                        ", \"join_ms\": {\"samples\": %d, \"p50\": %.1f, \"p95\": %.1f, "
                        "\"p99\": %.1f, \"max\": %.1f}",
                        r.join.samples, r.join.p50_ms, r.join.p95_ms, r.join.p99_ms, r.join.max_ms);
  if (r.have_webrtc) {
    absl::StrAppendFormat(
        &json,
        ", \"webrtc\": {\"srtp_suite\": \"%s\", \"ice_ms_p50\": %.1f, \"ice_ms_p95\": %.1f, "
        "\"dtls_ms_p50\": %.1f, \"dtls_ms_p95\": %.1f, \"mix_ms_p50\": %.1f, "
        "\"mix_ms_p95\": %.1f, \"stun_retransmits\": %d, "
        "\"dtls_retransmits\": %d, \"consent_checks_sent\": %d, "
        "\"consent_checks_answered\": %d}",
        r.srtp_suite, r.ice_ms_p50, r.ice_ms_p95, r.dtls_ms_p50, r.dtls_ms_p95, r.mix_ms_p50,
        r.mix_ms_p95, r.stun_retransmits, r.dtls_retransmits, r.consent_checks_sent,
        r.consent_checks_answered);
  }
  if (r.have_cpu) {
    absl::StrAppendFormat(
        &json,
        ", \"server_cpu_seconds\": %.3f, \"server_cores\": %.4f, "
        "\"cpu_ms_per_participant_s\": %.4f, \"participants_per_core\": %.1f, "
        "\"rss_kb_before\": %d, \"rss_kb_after\": %d, \"rss_kb_per_participant\": %.1f",
        r.server_cpu_seconds, r.server_cores, r.cpu_ms_per_participant_s, r.participants_per_core,
        r.rss_kb_before, r.rss_kb_after, r.rss_kb_per_participant);
  }
  if (r.have_metrics) {
    absl::StrAppendFormat(&json,
                          ", \"node_load\": %.4f, \"tick_p50_ms\": %.3f, \"tick_p99_ms\": %.3f, "
                          "\"tick_overruns\": %.0f, \"ticks\": %.0f, "
                          "\"audio_encodes_per_tick\": %.2f",
                          r.node_load, r.tick_p50_ms, r.tick_p99_ms, r.tick_overruns, r.ticks,
                          r.audio_encodes_per_tick);
  }
  if (r.have_video) {
    absl::StrAppendFormat(&json,
                          ", \"video\": {\"width\": %d, \"height\": %d, \"packets_sent\": %d, "
                          "\"packets_received\": %d, \"loss_percent\": %.3f, "
                          "\"frames_per_s\": %.2f, \"kbps\": %.1f, \"tick_overruns\": %.0f, "
                          "\"ticks\": %.0f, \"frames_encoded\": %.0f}",
                          r.video_width, r.video_height, r.video_packets_sent,
                          r.video_packets_received, r.video_loss_percent, r.video_frames_per_s,
                          r.video_kbps, r.video_tick_overruns, r.video_ticks,
                          r.video_frames_encoded);
  }
  json += "}";
  return json;
}

std::string ReportTable(const LoadReport& r) {
  std::string table;
  auto row = [&](const std::string& name, const std::string& value) {
    absl::StrAppendFormat(&table, "%-34s %s\n", name, value);
  };
  row("server / transport", absl::StrCat(r.server, " / ", r.transport, r.dtx ? " (DTX)" : ""));
  row("rooms x size (talkers per room)",
      absl::StrCat(r.rooms, " x ", r.room_size, " (", r.talkers_per_room, ")"));
  row("participants", absl::StrCat(r.participants));
  row("set-up time (rooms, joins)", absl::StrFormat("%.2f s", r.join_seconds));
  row("join: answer to first mix p50 / p95",
      absl::StrFormat("%.1f / %.1f ms (max %.1f, %d participants)", r.join.p50_ms, r.join.p95_ms,
                      r.join.max_ms, r.join.samples));
  if (r.have_webrtc) {
    row("webrtc: ICE p50 / p95", absl::StrFormat("%.1f / %.1f ms (%d retransmitted)", r.ice_ms_p50,
                                                 r.ice_ms_p95, r.stun_retransmits));
    row("webrtc: DTLS p50 / p95",
        absl::StrFormat("%.1f / %.1f ms (%d retransmissions, %s)", r.dtls_ms_p50, r.dtls_ms_p95,
                        r.dtls_retransmits, r.srtp_suite));
    row("webrtc: keys to first mix p50 / p95",
        absl::StrFormat("%.1f / %.1f ms", r.mix_ms_p50, r.mix_ms_p95));
    row("webrtc: consent checks answered",
        absl::StrCat(r.consent_checks_answered, " of ", r.consent_checks_sent));
  }
  row("measured window", absl::StrFormat("%.2f s", r.window_seconds));
  row("packets sent / received", absl::StrCat(r.packets_sent, " / ", r.packets_received));
  row("loss", absl::StrFormat("%.3f %% of %d expected", r.loss_percent, r.packets_expected));
  row("jitter mean / max", absl::StrFormat("%.2f / %.2f ms", r.jitter_ms_mean, r.jitter_ms_max));
  row("srtp failures / malformed", absl::StrCat(r.srtp_failures, " / ", r.malformed));
  row("late sends (generator busy)", absl::StrCat(r.late_sends));
  row("participants hearing nothing", absl::StrCat(r.participants_silent));
  row("machine load average (1 min)", absl::StrFormat("%.2f", r.load_average));
  row("onset delay p50 / p95 / p99 / max",
      absl::StrFormat("%.1f / %.1f / %.1f / %.1f ms (%d onsets, %d receivers)", r.delay.p50_ms,
                      r.delay.p95_ms, r.delay.p99_ms, r.delay.max_ms, r.delay.samples,
                      r.sampled_receivers));
  row("spurts heard by sampled receivers", absl::StrCat(r.spurts_heard, " of ", r.spurts_expected));
  if (r.have_cpu) {
    row("server CPU", absl::StrFormat("%.3f s = %.3f cores", r.server_cpu_seconds, r.server_cores));
    row("CPU per participant",
        absl::StrFormat("%.3f ms/s (%.0f participants per core)", r.cpu_ms_per_participant_s,
                        r.participants_per_core));
    row("server RSS before / after",
        absl::StrFormat("%d / %d kB (%.0f kB per participant)", r.rss_kb_before, r.rss_kb_after,
                        r.rss_kb_per_participant));
  }
  if (r.have_metrics) {
    row("chorus_node_load", absl::StrFormat("%.3f", r.node_load));
    row("tick p50 / p99", absl::StrFormat("%.3f / %.3f ms", r.tick_p50_ms, r.tick_p99_ms));
    row("tick overruns / ticks", absl::StrFormat("%.0f / %.0f", r.tick_overruns, r.ticks));
    row("audio encodes per tick", absl::StrFormat("%.2f", r.audio_encodes_per_tick));
  }
  if (r.have_video) {
    row("video view size", absl::StrCat(r.video_width, "x", r.video_height));
    row("video packets sent / received",
        absl::StrCat(r.video_packets_sent, " / ", r.video_packets_received));
    row("video loss", absl::StrFormat("%.3f %%", r.video_loss_percent));
    row("view fps, kbit/s per participant",
        absl::StrFormat("%.2f, %.1f", r.video_frames_per_s, r.video_kbps));
    if (r.have_metrics) {
      row("video frame periods missed / all",
          absl::StrFormat("%.0f / %.0f (%.0f view frames encoded)", r.video_tick_overruns,
                          r.video_ticks, r.video_frames_encoded));
    }
  }
  return table;
}

}  // namespace chorus::loadgen
