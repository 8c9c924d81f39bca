#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pipeline/dtls/dtls_certificate.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/media_worker.h"
#include "pipeline/engine/session_types.h"
#include "pipeline/net/port_allocator.h"

namespace chorus::engine {

class Session;
class VideoSession;
class WebRtcPort;

// One worker's load (0 to 1): its thread's busy share of real time, smoothed over about 5 s.
struct WorkerLoad {
  bool video;
  int index;
  double load;
};

// A node's load from its workers': the busiest one's, audio or video (0 with no worker). A room
// is served by one audio and one video worker, so the busiest worker is where the next room
// would suffer first; a mean would hide it.
double BusiestLoad(std::span<const WorkerLoad> workers);

struct EngineOptions {
  // Media workers (threads); 0 = one per core.
  int workers = 0;
  // Where endpoint sockets are bound, and their port range.
  std::string media_ip = "127.0.0.1";
  uint16_t port_min = 40000;
  uint16_t port_max = 40999;
  // Plain RTP endpoints are refused unless this is set (development only).
  bool allow_insecure_media = false;
  // Most endpoints in one session.
  int max_endpoints_per_session = 1000;
  // Video workers (threads of their own, so video never delays an audio tick); 0 = one per core.
  int video_workers = 0;
  // WebRTC: each media worker's shared UDP port is webrtc_port + its index; 0 takes one port per
  // worker from the media range.
  uint16_t webrtc_port = 0;
  // Rooms of three or more have the kernel drop their participants' digital silence
  // (AudioEndpoint::FilterSilence).
  bool drop_silence_in_kernel = true;
};

// A media node's engine (DESIGN.md, The media engine): media workers, the sessions placed on
// them, and the ports their endpoints use. The control-plane face of the pipeline: every method
// is thread-safe, validates its arguments (they come from the network via the API) and answers
// with a Status a caller can act on; the work itself runs on the session's worker thread.
class MediaEngine {
 public:
  static absl::StatusOr<std::unique_ptr<MediaEngine>> Create(const EngineOptions& options);
  // Ends every session and stops the workers.
  ~MediaEngine();

  // ALREADY_EXISTS, INVALID_ARGUMENT (bad bus list).
  absl::Status CreateSession(const std::string& session_id, const SessionConfig& config);
  // NOT_FOUND.
  absl::Status DeleteSession(const std::string& session_id);

  // Binds the endpoint's socket, sets up its SRTP, decoder and place in the mix, and answers
  // with the node's side. INVALID_ARGUMENT (bad key, codec, address; plain RTP refused),
  // RESOURCE_EXHAUSTED (no port left, session full), NOT_FOUND, ALREADY_EXISTS.
  absl::StatusOr<EndpointAnswer> AddEndpoint(const std::string& session_id,
                                             const EndpointConfig& config);
  // Chorus offers first (a call it places): binds the audio socket of endpoint `endpoint_id` and
  // decides its SSRC and (secure) SDES key in `suite`, before the endpoint's own side is known.
  // Nothing is sent or received until AddEndpoint of the same id takes the reservation (its
  // config must have the same `secure` and `suite`); RemoveEndpoint and DeleteSession release
  // it. INVALID_ARGUMENT, NOT_FOUND (session), ALREADY_EXISTS, RESOURCE_EXHAUSTED (no port).
  // With `video`, a video stream's socket, SSRC and key are reserved too (answer.video); an
  // answer without video releases them.
  absl::StatusOr<EndpointAnswer> ReserveEndpoint(const std::string& session_id,
                                                 const std::string& endpoint_id, bool secure,
                                                 srtp::SrtpSuite suite, bool video = false);
  // A WebRTC endpoint's new offer in the same call (config from it, same id): a screen share
  // starts or stops, the announced SSRCs change, or the browser restarts ICE (new remote
  // credentials: new local ones are answered). DTLS and SRTP go on; the participant stays.
  // NOT_FOUND (no such WebRTC endpoint), INVALID_ARGUMENT (a camera added or removed: not taken
  // in a renegotiation yet).
  absl::StatusOr<EndpointAnswer> RenegotiateWebRtc(const std::string& session_id,
                                                   const EndpointConfig& config);
  // An RTP endpoint's new offer in the same call (a room system's re-INVITE): its content stream
  // starts (a socket, SSRC and key of its own, answered in answer.content) or stops; one that
  // goes on keeps its answer. Audio and camera go on as they were. NOT_FOUND (no such RTP
  // endpoint), INVALID_ARGUMENT (a camera added or removed), RESOURCE_EXHAUSTED (no port).
  absl::StatusOr<EndpointAnswer> RenegotiateRtp(const std::string& session_id,
                                                const EndpointConfig& config);
  absl::Status UpdateRouting(const std::string& session_id, const std::string& endpoint_id,
                             const Routing& routing);
  absl::Status RemoveEndpoint(const std::string& session_id, const std::string& endpoint_id);
  // The endpoint asked for a keyframe of its view outside RTCP (SIP INFO, RFC 5168): as a PLI.
  // NOT_FOUND (no such session, or endpoint with video).
  absl::Status RequestKeyframe(const std::string& session_id, const std::string& endpoint_id);
  // How the session's video views are laid out. NOT_FOUND, INVALID_ARGUMENT.
  absl::Status SetLayout(const std::string& session_id, const LayoutConfig& layout);
  // Distinct video views (compositors and encoders) the session uses.
  absl::StatusOr<int> VideoViews(const std::string& session_id);
  absl::StatusOr<SessionStatsSnapshot> GetSessionStats(const std::string& session_id);

