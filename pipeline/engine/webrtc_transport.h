#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pipeline/dtls/dtls_certificate.h"
#include "pipeline/dtls/dtls_transport.h"
#include "pipeline/engine/datagram_queue.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/media_worker.h"
#include "pipeline/ice/ice_lite.h"
#include "pipeline/net/datagram_io.h"
#include "pipeline/net/event_loop.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/rtp/transport_feedback.h"
#include "pipeline/srtp/srtp_session.h"

namespace chorus::engine {

// WebRTC on a media node (DESIGN.md, The media engine; mediasoup's WebRtcTransport and
// WebRtcServer are the model): every WebRTC participant of a media worker shares that worker's
// one UDP port. A participant's transport (ICE-lite, DTLS-SRTP, one 5-tuple for audio, video and
// screen share: BUNDLE) is apart from the streams that use it: its audio endpoint, on the same
// worker, and its video and content endpoints, on a video worker, each see a DatagramIo of clear
// RTP/RTCP, exactly as they would see a plain RTP socket. The transport demultiplexes by RFC 7983
// (STUN, DTLS, SRTP), unprotects, and hands each packet to the stream it belongs to through a
// lock-free queue; what a stream sends is protected with that stream's own outbound SRTP session
// (so the video worker never touches the audio worker's libsrtp state) and sent from the shared
// socket to the ICE-selected address.

// Datagrams the media worker sends from its shared WebRTC port during one tick (or one wakeup),
// sent together with sendmmsg(2) when the tick is done: a listener-heavy room (a lecture) makes
// one system call per 64 packets instead of one per packet. Worker thread only.
class SendBatch {
 public:
  static constexpr size_t kCapacity = 64;
  static constexpr size_t kSlotBytes = 1500;
  explicit SendBatch(int fd);
  bool OnOwnerThread() const { return std::this_thread::get_id() == owner_; }
  // Queues a datagram (sent at once when the batch is full).
  void Add(std::span<const uint8_t> datagram, const net::SocketAddress& to);
  // Sends what is queued.
  void Flush();
  uint64_t batches() const { return batches_; }
  uint64_t datagrams() const { return datagrams_; }

 private:
  const int fd_;
  const std::thread::id owner_;
  size_t count_ = 0;
  std::vector<uint8_t> bytes_;  // kCapacity * kSlotBytes
  std::array<net::SocketAddress, kCapacity> to_;
  std::array<iovec, kCapacity> iov_{};
  std::array<mmsghdr, kCapacity> messages_{};
  uint64_t batches_ = 0;
  uint64_t datagrams_ = 0;
};

// Where a participant's transport sends: the worker's shared socket and the ICE-selected remote
// address. Written by the transport (media worker), read by its streams (any worker). What the
// media worker sends goes through its SendBatch; other threads (video) send at once.
class WebRtcPath {
 public:
  explicit WebRtcPath(int fd, SendBatch* batch = nullptr) : fd_(fd), batch_(batch) {}
  void Select(const net::SocketAddress& remote) {
    absl::MutexLock lock(&mutex_);
    remote_ = remote;
  }
  // Sends `datagram` to the selected address; false before one is selected or when the kernel
  // refuses.
  bool Send(std::span<const uint8_t> datagram) const;

