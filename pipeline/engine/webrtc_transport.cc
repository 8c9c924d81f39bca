#include "pipeline/engine/webrtc_transport.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "pipeline/base/clock.h"
#include "pipeline/engine/endpoint_common.h"
#include "pipeline/ice/stun.h"
#include "pipeline/rtp/rtp_packet.h"

namespace chorus::engine {
namespace {

// RFC 7983 section 7: what the first byte of a datagram on a WebRTC 5-tuple says it is.
enum class Kind { kStun, kDtls, kRtp, kOther };
Kind Classify(std::span<const uint8_t> datagram) {
  if (datagram.empty()) return Kind::kOther;
  const uint8_t first = datagram[0];
  if (first <= 3) return Kind::kStun;
  if (first >= 20 && first <= 63) return Kind::kDtls;
  if (first >= 128 && first <= 191) return Kind::kRtp;
  return Kind::kOther;
}

uint32_t ReadSsrc(std::span<const uint8_t> rtp) {
  return (uint32_t{rtp[8]} << 24) | (uint32_t{rtp[9]} << 16) | (uint32_t{rtp[10]} << 8) | rtp[11];
}

bool Contains(const std::vector<uint32_t>& list, uint32_t value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

SendBatch::SendBatch(int fd)
    : fd_(fd), owner_(std::this_thread::get_id()), bytes_(kCapacity * kSlotBytes) {}

void SendBatch::Add(std::span<const uint8_t> datagram, const net::SocketAddress& to) {
  if (datagram.size() > kSlotBytes) return;
  if (count_ == kCapacity) Flush();
  uint8_t* slot = bytes_.data() + count_ * kSlotBytes;
  std::memcpy(slot, datagram.data(), datagram.size());
  to_[count_] = to;
  iov_[count_] = {slot, datagram.size()};
  msghdr& header = messages_[count_].msg_hdr;
  header = {};
  header.msg_name = const_cast<sockaddr*>(to_[count_].sockaddr_ptr());
  header.msg_namelen = to_[count_].length();
  header.msg_iov = &iov_[count_];
  header.msg_iovlen = 1;
  ++count_;
}

void SendBatch::Flush() {
  size_t sent = 0;
  while (sent < count_) {
    const int n = sendmmsg(fd_, messages_.data() + sent, static_cast<unsigned>(count_ - sent), 0);
    if (n <= 0) break;  // a full socket buffer: the rest is lost, as a single send would be
    sent += static_cast<size_t>(n);
  }
  if (count_ > 0) {
    ++batches_;
    datagrams_ += count_;
  }
  count_ = 0;
}

bool WebRtcPath::Send(std::span<const uint8_t> datagram) const {
  net::SocketAddress to;
  {
    absl::MutexLock lock(&mutex_);
    to = remote_;
  }
  if (to.empty()) return false;
  if (batch_ != nullptr && batch_->OnOwnerThread()) {
    batch_->Add(datagram, to);
    return true;
  }
  const ssize_t sent =
      sendto(fd_, datagram.data(), datagram.size(), 0, to.sockaddr_ptr(), to.length());
  return sent == static_cast<ssize_t>(datagram.size());
}

int WebRtcStreamIo::Receive(std::span<uint8_t> buffer, net::SocketAddress* from) {
  (void)from;  // the transport checked where it came from
  return link_->inbound->Pop(buffer);
}

bool WebRtcStreamIo::Send(std::span<const uint8_t> data, const net::SocketAddress& to) {
  (void)to;  // the ICE-selected pair decides
  srtp::SrtpSession* outbound = link_->outbound.load(std::memory_order_acquire);
  if (outbound == nullptr || data.size() > 1400) return false;
  std::memcpy(buffer_.data(), data.data(), data.size());
  size_t length = 0;
  const srtp::SrtpResult result = rtp::IsRtcp(data)
                                      ? outbound->ProtectRtcp(buffer_, data.size(), &length)
                                      : outbound->ProtectRtp(buffer_, data.size(), &length);
  if (result != srtp::SrtpResult::kOk) return false;
  return link_->path->Send(std::span<const uint8_t>(buffer_.data(), length));
}

absl::StatusOr<std::unique_ptr<WebRtcTransport>> WebRtcTransport::Create(
    const WebRtcTransportConfig& config, std::shared_ptr<const dtls::DtlsCertificate> certificate,
    std::shared_ptr<WebRtcPath> path, std::shared_ptr<WebRtcStreamLink> audio,
    std::shared_ptr<WebRtcStreamLink> video, std::shared_ptr<WebRtcStreamLink> content,
    EngineStats* stats, dtls::DtlsCounters* counters) {
  std::unique_ptr<WebRtcTransport> transport(new WebRtcTransport(config, std::move(path), stats));
  transport->audio_ = std::move(audio);
  transport->video_ = std::move(video);
  transport->content_ = std::move(content);
  transport->MaybeStartFeedback();
  ice::IceLiteConfig ice_config;
  ice_config.local = ice::IceCredentials::Generate();
  ice_config.remote = config.remote_ice;
  auto agent = ice::IceLiteAgent::Create(ice_config);
  if (!agent.ok()) return agent.status();
  transport->ice_ = *std::move(agent);
  dtls::DtlsFingerprint fingerprint;
  fingerprint.sha256 = config.remote_fingerprint;
  dtls::DtlsTransportOptions options;
  options.counters = counters;
  auto dtls = dtls::DtlsTransport::Create(std::move(certificate), fingerprint, transport.get(),
                                          base::RealClock(), options);
  if (!dtls.ok()) return dtls.status();
  transport->dtls_ = *std::move(dtls);
  return transport;
}

WebRtcTransport::WebRtcTransport(const WebRtcTransportConfig& config,
                                 std::shared_ptr<WebRtcPath> path, EngineStats* stats)
    : config_(config), path_(std::move(path)), stats_(stats) {}

WebRtcTransport::~WebRtcTransport() {
  if (dtls_ != nullptr) dtls_->Close();
}

bool WebRtcTransport::HandleStun(std::span<const uint8_t> datagram, const net::SocketAddress& from,
                                 int64_t now_us, net::UdpSocket& socket) {
  std::array<uint8_t, ice::kIceMaxResponseBytes> response;
  size_t response_length = 0;
  const ice::IceResult result =
      ice_->HandleBindingRequest(datagram, from, now_us, response, &response_length);
  Bump(stats_->webrtc.stun_checks[static_cast<size_t>(result)]);
  if (response_length > 0) {
    (void)socket.Send(std::span<const uint8_t>(response.data(), response_length), from);
  }
  switch (result) {
    case ice::IceResult::kResponded:
      return true;
    case ice::IceResult::kSelectedPair:
      if (const net::SocketAddress* selected = ice_->selected()) path_->Select(*selected);
      consent_lost_ = false;
      return true;
    default:
      stats_->Drop(DropReason::kIceRejected);
      return false;
  }
}

void WebRtcTransport::HandleMedia(std::span<uint8_t> buffer, size_t length,
                                  const net::SocketAddress& from, int64_t now_us) {
  // Media only from a 5-tuple that passed a check (RFC 8445 section 7.3: a lite agent learns its
  // peers from their checks).
  if (!ice_->IsValidated(from)) {
    stats_->Drop(DropReason::kUnknownPeer);
    return;
  }
  std::span<uint8_t> datagram = buffer.first(length);
  switch (Classify(datagram)) {
    case Kind::kDtls:
      if (ice_->selected() == nullptr) dtls_peer_ = from;
      if (!dtls_->HandleDatagram(datagram)) stats_->Drop(DropReason::kDtlsRejected);
      return;
    case Kind::kRtp:
      if (!connected_ || inbound_ == nullptr) {
        stats_->Drop(DropReason::kNotConnected);
        return;
      }
      if (rtp::IsRtcp(datagram)) {
        HandleRtcp(buffer, length);
      } else {
        HandleRtp(buffer, length, now_us);
      }
      return;
    default:
      stats_->Drop(DropReason::kMalformedRtp);
      return;
  }
}

WebRtcStreamLink* WebRtcTransport::Route(uint32_t ssrc, uint8_t payload_type) {
  if (audio_ != nullptr && Contains(config_.audio_ssrcs, ssrc)) return audio_.get();
  if (video_ != nullptr && Contains(config_.video_ssrcs, ssrc)) return video_.get();
  if (content_ != nullptr && Contains(config_.content_ssrcs, ssrc)) return content_.get();
  // Streams announced without SSRCs are recognised by payload type (the camera before the
  // screen share when both use the same codec).
  if (audio_ != nullptr && config_.audio_ssrcs.empty() &&
      payload_type == config_.audio_payload_type) {
    return audio_.get();
  }
  if (video_ != nullptr && config_.video_ssrcs.empty() &&
      payload_type == config_.video_payload_type) {
    return video_.get();
  }
  if (content_ != nullptr && config_.content_ssrcs.empty() &&
      payload_type == config_.content_payload_type) {
    return content_.get();
  }
  return nullptr;
}

uint8_t WebRtcTransport::TransportCcId(const WebRtcStreamLink* stream) const {
  if (stream == audio_.get()) return config_.audio_transport_cc_id;
  if (stream == video_.get()) return config_.video_transport_cc_id;
  if (stream == content_.get()) return config_.content_transport_cc_id;
  return 0;
}

void WebRtcTransport::MaybeStartFeedback() {
  if (feedback_ != nullptr) return;
  if (config_.audio_transport_cc_id == 0 && config_.video_transport_cc_id == 0 &&
      config_.content_transport_cc_id == 0) {
    return;
  }
  feedback_ssrc_ = detail::RandomSsrc();
  feedback_ = std::make_unique<rtp::TransportFeedbackRecorder>(feedback_ssrc_);
  if (local_key_.has_value()) {
    auto outbound = srtp::SrtpSession::Create(*local_key_, srtp::Direction::kOutbound);
    if (outbound.ok()) feedback_outbound_ = *std::move(outbound);
  }
}

void WebRtcTransport::HandleRtp(std::span<uint8_t> buffer, size_t length, int64_t now_us) {
  size_t clear = 0;
  const srtp::SrtpResult result = inbound_->UnprotectRtp(buffer, length, &clear);
  if (result != srtp::SrtpResult::kOk) {
    stats_->Drop(detail::FromSrtp(result));
    return;
  }
  if (clear < 12) {
    stats_->Drop(DropReason::kMalformedRtp);
    return;
  }
  WebRtcStreamLink* stream = Route(ReadSsrc(buffer), buffer[1] & 0x7f);
  if (stream == nullptr) {
    stats_->Drop(DropReason::kUnknownStream);
    return;
  }
  if (feedback_ != nullptr) {
    const uint8_t id = TransportCcId(stream);
    const std::optional<uint16_t> sequence =
        rtp::ReadTransportSequenceNumber(std::span<const uint8_t>(buffer.data(), clear), id);
    if (sequence.has_value()) feedback_->OnPacket(*sequence, ReadSsrc(buffer), now_us);
  }
  Deliver(*stream, std::span<const uint8_t>(buffer.data(), clear));
}

void WebRtcTransport::Deliver(WebRtcStreamLink& stream, std::span<const uint8_t> packet) {
  if (!stream.inbound->Push(packet)) {
    stats_->Drop(DropReason::kQueueFull);
    return;
  }
  if (stream.ready_loop != nullptr) stream.ready_loop->MarkReady(stream.inbound->fd());
}

void WebRtcTransport::HandleRtcp(std::span<uint8_t> buffer, size_t length) {
  size_t clear = 0;
  const srtp::SrtpResult result = inbound_->UnprotectRtcp(buffer, length, &clear);
  if (result != srtp::SrtpResult::kOk) {
    stats_->Drop(detail::FromSrtp(result));
    return;
  }
  // Reports and feedback go to the audio and the camera stream; each reads what concerns its
  // own SSRC (reception reports, PLI, FIR, NACK) and ignores the rest.
  const std::span<const uint8_t> packet(buffer.data(), clear);
  for (WebRtcStreamLink* stream : {audio_.get(), video_.get()}) {
    if (stream != nullptr) Deliver(*stream, packet);
  }
}

void WebRtcTransport::OnTick(int64_t now_us) {
  // Timers run only during the handshake: a connected transport leaves its DTLS state untouched
  // (one cache miss less per participant and tick in a large room).
  if (dtls_ != nullptr && !connected_) {
    const std::optional<int64_t> due = dtls_->NextTimeoutUs();
    if (due.has_value() && *due <= now_us) dtls_->OnTimer(now_us);
  }
  // RFC 7675: no consent on the selected pair for 30 s: stop sending. The participant's media
  // timeout (the controller's) then ends it. Asked twice a second, not every tick: the agent is
  // one more cache miss per participant and tick in a large room.
  if (!consent_lost_ && now_us >= next_consent_check_us_) {
    next_consent_check_us_ = now_us + kConsentCheckIntervalUs;
    if (ice_->ConsentExpired(now_us)) {
      consent_lost_ = true;
      Bump(stats_->webrtc.consent_expiries);
      path_->Select(net::SocketAddress());
    }
  }
  if (feedback_ != nullptr && connected_ && !consent_lost_ && feedback_->pending() &&
      now_us - last_feedback_us_ >= kFeedbackIntervalUs) {
    last_feedback_us_ = now_us;
    SendTransportFeedback();
  }
}

void WebRtcTransport::SendTransportFeedback() {
  if (feedback_outbound_ == nullptr) return;
  // A few messages at most per interval (a message covers up to 2048 packets, hundreds of ms of
  // the heaviest video); what is left goes with the next.
  for (int message = 0; message < 4; ++message) {
    // Room for the SRTCP index and authentication tag behind the message.
    const size_t size = feedback_->BuildNext(std::span<uint8_t>(feedback_buffer_).first(1200));
    if (size == 0) return;
    size_t protected_size = 0;
    if (feedback_outbound_->ProtectRtcp(feedback_buffer_, size, &protected_size) !=
        srtp::SrtpResult::kOk) {
      Bump(stats_->send_failures);
      continue;
    }
    if (!path_->Send(std::span<const uint8_t>(feedback_buffer_.data(), protected_size))) {
      Bump(stats_->send_failures);
      continue;
    }
    Bump(stats_->rtcp_packets_out);
    Bump(stats_->bytes_out, protected_size);
    Bump(stats_->webrtc.transport_feedback_sent);
  }
}

void WebRtcTransport::OnDtlsSend(std::span<const uint8_t> datagram) {
  // The browser starts DTLS right after its nominating check; until a pair is selected, the
  // handshake is answered where it came from (a validated pair).
  if (ice_->selected() == nullptr && !dtls_peer_.empty()) path_->Select(dtls_peer_);
  (void)path_->Send(datagram);
}

void WebRtcTransport::OnDtlsConnected(const dtls::SrtpKeys& keys) {
  auto inbound = srtp::SrtpSession::Create(keys.remote, srtp::Direction::kInbound);
  if (!inbound.ok()) {
    stats_->Drop(DropReason::kSrtpOther);
    return;
  }
  inbound_ = *std::move(inbound);
  local_key_ = keys.local;
  if (feedback_ != nullptr) {
    auto outbound = srtp::SrtpSession::Create(keys.local, srtp::Direction::kOutbound);
    if (outbound.ok()) feedback_outbound_ = *std::move(outbound);
  }
  for (WebRtcStreamLink* stream : {audio_.get(), video_.get(), content_.get()}) {
    if (stream != nullptr) ArmOutbound(*stream);
  }
  connected_ = true;
}

void WebRtcTransport::ArmOutbound(WebRtcStreamLink& stream) {
  if (!local_key_.has_value() || stream.outbound.load(std::memory_order_relaxed) != nullptr) return;
  // The streams protect as they send, so a packet resent on a NACK (the video endpoint's
  // history keeps clear packets here) is protected again under its own index: libsrtp refuses
  // that unless told, and the browser would NACK in vain until its next keyframe.
  srtp::SrtpSessionOptions options;
  options.allow_repeat_tx = true;
  auto outbound = srtp::SrtpSession::Create(*local_key_, srtp::Direction::kOutbound, options);
  if (!outbound.ok()) return;
  stream.outbound_owner = *std::move(outbound);
  stream.outbound.store(stream.outbound_owner.get(), std::memory_order_release);
}

void WebRtcTransport::Renegotiate(const WebRtcTransportConfig& config,
                                  std::shared_ptr<WebRtcStreamLink> video,
                                  std::shared_ptr<WebRtcStreamLink> content) {
  config_.audio_ssrcs = config.audio_ssrcs;
  config_.video_ssrcs = config.video_ssrcs;
  config_.content_ssrcs = config.content_ssrcs;
  config_.video_payload_type = config.video_payload_type;
  config_.content_payload_type = config.content_payload_type;
  config_.audio_transport_cc_id = config.audio_transport_cc_id;
  config_.video_transport_cc_id = config.video_transport_cc_id;
  config_.content_transport_cc_id = config.content_transport_cc_id;
  MaybeStartFeedback();
  video_ = std::move(video);
  content_ = std::move(content);
  for (WebRtcStreamLink* stream : {video_.get(), content_.get()}) {
    if (stream != nullptr) ArmOutbound(*stream);
  }
}

absl::Status WebRtcTransport::RestartIce(const ice::IceCredentials& remote) {
  ice::IceLiteConfig ice_config;
  ice_config.local = ice::IceCredentials::Generate();
  ice_config.remote = remote;
  auto agent = ice::IceLiteAgent::Create(ice_config);
  if (!agent.ok()) return agent.status();
  ice_ = *std::move(agent);
  config_.remote_ice = remote;
  consent_lost_ = false;
  Bump(stats_->webrtc.ice_restarts);
  return absl::OkStatus();
}

void WebRtcTransport::OnDtlsFailed(dtls::DtlsFailure reason) {
  (void)reason;  // counted by the DTLS counters
  connected_ = false;
}

void WebRtcTransport::OnDtlsClosed() { connected_ = false; }

// ----- The port -----

absl::StatusOr<std::unique_ptr<WebRtcPort>> WebRtcPort::Create(
    MediaWorker* worker, std::unique_ptr<net::UdpSocket> socket,
    std::shared_ptr<const dtls::DtlsCertificate> certificate, EngineStats* stats) {
  std::unique_ptr<WebRtcPort> port(
      new WebRtcPort(worker, std::move(socket), std::move(certificate), stats));
  if (!worker->loop().Add(port->socket_->fd(), port.get())) {
    return absl::InternalError("cannot watch the WebRTC port");
  }
  return port;
}

WebRtcPort::WebRtcPort(MediaWorker* worker, std::unique_ptr<net::UdpSocket> socket,
                       std::shared_ptr<const dtls::DtlsCertificate> certificate, EngineStats* stats)
    : worker_(worker),
      socket_(std::move(socket)),
      certificate_(std::move(certificate)),
      stats_(stats),
      batch_(socket_->fd()) {}

WebRtcPort::~WebRtcPort() {
  if (ticking_) worker_->RemoveTickListener(this);
  worker_->loop().Remove(socket_->fd(), this);
  stats_->webrtc.transports.fetch_sub(static_cast<int64_t>(transports_.size()),
                                      std::memory_order_relaxed);
  transports_.clear();
  batch_.Flush();
}

WebRtcPort::AddressKey WebRtcPort::KeyOf(const net::SocketAddress& address) {
  AddressKey key{};
  key[0] = static_cast<uint8_t>(address.family());
  if (address.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr());
    std::memcpy(&key[1], &in->sin_addr, 4);
    std::memcpy(&key[17], &in->sin_port, 2);
  } else if (address.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr());
    std::memcpy(&key[1], &in6->sin6_addr, 16);
    std::memcpy(&key[17], &in6->sin6_port, 2);
  }
  return key;
}

absl::StatusOr<ice::IceCredentials> WebRtcPort::AddTransport(
    const WebRtcTransportConfig& config, std::shared_ptr<WebRtcPath> path,
    std::shared_ptr<WebRtcStreamLink> audio, std::shared_ptr<WebRtcStreamLink> video,
    std::shared_ptr<WebRtcStreamLink> content) {
  if (transports_.contains(config.key)) return absl::AlreadyExistsError("transport exists");
  auto transport =
      WebRtcTransport::Create(config, certificate_, std::move(path), std::move(audio),
                              std::move(video), std::move(content), stats_, &stats_->webrtc.dtls);
  if (!transport.ok()) return transport.status();
  ice::IceCredentials local = (*transport)->local_ice();
  by_ufrag_[local.ufrag] = transport->get();
  transports_[config.key] = *std::move(transport);
  stats_->webrtc.transports.fetch_add(1, std::memory_order_relaxed);
  if (!ticking_) {
    worker_->AddTickListener(this);
    ticking_ = true;
  }
  return local;
}

void WebRtcPort::RemoveTransport(const std::string& key) {
  auto it = transports_.find(key);
  if (it == transports_.end()) return;
  WebRtcTransport* transport = it->second.get();
  by_ufrag_.erase(transport->local_ice().ufrag);
  for (auto entry = by_address_.begin(); entry != by_address_.end();) {
    if (entry->second == transport) {
      by_address_.erase(entry++);
    } else {
      ++entry;
    }
  }
  transports_.erase(it);
  stats_->webrtc.transports.fetch_sub(1, std::memory_order_relaxed);
  batch_.Flush();  // its close_notify, even when no tick comes any more
  if (transports_.empty() && ticking_) {
    worker_->RemoveTickListener(this);
    ticking_ = false;
  }
}

void WebRtcPort::ForgetStaleAddresses() {
  for (auto entry = by_address_.begin(); entry != by_address_.end();) {
    const AddressKey& key = entry->first;
    net::SocketAddress address;
    // Rebuild the address from its key to ask the agent.
    if (key[0] == AF_INET) {
      sockaddr_in in{};
      in.sin_family = AF_INET;
      std::memcpy(&in.sin_addr, &key[1], 4);
      std::memcpy(&in.sin_port, &key[17], 2);
      address = net::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in), sizeof(in));
    } else {
      sockaddr_in6 in6{};
      in6.sin6_family = AF_INET6;
      std::memcpy(&in6.sin6_addr, &key[1], 16);
      std::memcpy(&in6.sin6_port, &key[17], 2);
      address = net::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in6), sizeof(in6));
    }
    if (!entry->second->IsValidated(address)) {
      by_address_.erase(entry++);
    } else {
      ++entry;
    }
  }
}