  // The node's load (0 to 1): BusiestLoad(worker_loads()).
  double load() const;
  // Each worker's load, audio workers first, then video workers.
  std::vector<WorkerLoad> worker_loads() const;
  int session_count() const;
  int endpoint_count() const;
  int worker_count() const { return static_cast<int>(workers_.size()); }
  uint32_t port_range_size() const { return ports_.range_size(); }
  EngineStats& stats() { return stats_; }
  // The video workers' ticks (their count and overruns: frames not served in time).
  EngineStats& video_stats() { return video_stats_; }
  const EngineOptions& options() const { return options_; }
  // The shared WebRTC port of each media worker that has one open.
  std::vector<net::SocketAddress> webrtc_ports() const;

 private:
  struct SessionEntry {
    MediaWorker* worker;                  // not owned
    std::unique_ptr<Session> session;     // destroyed on the worker thread
    MediaWorker* video_worker;            // not owned
    std::unique_ptr<VideoSession> video;  // on the video worker thread
  };

  explicit MediaEngine(const EngineOptions& options);
  absl::StatusOr<SessionEntry*> Find(const std::string& session_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const EngineOptions options_;
  EngineStats stats_;
  net::PortAllocator ports_;
  std::vector<std::unique_ptr<MediaWorker>> workers_;
  EngineStats video_stats_;  // the video workers' ticks
  std::vector<std::unique_ptr<MediaWorker>> video_workers_;
  // The node's DTLS certificate (ECDSA P-256, made at start) and each media worker's WebRTC
  // port (index = worker index; each destroyed on its worker).
  std::shared_ptr<const dtls::DtlsCertificate> certificate_;
  std::vector<std::unique_ptr<WebRtcPort>> webrtc_ports_ ABSL_GUARDED_BY(mutex_);
  // Binds worker `index`'s WebRTC port and starts serving it.
  absl::Status OpenWebRtcPort(int index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::StatusOr<EndpointAnswer> AddWebRtcEndpoint(SessionEntry* entry,
                                                   const std::string& session_id,
                                                   const EndpointConfig& config)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  // Endpoints Chorus offered first, by "<session>/<endpoint>" (ReserveEndpoint).
  struct Reservation {
    std::unique_ptr<net::UdpSocket> socket;
    bool secure = true;
    srtp::SrtpSuite suite = srtp::SrtpSuite::kAesCm128HmacSha1_80;
    std::string local_key_base64;
    uint32_t ssrc = 0;
    std::unique_ptr<net::UdpSocket> video_socket;  // null: no video reserved
    std::string video_key_base64;
    uint32_t video_ssrc = 0;
  };
  absl::flat_hash_map<std::string, Reservation> reservations_ ABSL_GUARDED_BY(mutex_);

  // Serialises control operations (they are rare and short; the media path never takes it).
  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::unique_ptr<SessionEntry>> sessions_ ABSL_GUARDED_BY(mutex_);
  std::atomic<int> endpoint_count_{0};
};

}  // namespace chorus::engine