 private:
  const int fd_;            // not owned: the port's socket, which outlives every transport on it
  SendBatch* const batch_;  // the port's; may be null
  mutable absl::Mutex mutex_;
  net::SocketAddress remote_ ABSL_GUARDED_BY(mutex_);
};

// What a transport shares with one of its streams.
struct WebRtcStreamLink {
  std::unique_ptr<DatagramQueue> inbound;  // clear RTP/RTCP: the transport pushes, the stream pops
  // Set when the stream is on the transport's own worker (audio): its queue signals nothing and
  // the transport marks the stream ready on this loop instead (no eventfd write and read per
  // packet). Null for a stream on another thread (video, content), woken by the eventfd.
  net::EventLoop* ready_loop = nullptr;
  std::shared_ptr<WebRtcPath> path;
  // The stream's outbound SRTP session, set once by the transport when DTLS completes (release),
  // then used only by the stream's thread (acquire). Null before.
  std::atomic<srtp::SrtpSession*> outbound{nullptr};
  std::unique_ptr<srtp::SrtpSession> outbound_owner;  // written before `outbound`
  net::SocketAddress local;                           // the port's address, for answers
};

// The DatagramIo one endpoint uses: clear packets in, clear packets out (protected and sent here).
// Thread: the endpoint's.
class WebRtcStreamIo final : public net::DatagramIo {
 public:
  explicit WebRtcStreamIo(std::shared_ptr<WebRtcStreamLink> link) : link_(std::move(link)) {}
  int fd() const override { return link_->inbound->fd(); }
  const net::SocketAddress& local_address() const override { return link_->local; }
  int Receive(std::span<uint8_t> buffer, net::SocketAddress* from) override;
  bool Send(std::span<const uint8_t> data, const net::SocketAddress& to) override;

 private:
  std::shared_ptr<WebRtcStreamLink> link_;
  alignas(16) std::array<uint8_t, 1600> buffer_{};
};

// What a WebRTC endpoint needs from its SDP offer.
struct WebRtcTransportConfig {
  std::string key;  // unique on the node: "<session>/<endpoint>"
  ice::IceCredentials remote_ice;
  std::array<uint8_t, 32> remote_fingerprint{};
  // SSRCs the participant announced per stream; empty = recognise by payload type.
  std::vector<uint32_t> audio_ssrcs;
  std::vector<uint32_t> video_ssrcs;
  std::vector<uint32_t> content_ssrcs;
  // The transport-wide sequence number extension's id per stream (0: not negotiated).
  uint8_t audio_transport_cc_id = 0;
  uint8_t video_transport_cc_id = 0;
  uint8_t content_transport_cc_id = 0;
  uint8_t audio_payload_type = 111;
  uint8_t video_payload_type = 0;    // 0: no camera stream
  uint8_t content_payload_type = 0;  // 0: no screen share stream
};

// One participant's transport. Thread: the media worker that owns the port.
//
// Congestion control: when the offer negotiated the transport-wide sequence number extension
// (draft-holmer-rmcat-transport-wide-cc-extensions-01), the transport records the number and
// arrival time of every packet that carries it, and about every kFeedbackIntervalUs (at the
// worker's next 20 ms tick) sends the browser RTCP transport feedback (RTPFB FMT 15) about them,
// from its own SSRC, protected with its own outbound SRTCP session. The browser's congestion
// controller turns it into its send-side bandwidth estimate; the REMB each video stream sends
// stays an upper bound.
class WebRtcTransport final : public dtls::DtlsTransport::Listener {
 public:
  static constexpr int64_t kFeedbackIntervalUs = 50'000;
  // How often the selected pair's consent (RFC 7675, 30 s) is looked at.
  static constexpr int64_t kConsentCheckIntervalUs = 500'000;

  // Streams not wanted are null.
  static absl::StatusOr<std::unique_ptr<WebRtcTransport>> Create(
      const WebRtcTransportConfig& config, std::shared_ptr<const dtls::DtlsCertificate> certificate,
      std::shared_ptr<WebRtcPath> path, std::shared_ptr<WebRtcStreamLink> audio,
      std::shared_ptr<WebRtcStreamLink> video, std::shared_ptr<WebRtcStreamLink> content,
      EngineStats* stats, dtls::DtlsCounters* counters);
  ~WebRtcTransport() override;

  const ice::IceCredentials& local_ice() const { return ice_->local_credentials(); }
  const std::string& key() const { return config_.key; }