WebRtcTransport* WebRtcPort::Find(const std::string& key) {
  auto it = transports_.find(key);
  return it == transports_.end() ? nullptr : it->second.get();
}

void WebRtcPort::Rekey(const std::string& old_ufrag, WebRtcTransport* transport) {
  by_ufrag_.erase(old_ufrag);
  by_ufrag_[transport->local_ice().ufrag] = transport;
}

void WebRtcPort::RemoveTransportsWithPrefix(const std::string& prefix) {
  std::vector<std::string> keys;
  for (const auto& [key, transport] : transports_) {
    if (key.compare(0, prefix.size(), prefix) == 0) keys.push_back(key);
  }
  for (const std::string& key : keys) RemoveTransport(key);
}

void WebRtcPort::OnReadable() {
  const int64_t now_us = detail::MonotonicUs();
  for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
    net::SocketAddress from;
    const int length = socket_->Receive(buffer_, &from);
    if (length == -1) break;
    if (length < 0 || length > 1500) {
      stats_->Drop(DropReason::kOversized);
      continue;
    }
    Bump(stats_->bytes_in, static_cast<uint64_t>(length));
    const std::span<const uint8_t> datagram(buffer_.data(), static_cast<size_t>(length));
    auto known = by_address_.find(KeyOf(from));
    if (Classify(datagram) == Kind::kStun) {
      WebRtcTransport* transport = known != by_address_.end() ? known->second : nullptr;
      if (transport == nullptr) {
        // A first check: the USERNAME's local part names the transport (the agent then verifies
        // the whole username and the integrity).
        const std::optional<std::string_view> ufrag = ice::StunUsernameLocalPart(datagram);
        auto named = ufrag.has_value()
                         ? by_ufrag_.find(absl::string_view(ufrag->data(), ufrag->size()))
                         : by_ufrag_.end();
        if (named == by_ufrag_.end()) {
          stats_->Drop(DropReason::kUnknownPeer);
          continue;
        }
        transport = named->second;
      }
      if (transport->HandleStun(datagram, from, now_us, *socket_)) {
        by_address_[KeyOf(from)] = transport;
        // Each agent remembers at most kIceMaxCandidatePairs pairs: addresses it forgot are
        // forgotten here too, so checks from ever new source ports cannot grow the table.
        if (by_address_.size() > transports_.size() * ice::kIceMaxCandidatePairs + 64) {
          ForgetStaleAddresses();
        }
      }
      continue;
    }
    if (known == by_address_.end()) {
      stats_->Drop(DropReason::kUnknownPeer);
      continue;
    }
    known->second->HandleMedia(buffer_, static_cast<size_t>(length), from, detail::MonotonicUs());
  }
  batch_.Flush();
}

void WebRtcPort::OnTick(int64_t now_us) {
  for (auto& [key, transport] : transports_) transport->OnTick(now_us);
}

}  // namespace chorus::engine
