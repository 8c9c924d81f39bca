#include "tools/loadgen/load_generator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pipeline/base/clock.h"
#include "pipeline/codec/audio_decoder.h"
#include "pipeline/rtp/audio_level.h"
#include "pipeline/rtp/receive_statistics.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"
#include "tools/loadgen/server_probe.h"

namespace chorus::loadgen {
namespace {

constexpr int64_t kFrameUs = 20'000;
constexpr int64_t kVideoFrameUs = 40'000;  // 25 frames per second
constexpr uint8_t kVideoPayloadType = 96;
constexpr int64_t kTimerUs = 5'000;
constexpr uint64_t kTimerData = ~uint64_t{0};  // epoll data of the timer
constexpr uint8_t kPayloadType = 111;
constexpr uint8_t kAudioLevelId = 1;
constexpr size_t kBufferSize = 1500 + srtp::kSrtpMaxRtpOverheadBytes;
// An onset is credited to the latest spurt only if it comes within this long of its first packet.
constexpr int64_t kMaxOnsetDelayUs = 1'500'000;

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

  std::unique_ptr<VideoStream> video;  // null: audio only
};

struct Room {
  std::string handle;
  std::unique_ptr<TalkSchedule> schedule;
};

// Binds non-blocking UDP sockets on the configured (ip, port) pool, skipping ports in use.
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
        address.sin_port = htons(static_cast<uint16_t>(port_++));
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
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (timer_fd_ >= 0) close(timer_fd_);
  }
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  absl::StatusOr<LoadReport> Run();

 private:
  absl::Status Join(int room, int index_in_room);
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
  int sampled_ = 0;
  int epoll_fd_ = -1;  // owned
  int timer_fd_ = -1;  // owned
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

absl::Status Generator::Join(int room, int index_in_room) {
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
  if (config_.srtp) {
    const srtp::SrtpKeyMaterial key =
        srtp::SrtpKeyMaterial::Generate(srtp::SrtpSuite::kAesCm128HmacSha1_80);
    offer.key_base64 = key.ToBase64();
    auto outbound = srtp::SrtpSession::Create(key, srtp::Direction::kOutbound);
    if (!outbound.ok()) return outbound.status();
    p->outbound = *std::move(outbound);
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
    if (config_.srtp) {
      const srtp::SrtpKeyMaterial key =
          srtp::SrtpKeyMaterial::Generate(srtp::SrtpSuite::kAesCm128HmacSha1_80);
      offer.video_key_base64 = key.ToBase64();
      auto outbound = srtp::SrtpSession::Create(key, srtp::Direction::kOutbound);
      if (!outbound.ok()) return outbound.status();
      v.outbound = *std::move(outbound);
    }
  }
  auto answer = driver_.Join(rooms_[static_cast<size_t>(room)].handle, index_in_room, offer);
  if (!answer.ok()) return answer.status();
  if (p->video != nullptr) {
    VideoStream& v = *p->video;
    if (config_.srtp) {
      auto key = srtp::SrtpKeyMaterial::FromBase64(srtp::SrtpSuite::kAesCm128HmacSha1_80,
                                                   answer->video_key_base64);
      if (!key.ok()) return key.status();
      auto inbound = srtp::SrtpSession::Create(*key, srtp::Direction::kInbound);
      if (!inbound.ok()) return inbound.status();
      v.inbound = *std::move(inbound);
    }
    v.remote.sin_family = AF_INET;
    v.remote.sin_port = htons(answer->video_port);
    if (inet_pton(AF_INET, answer->video_ip.c_str(), &v.remote.sin_addr) != 1) {
      return absl::InternalError("the server answered a video address that is not IPv4");
    }
  }
  if (config_.srtp) {
    auto key = srtp::SrtpKeyMaterial::FromBase64(srtp::SrtpSuite::kAesCm128HmacSha1_80,
                                                 answer->key_base64);
    if (!key.ok()) return key.status();
    auto inbound = srtp::SrtpSession::Create(*key, srtp::Direction::kInbound);
    if (!inbound.ok()) return inbound.status();
    p->inbound = *std::move(inbound);
  }
  p->remote.sin_family = AF_INET;
  p->remote.sin_port = htons(answer->port);
  if (inet_pton(AF_INET, answer->ip.c_str(), &p->remote.sin_addr) != 1) {
    return absl::InternalError(
        absl::StrCat("the server answered a media address that is not "
                     "IPv4: '",
                     answer->ip, "'"));
  }
  if (index_in_room < config_.sampled_per_room && sampled_ < config_.max_sampled) {
    auto decoder = codec::AudioDecoder::Create(codec::AudioCodec::kOpus);
    if (!decoder.ok()) return decoder.status();
    p->decoder = *std::move(decoder);
    ++sampled_;
  }
  // epoll data: participant index * 2, plus 1 for its video socket; the timer is ~0.
  const uint64_t index = participants_.size();
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = index * 2;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, p->fd, &event) != 0) {
    return absl::InternalError("epoll_ctl failed");
  }
  if (p->video != nullptr) {
    event.data.u64 = index * 2 + 1;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, p->video->fd, &event) != 0) {
      return absl::InternalError("epoll_ctl failed");
    }
  }
  participants_.push_back(std::move(p));
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
    OnMedia(p, static_cast<size_t>(n), NowUs());
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
  report.transport = config_.srtp ? "srtp" : "rtp";
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
  RaiseOpenFileLimit();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd_ < 0 || timer_fd_ < 0) return absl::InternalError("epoll/timerfd unavailable");
  if (config_.server_pid > 0) {
    auto usage = ReadProcessUsage(config_.server_pid);
    if (!usage.ok()) return usage.status();
    rss_before_kb_ = usage->rss_kb;
  }

  const int64_t setup_start_us = NowUs();
  rooms_.resize(static_cast<size_t>(config_.rooms));
  for (int r = 0; r < config_.rooms; ++r) {
    auto handle = driver_.CreateRoom(r, config_.room_size);
    if (!handle.ok()) return handle.status();
    rooms_[static_cast<size_t>(r)].handle = *handle;
    for (int i = 0; i < config_.room_size; ++i) {
      absl::Status joined = Join(r, i);
      if (!joined.ok()) {
        return absl::Status(joined.code(),
                            absl::StrCat("room ", r, " participant ", i, ": ", joined.message()));
      }
    }
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
  row("join time", absl::StrFormat("%.2f s", r.join_seconds));
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