  // A STUN datagram from `from`: answered through `socket`; true when `from` passed a check (the
  // port then routes its other datagrams here).
  bool HandleStun(std::span<const uint8_t> datagram, const net::SocketAddress& from, int64_t now_us,
                  net::UdpSocket& socket);
  // DTLS or SRTP from a 5-tuple routed here, arrived at `now_us`. `buffer` is modified in place.
  void HandleMedia(std::span<uint8_t> buffer, size_t length, const net::SocketAddress& from,
                   int64_t now_us);
  // Timers: DTLS retransmission and deadline; consent freshness; transport feedback.
  void OnTick(int64_t now_us);
  bool connected() const { return connected_; }
  bool IsValidated(const net::SocketAddress& remote) const { return ice_->IsValidated(remote); }

  // Renegotiation (a new offer in the same call): the streams' SSRCs as the new offer announces
  // them, and the camera and screen share streams, each kept, started (a new link) or stopped
  // (null). DTLS and SRTP go on.
  void Renegotiate(const WebRtcTransportConfig& config, std::shared_ptr<WebRtcStreamLink> video,
                   std::shared_ptr<WebRtcStreamLink> content);
  // An ICE restart (new remote credentials, RFC 8445 section 9): a new agent with new local
  // credentials; the selected pair stays until the browser nominates a new one.
  absl::Status RestartIce(const ice::IceCredentials& remote);
  bool has_content() const { return content_ != nullptr; }
  const std::shared_ptr<WebRtcStreamLink>& video_link() const { return video_; }
  const std::shared_ptr<WebRtcStreamLink>& content_link() const { return content_; }
  const std::shared_ptr<WebRtcPath>& path() const { return path_; }
  const ice::IceCredentials& remote_ice() const { return config_.remote_ice; }
  // The transport-wide congestion control receiver; null when not negotiated.
  const rtp::TransportFeedbackRecorder* transport_feedback() const { return feedback_.get(); }

  // dtls::DtlsTransport::Listener
  void OnDtlsSend(std::span<const uint8_t> datagram) override;
  void OnDtlsConnected(const dtls::SrtpKeys& keys) override;
  void OnDtlsFailed(dtls::DtlsFailure reason) override;
  void OnDtlsClosed() override;

 private:
  WebRtcTransport(const WebRtcTransportConfig& config, std::shared_ptr<WebRtcPath> path,
                  EngineStats* stats);
  void HandleRtp(std::span<uint8_t> buffer, size_t length, int64_t now_us);
  void HandleRtcp(std::span<uint8_t> buffer, size_t length);
  // Hands a clear packet to `stream` (counted as a drop when its queue is full).
  void Deliver(WebRtcStreamLink& stream, std::span<const uint8_t> packet);
  // Gives `stream` its outbound SRTP session once the keys are known.
  void ArmOutbound(WebRtcStreamLink& stream);
  // The stream an RTP packet of `ssrc` and `payload_type` belongs to, or null.
  WebRtcStreamLink* Route(uint32_t ssrc, uint8_t payload_type);
  // The transport-wide sequence number extension's id in `stream` (0: none).
  uint8_t TransportCcId(const WebRtcStreamLink* stream) const;
  // Creates the feedback recorder when the configuration negotiated the extension.
  void MaybeStartFeedback();
  // Sends the feedback about what arrived since the last.
  void SendTransportFeedback();

  WebRtcTransportConfig config_;
  // The outbound key (DTLS-exported), kept for streams that start after the handshake.
  std::optional<srtp::SrtpKeyMaterial> local_key_;
  std::shared_ptr<WebRtcPath> path_;
  EngineStats* const stats_;
  std::shared_ptr<WebRtcStreamLink> audio_;
  std::shared_ptr<WebRtcStreamLink> video_;
  std::shared_ptr<WebRtcStreamLink> content_;
  std::unique_ptr<ice::IceLiteAgent> ice_;
  std::unique_ptr<dtls::DtlsTransport> dtls_;
  std::unique_ptr<srtp::SrtpSession> inbound_;
  net::SocketAddress dtls_peer_;  // where DTLS goes before a pair is selected
  bool connected_ = false;
  bool consent_lost_ = false;
  int64_t next_consent_check_us_ = 0;
  // Transport-wide congestion control (null when not negotiated).
  std::unique_ptr<rtp::TransportFeedbackRecorder> feedback_;
  std::unique_ptr<srtp::SrtpSession> feedback_outbound_;  // from the DTLS keys, own SSRC
  uint32_t feedback_ssrc_ = 0;
  int64_t last_feedback_us_ = 0;
  alignas(16) std::array<uint8_t, 1500> feedback_buffer_{};
};

// A media worker's shared WebRTC port: one UDP socket for every WebRTC participant of the
// worker, demultiplexed by the STUN username at the first check, then by 5-tuple. Thread: the
// worker (created and destroyed inside MediaWorker::Call).
class WebRtcPort final : public net::EventLoop::Handler, public TickListener {
 public:
  static absl::StatusOr<std::unique_ptr<WebRtcPort>> Create(
      MediaWorker* worker, std::unique_ptr<net::UdpSocket> socket,
      std::shared_ptr<const dtls::DtlsCertificate> certificate, EngineStats* stats);
  ~WebRtcPort() override;

  const net::SocketAddress& local_address() const { return socket_->local_address(); }
  std::shared_ptr<WebRtcPath> NewPath() {
    return std::make_shared<WebRtcPath>(socket_->fd(), &batch_);
  }

  // Adds a participant's transport; answers its local ICE credentials.
  absl::StatusOr<ice::IceCredentials> AddTransport(const WebRtcTransportConfig& config,
                                                   std::shared_ptr<WebRtcPath> path,
                                                   std::shared_ptr<WebRtcStreamLink> audio,
                                                   std::shared_ptr<WebRtcStreamLink> video,
                                                   std::shared_ptr<WebRtcStreamLink> content);
  void RemoveTransport(const std::string& key);
  // The transport of `key`, or null.
  WebRtcTransport* Find(const std::string& key);
  // After RestartIce: the transport's new local ufrag replaces `old_ufrag` in the demultiplexer.
  void Rekey(const std::string& old_ufrag, WebRtcTransport* transport);
  // Every transport whose key starts with `prefix` (a session's: "<session>/").
  void RemoveTransportsWithPrefix(const std::string& prefix);
  size_t transport_count() const { return transports_.size(); }

  static constexpr int kMaxDatagramsPerWakeup = 64;
  void OnReadable() override;
  void OnTick(int64_t now_us) override;
  void OnTickDone() override { batch_.Flush(); }
  const SendBatch& batch() const { return batch_; }

 private:
  // A remote address as a hashable key (family, address bytes, port).
  using AddressKey = std::array<uint8_t, 20>;
  static AddressKey KeyOf(const net::SocketAddress& address);
  // Drops the addresses whose transport's agent no longer knows them.
  void ForgetStaleAddresses();

  WebRtcPort(MediaWorker* worker, std::unique_ptr<net::UdpSocket> socket,
             std::shared_ptr<const dtls::DtlsCertificate> certificate, EngineStats* stats);

  MediaWorker* const worker_;  // not owned
  std::unique_ptr<net::UdpSocket> socket_;
  std::shared_ptr<const dtls::DtlsCertificate> certificate_;
  EngineStats* const stats_;
  absl::flat_hash_map<std::string, std::unique_ptr<WebRtcTransport>> transports_;  // by key
  absl::flat_hash_map<std::string, WebRtcTransport*> by_ufrag_;  // local ufrag -> transport
  absl::flat_hash_map<AddressKey, WebRtcTransport*> by_address_;
  bool ticking_ = false;
  SendBatch batch_;
  alignas(16) std::array<uint8_t, 2048> buffer_{};
};

}  // namespace chorus::engine
