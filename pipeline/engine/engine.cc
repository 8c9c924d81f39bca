#include "pipeline/engine/engine.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "pipeline/engine/endpoint_common.h"
#include "pipeline/engine/session.h"
#include "pipeline/engine/video_session.h"
#include "pipeline/engine/webrtc_transport.h"
#include "pipeline/srtp/srtp_key.h"

namespace chorus::engine {
namespace {

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 63) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

absl::StatusOr<std::unique_ptr<MediaEngine>> MediaEngine::Create(const EngineOptions& options) {
  if (options.port_min == 0 || options.port_min > options.port_max) {
    return absl::InvalidArgumentError("the media port range is empty");
  }
  auto probe = net::SocketAddress::FromIp(options.media_ip, 0);
  if (!probe.ok()) return probe.status();
  std::unique_ptr<MediaEngine> engine(new MediaEngine(options));
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int count = options.workers > 0 ? options.workers : cores;
  for (int i = 0; i < count; ++i) {
    auto worker = MediaWorker::Create(i, &engine->stats_);
    if (!worker.ok()) return worker.status();
    engine->workers_.push_back(*std::move(worker));
  }
  auto certificate = dtls::DtlsCertificate::Generate();
  if (!certificate.ok()) return certificate.status();
  engine->certificate_ = *std::move(certificate);
  engine->webrtc_ports_.resize(engine->workers_.size());
  // A fixed WebRTC port is bound at start (it is what the firewall opens); otherwise a worker
  // takes one from the media range with its first WebRTC participant.
  if (options.webrtc_port != 0) {
    absl::MutexLock lock(&engine->mutex_);
    for (int i = 0; i < count; ++i) {
      if (absl::Status opened = engine->OpenWebRtcPort(i); !opened.ok()) return opened;
    }
  }
  const int video_count =
      std::clamp(options.video_workers > 0 ? options.video_workers : cores, 1, 256);
  for (int i = 0; i < video_count; ++i) {
    auto worker =
        MediaWorker::Create(i, &engine->video_stats_, /*start_thread=*/true, kVideoTickUs, "video");
    if (!worker.ok()) return worker.status();
    engine->video_workers_.push_back(*std::move(worker));
  }
  return engine;
}

MediaEngine::MediaEngine(const EngineOptions& options)
    : options_(options), ports_(options.media_ip, options.port_min, options.port_max) {}

MediaEngine::~MediaEngine() {
  absl::MutexLock lock(&mutex_);
  for (auto& [id, entry] : sessions_) {
    SessionEntry* raw = entry.get();
    (void)raw->video_worker->Call([raw] { raw->video.reset(); });
    (void)raw->worker->Call([raw] { raw->session.reset(); });
  }
  sessions_.clear();
  for (size_t i = 0; i < webrtc_ports_.size(); ++i) {
    if (webrtc_ports_[i] != nullptr) (void)workers_[i]->Call([&] { webrtc_ports_[i].reset(); });
  }
  workers_.clear();
  video_workers_.clear();
}

absl::StatusOr<MediaEngine::SessionEntry*> MediaEngine::Find(const std::string& session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) {
    return absl::NotFoundError("no session '" + session_id + "' on this media node");
  }
  return it->second.get();
}

absl::Status MediaEngine::CreateSession(const std::string& session_id,
                                        const SessionConfig& config) {
  if (!ValidId(session_id)) {
    return absl::InvalidArgumentError("session_id must be 1 to 63 characters of [a-z0-9-_]");
  }
  if (config.max_speakers < 1 || config.max_speakers > 8) {
    return absl::InvalidArgumentError("max_speakers must be between 1 and 8");
  }
  if (config.languages.size() > 8) {
    return absl::InvalidArgumentError("at most 8 language buses per session");
  }
  absl::MutexLock lock(&mutex_);
  if (sessions_.contains(session_id)) {
    return absl::AlreadyExistsError("session '" + session_id + "' exists");
  }
  // Placement: the worker with the fewest sessions, then the lowest load.
  MediaWorker* worker = workers_.front().get();
  for (auto& candidate : workers_) {
    if (candidate->session_count().load() < worker->session_count().load()) {
      worker = candidate.get();
    }
  }
  MediaWorker* video_worker = video_workers_.front().get();
  for (auto& candidate : video_workers_) {
    if (candidate->session_count().load() < video_worker->session_count().load()) {
      video_worker = candidate.get();
    }
  }
  auto entry = std::make_unique<SessionEntry>();
  entry->worker = worker;
  entry->video_worker = video_worker;
  entry->video = std::make_unique<VideoSession>(video_worker, &stats_);
  auto board = std::make_shared<SpeakerBoard>();
  entry->video->set_speaker_board(board);
  absl::Status created;
  absl::Status posted = worker->Call([&] {
    auto session = Session::Create(config, worker, &stats_, options_.max_endpoints_per_session,
                                   options_.drop_silence_in_kernel);
    if (!session.ok()) {
      created = session.status();
      return;
    }
    entry->session = *std::move(session);
    entry->session->set_speaker_board(board);
  });
  if (!posted.ok()) return posted;
  if (!created.ok()) return created;
  worker->session_count().fetch_add(1);
  video_worker->session_count().fetch_add(1);
  sessions_.emplace(session_id, std::move(entry));
  return absl::OkStatus();
}

absl::Status MediaEngine::DeleteSession(const std::string& session_id) {
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  int endpoints = 0;
  (void)entry->video_worker->Call([&] { entry->video.reset(); });
  entry->video_worker->session_count().fetch_sub(1);
  WebRtcPort* port = webrtc_ports_[static_cast<size_t>(entry->worker->index())].get();
  absl::Status posted = entry->worker->Call([&] {
    endpoints = entry->session->endpoint_count();
    entry->session.reset();
    if (port != nullptr) port->RemoveTransportsWithPrefix(session_id + "/");
  });
  if (!posted.ok()) return posted;
  endpoint_count_.fetch_sub(endpoints);
  entry->worker->session_count().fetch_sub(1);
  sessions_.erase(session_id);
  absl::erase_if(reservations_, [&session_id](const auto& reservation) {
    return reservation.first.size() > session_id.size() &&
           reservation.first.compare(0, session_id.size() + 1, session_id + "/") == 0;
  });
  return absl::OkStatus();
}

absl::StatusOr<EndpointAnswer> MediaEngine::AddEndpoint(const std::string& session_id,
                                                        const EndpointConfig& config) {
  if (!ValidId(config.id)) {
    return absl::InvalidArgumentError("endpoint_id must be 1 to 63 characters of [a-z0-9-_]");
  }
  if (config.webrtc.enabled) {
    absl::MutexLock lock(&mutex_);
    auto found = Find(session_id);
    if (!found.ok()) return found.status();
    return AddWebRtcEndpoint(*found, session_id, config);
  }
  if (!config.secure && !options_.allow_insecure_media) {
    return absl::InvalidArgumentError(
        "plain RTP is refused: this media node only speaks SRTP (start it with "
        "--allow_insecure_media for development)");
  }
  if (config.secure) {
    // Checked before a port is taken, so a bad key is reported as such.
    auto key = srtp::SrtpKeyMaterial::FromBase64(config.suite, config.remote_key_base64);
    if (!key.ok()) return key.status();
  }
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  absl::StatusOr<std::unique_ptr<net::UdpSocket>> socket =
      absl::InternalError("no socket allocated");
  std::unique_ptr<net::UdpSocket> video_socket;
  EndpointConfig reserved_config;
  const EndpointConfig* used = &config;
  if (auto reservation = reservations_.find(session_id + "/" + config.id);
      reservation != reservations_.end()) {
    if (reservation->second.secure != config.secure ||
        (config.secure && reservation->second.suite != config.suite)) {
      return absl::InvalidArgumentError(
          "the answer's transport or SRTP suite is not the one Chorus offered");
    }
    reserved_config = config;
    reserved_config.local_key_base64 = reservation->second.local_key_base64;
    reserved_config.local_ssrc = reservation->second.ssrc;
    used = &reserved_config;
    socket = std::move(reservation->second.socket);
    if (config.video.enabled && reservation->second.video_socket != nullptr) {
      reserved_config.video.local_key_base64 = reservation->second.video_key_base64;
      reserved_config.video.local_ssrc = reservation->second.video_ssrc;
      video_socket = std::move(reservation->second.video_socket);
    }
    reservations_.erase(reservation);  // a video stream not answered is released
  } else {
    socket = ports_.Allocate();
  }
  if (!socket.ok()) return socket.status();
  if (config.video.enabled && video_socket == nullptr) {
    auto allocated = ports_.Allocate();
    if (!allocated.ok()) return allocated.status();
    video_socket = *std::move(allocated);
  }
  std::unique_ptr<net::UdpSocket> content_socket;
  if (config.content.enabled) {
    auto allocated = ports_.Allocate();
    if (!allocated.ok()) return allocated.status();
    content_socket = *std::move(allocated);
  }
  absl::StatusOr<EndpointAnswer> answer = absl::InternalError("not run");
  absl::Status posted =
      entry->worker->Call([&] { answer = entry->session->AddEndpoint(*used, *std::move(socket)); });
  if (!posted.ok()) return posted;
  if (!answer.ok()) return answer;
  if (config.video.enabled) {
    absl::StatusOr<VideoAnswer> video = absl::InternalError("not run");
    posted = entry->video_worker->Call([&] {
      video = entry->video->AddEndpoint(config.id, config.secure, config.suite, used->video,
                                        std::move(video_socket));
      if (video.ok()) entry->video->ApplyRouting(config.id, config.routing);
    });
    if (!posted.ok()) video = posted;
    if (!video.ok()) {
      (void)entry->worker->Call([&] { (void)entry->session->RemoveEndpoint(config.id); });
      return video.status();
    }
    answer->video = *video;
  }
  if (config.content.enabled) {
    absl::StatusOr<VideoAnswer> content = absl::InternalError("not run");
    posted = entry->video_worker->Call([&] {
      content = entry->video->AddContent(config.id, config.secure, config.suite, config.content,
                                         std::move(content_socket));
      if (content.ok()) entry->video->ApplyRouting(config.id, config.routing);
    });
    if (!posted.ok()) content = posted;
    if (!content.ok()) {
      (void)entry->video_worker->Call([&] { entry->video->RemoveEndpoint(config.id); });
      (void)entry->worker->Call([&] { (void)entry->session->RemoveEndpoint(config.id); });
      return content.status();
    }
    answer->content = *content;
  }
  endpoint_count_.fetch_add(1);
  return answer;
}

absl::StatusOr<EndpointAnswer> MediaEngine::ReserveEndpoint(const std::string& session_id,
                                                            const std::string& endpoint_id,
                                                            bool secure, srtp::SrtpSuite suite,
                                                            bool video) {
  if (!ValidId(endpoint_id)) {
    return absl::InvalidArgumentError("endpoint_id must be 1 to 63 characters of [a-z0-9-_]");
  }
  if (!secure && !options_.allow_insecure_media) {
    return absl::InvalidArgumentError(
        "plain RTP is refused: this media node only speaks SRTP (start it with "
        "--allow_insecure_media for development)");
  }
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  const std::string key = session_id + "/" + endpoint_id;
  bool exists = reservations_.contains(key);
  SessionEntry* entry = *found;
  absl::Status posted =
      entry->worker->Call([&] { exists = exists || entry->session->Find(endpoint_id) != nullptr; });
  if (!posted.ok()) return posted;
  if (exists) return absl::AlreadyExistsError("endpoint '" + endpoint_id + "' already exists");
  auto socket = ports_.Allocate();
  if (!socket.ok()) return socket.status();
  Reservation reservation;
  EndpointAnswer answer;
  answer.local = (*socket)->local_address();
  answer.ssrc = detail::RandomSsrc();
  answer.suite = suite;
  if (secure) answer.local_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
  if (video) {
    auto video_socket = ports_.Allocate();
    if (!video_socket.ok()) return video_socket.status();
    answer.video.enabled = true;
    answer.video.local = (*video_socket)->local_address();
    answer.video.ssrc = detail::RandomSsrc();
    if (secure) answer.video.local_key_base64 = srtp::SrtpKeyMaterial::Generate(suite).ToBase64();
    reservation.video_socket = *std::move(video_socket);
    reservation.video_key_base64 = answer.video.local_key_base64;
    reservation.video_ssrc = answer.video.ssrc;
  }
  reservation.socket = *std::move(socket);
  reservation.secure = secure;
  reservation.suite = suite;
  reservation.local_key_base64 = answer.local_key_base64;
  reservation.ssrc = answer.ssrc;
  reservations_[key] = std::move(reservation);
  return answer;
}

absl::Status MediaEngine::OpenWebRtcPort(int index) {
  absl::StatusOr<std::unique_ptr<net::UdpSocket>> socket = absl::InternalError("no WebRTC port");
  if (options_.webrtc_port != 0) {
    if (options_.webrtc_port + index > 65535) {
      return absl::InvalidArgumentError("the WebRTC ports run past 65535");
    }
    auto address = net::SocketAddress::FromIp(options_.media_ip,
                                              static_cast<uint16_t>(options_.webrtc_port + index));
    if (!address.ok()) return address.status();
    socket = net::UdpSocket::Bind(*address);
  } else {
    socket = ports_.Allocate();
  }
  if (!socket.ok()) return socket.status();
  MediaWorker* worker = workers_[static_cast<size_t>(index)].get();
  absl::StatusOr<std::unique_ptr<WebRtcPort>> port = absl::InternalError("not run");
  absl::Status posted = worker->Call(
      [&] { port = WebRtcPort::Create(worker, *std::move(socket), certificate_, &stats_); });
  if (!posted.ok()) return posted;
  if (!port.ok()) return port.status();
  webrtc_ports_[static_cast<size_t>(index)] = *std::move(port);
  return absl::OkStatus();
}

absl::StatusOr<EndpointAnswer> MediaEngine::AddWebRtcEndpoint(SessionEntry* entry,
                                                              const std::string& session_id,
                                                              const EndpointConfig& config) {
  const int index = entry->worker->index();
  if (webrtc_ports_[static_cast<size_t>(index)] == nullptr) {
    if (absl::Status opened = OpenWebRtcPort(index); !opened.ok()) return opened;
  }
  WebRtcPort* port = webrtc_ports_[static_cast<size_t>(index)].get();
  WebRtcTransportConfig transport;
  transport.key = session_id + "/" + config.id;
  transport.remote_ice.ufrag = config.webrtc.remote_ufrag;
  transport.remote_ice.pwd = config.webrtc.remote_pwd;
  transport.remote_fingerprint = config.webrtc.remote_fingerprint;
  transport.audio_ssrcs = config.webrtc.audio_ssrcs;
  transport.video_ssrcs = config.webrtc.video_ssrcs;
  transport.content_ssrcs = config.webrtc.content_ssrcs;
  transport.audio_transport_cc_id = config.webrtc.audio_transport_cc_id;
  transport.video_transport_cc_id = config.webrtc.video_transport_cc_id;
  transport.content_transport_cc_id = config.webrtc.content_transport_cc_id;
  transport.audio_payload_type = config.codec.payload_type;
  if (config.video.enabled) transport.video_payload_type = config.video.payload_type;
  if (config.content.enabled) transport.content_payload_type = config.content.payload_type;
  auto path = port->NewPath();
  // Queue sizes: audio comes one packet per 20 ms and is drained at every wakeup; video comes in
  // bursts (a keyframe is a hundred packets). 96 kB and 384 kB per participant.
  auto make_link = [&](bool wanted, size_t slots,
                       bool same_worker) -> absl::StatusOr<std::shared_ptr<WebRtcStreamLink>> {
    if (!wanted) return std::shared_ptr<WebRtcStreamLink>();
    auto queue = DatagramQueue::Create(
        slots, same_worker ? DatagramQueue::Signal::kNone : DatagramQueue::Signal::kEventFd);
    if (!queue.ok()) return queue.status();
    auto link = std::make_shared<WebRtcStreamLink>();
    link->inbound = *std::move(queue);
    if (same_worker) link->ready_loop = &entry->worker->loop();
    link->path = path;
    link->local = port->local_address();
    return link;
  };
  // The audio endpoint is on the transport's worker; video and content on a video worker.
  auto audio = make_link(true, 64, true);
  auto video = make_link(config.video.enabled, 256, false);
  auto content = make_link(config.content.enabled, 256, false);
  for (const auto* link : {&audio, &video, &content}) {
    if (!link->ok()) return link->status();
  }
  // The endpoints see clear RTP: the transport does the security.
  EndpointConfig clear = config;
  clear.secure = false;
  absl::StatusOr<ice::IceCredentials> local = absl::InternalError("not run");
  absl::StatusOr<EndpointAnswer> answer = absl::InternalError("not run");
  absl::Status posted = entry->worker->Call([&] {
    local = port->AddTransport(transport, path, *audio, *video, *content);
    if (!local.ok()) return;
    answer = entry->session->AddEndpoint(clear, std::make_unique<WebRtcStreamIo>(*audio));
    if (!answer.ok()) port->RemoveTransport(transport.key);
  });
  if (!posted.ok()) return posted;
  if (!local.ok()) return local.status();
  if (!answer.ok()) return answer;
  auto undo = [&] {
    (void)entry->video_worker->Call([&] { entry->video->RemoveEndpoint(config.id); });
    (void)entry->worker->Call([&] {
      (void)entry->session->RemoveEndpoint(config.id);
      port->RemoveTransport(transport.key);
    });
  };
  if (config.video.enabled) {
    absl::StatusOr<VideoAnswer> added = absl::InternalError("not run");
    posted = entry->video_worker->Call([&] {
      added = entry->video->AddEndpoint(config.id, false, config.suite, config.video,
                                        std::make_unique<WebRtcStreamIo>(*video));
      if (added.ok()) entry->video->ApplyRouting(config.id, config.routing);
    });
    if (!posted.ok()) added = posted;
    if (!added.ok()) {
      undo();
      return added.status();
    }
    answer->video = *added;
  }
  if (config.content.enabled) {
    absl::StatusOr<VideoAnswer> added = absl::InternalError("not run");
    posted = entry->video_worker->Call([&] {
      added = entry->video->AddContent(config.id, false, config.suite, config.content,
                                       std::make_unique<WebRtcStreamIo>(*content));
      if (added.ok()) entry->video->ApplyRouting(config.id, config.routing);
    });
    if (!posted.ok()) added = posted;
    if (!added.ok()) {
      undo();
      return added.status();
    }
    answer->content = *added;
  }
  answer->webrtc.enabled = true;
  answer->webrtc.local_ufrag = local->ufrag;
  answer->webrtc.local_pwd = local->pwd;
  std::copy(certificate_->fingerprint().sha256.begin(), certificate_->fingerprint().sha256.end(),
            answer->webrtc.fingerprint.begin());
  answer->webrtc.local = port->local_address();
  endpoint_count_.fetch_add(1);
  return answer;
}

absl::StatusOr<EndpointAnswer> MediaEngine::RenegotiateWebRtc(const std::string& session_id,
                                                              const EndpointConfig& config) {
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  WebRtcPort* port = webrtc_ports_[static_cast<size_t>(entry->worker->index())].get();
  if (port == nullptr) return absl::NotFoundError("no such WebRTC endpoint");
  const std::string key = session_id + "/" + config.id;
  WebRtcTransportConfig transport_config;
  transport_config.audio_ssrcs = config.webrtc.audio_ssrcs;
  transport_config.video_ssrcs = config.webrtc.video_ssrcs;
  transport_config.content_ssrcs = config.webrtc.content_ssrcs;
  transport_config.audio_transport_cc_id = config.webrtc.audio_transport_cc_id;
  transport_config.video_transport_cc_id = config.webrtc.video_transport_cc_id;
  transport_config.content_transport_cc_id = config.webrtc.content_transport_cc_id;
  if (config.video.enabled) transport_config.video_payload_type = config.video.payload_type;
  if (config.content.enabled) transport_config.content_payload_type = config.content.payload_type;
  std::shared_ptr<WebRtcStreamLink> video;
  std::shared_ptr<WebRtcStreamLink> content;
  std::shared_ptr<WebRtcPath> path;
  absl::Status status;
  EndpointAnswer answer;
  absl::Status posted = entry->worker->Call([&] {
    WebRtcTransport* transport = port->Find(key);
    AudioEndpoint* audio = entry->session->Find(config.id);
    if (transport == nullptr || audio == nullptr) {
      status = absl::NotFoundError("no such WebRTC endpoint");
      return;
    }
    video = transport->video_link();
    content = transport->content_link();
    path = transport->path();
    answer = audio->answer();
    if (config.webrtc.remote_ufrag != transport->remote_ice().ufrag ||
        config.webrtc.remote_pwd != transport->remote_ice().pwd) {
      const std::string old_ufrag = transport->local_ice().ufrag;
      status = transport->RestartIce({config.webrtc.remote_ufrag, config.webrtc.remote_pwd});
      if (!status.ok()) return;
      port->Rekey(old_ufrag, transport);
    }
    answer.webrtc.local_ufrag = transport->local_ice().ufrag;
    answer.webrtc.local_pwd = transport->local_ice().pwd;
  });
  if (!posted.ok()) return posted;
  if (!status.ok()) return status;
  const bool had_video = video != nullptr;
  const bool had_content = content != nullptr;
  auto new_link = [&]() -> absl::StatusOr<std::shared_ptr<WebRtcStreamLink>> {
    auto queue = DatagramQueue::Create(256);
    if (!queue.ok()) return queue.status();
    auto link = std::make_shared<WebRtcStreamLink>();
    link->inbound = *std::move(queue);
    link->path = path;
    link->local = port->local_address();
    return link;
  };
  // A camera or a screen share that starts gets its stream on the video worker before the
  // transport routes packets to it; one that stops leaves the transport first.
  auto start = [&](bool camera) -> absl::StatusOr<VideoAnswer> {
    auto link = new_link();
    if (!link.ok()) return link.status();
    (camera ? video : content) = *link;
    absl::StatusOr<VideoAnswer> added = absl::InternalError("not run");
    absl::Status called = entry->video_worker->Call([&] {
      auto io = std::make_unique<WebRtcStreamIo>(*link);
      added = camera ? entry->video->AddEndpoint(config.id, false, config.suite, config.video,
                                                 std::move(io))
                     : entry->video->AddContent(config.id, false, config.suite, config.content,
                                                std::move(io));
      if (added.ok()) entry->video->ApplyRouting(config.id, config.routing);
    });
    if (!called.ok()) return called;
    return added;
  };
  if (config.video.enabled && !had_video) {
    absl::StatusOr<VideoAnswer> added = start(true);
    if (!added.ok()) return added.status();
    answer.video = *added;
  } else if (config.video.enabled) {
    (void)entry->video_worker->Call([&] {
      const VideoEndpoint* endpoint = entry->video->endpoint(config.id);
      if (endpoint != nullptr) answer.video = endpoint->answer();
    });
  } else {
    video = nullptr;
  }
  if (config.content.enabled && !had_content) {
    absl::StatusOr<VideoAnswer> added = start(false);
    if (!added.ok()) {
      if (!had_video && config.video.enabled) {
        (void)entry->video_worker->Call([&] { entry->video->RemoveCamera(config.id); });
      }
      return added.status();
    }
    answer.content = *added;
  } else if (!config.content.enabled) {
    content = nullptr;
  }
  posted = entry->worker->Call([&] {
    WebRtcTransport* transport = port->Find(key);
    if (transport != nullptr) transport->Renegotiate(transport_config, video, content);
  });
  if (!posted.ok()) return posted;
  if (!config.content.enabled && had_content) {
    (void)entry->video_worker->Call([&] { entry->video->RemoveContent(config.id); });
  }
  if (!config.video.enabled && had_video) {
    (void)entry->video_worker->Call([&] { entry->video->RemoveCamera(config.id); });
  }
  if (!posted.ok()) return posted;
  answer.webrtc.enabled = true;
  std::copy(certificate_->fingerprint().sha256.begin(), certificate_->fingerprint().sha256.end(),
            answer.webrtc.fingerprint.begin());
  answer.webrtc.local = port->local_address();
  return answer;
}

absl::StatusOr<EndpointAnswer> MediaEngine::RenegotiateRtp(const std::string& session_id,
                                                           const EndpointConfig& config) {
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  WebRtcPort* port = webrtc_ports_[static_cast<size_t>(entry->worker->index())].get();
  const std::string key = session_id + "/" + config.id;
  EndpointAnswer answer;
  bool exists = false;
  absl::Status posted = entry->worker->Call([&] {
    const AudioEndpoint* audio = entry->session->Find(config.id);
    exists = audio != nullptr && (port == nullptr || port->Find(key) == nullptr);
    if (exists) answer = audio->answer();
  });
  if (!posted.ok()) return posted;
  if (!exists) return absl::NotFoundError("no such RTP endpoint");
  const std::string content_id = config.id + "~content";
  bool had_video = false;
  bool had_content = false;
  posted = entry->video_worker->Call([&] {
    const VideoEndpoint* camera = entry->video->endpoint(config.id);
    const VideoEndpoint* content = entry->video->endpoint(content_id);
    had_video = camera != nullptr;
    had_content = content != nullptr;
    if (camera != nullptr) answer.video = camera->answer();
    if (content != nullptr) answer.content = content->answer();
  });
  if (!posted.ok()) return posted;
  if (had_video != config.video.enabled) {
    return absl::InvalidArgumentError(
        "a camera added or removed: not taken in a renegotiation (join again)");
  }
  if (config.content.enabled && !had_content) {
    auto socket = ports_.Allocate();
    if (!socket.ok()) return socket.status();
    absl::StatusOr<VideoAnswer> added = absl::InternalError("not run");
    posted = entry->video_worker->Call([&] {
      added = entry->video->AddContent(config.id, config.secure, config.suite, config.content,
                                       *std::move(socket));
      if (added.ok()) entry->video->ApplyRouting(config.id, config.routing);
    });
    if (!posted.ok()) return posted;
    if (!added.ok()) return added.status();
    answer.content = *added;
  } else if (!config.content.enabled && had_content) {
    posted = entry->video_worker->Call([&] { entry->video->RemoveContent(config.id); });
    if (!posted.ok()) return posted;
    answer.content = VideoAnswer{};
  }
  return answer;
}

std::vector<net::SocketAddress> MediaEngine::webrtc_ports() const {
  std::vector<net::SocketAddress> ports;
  absl::MutexLock lock(&mutex_);
  for (const auto& port : webrtc_ports_) {
    if (port != nullptr) ports.push_back(port->local_address());
  }
  return ports;
}

absl::Status MediaEngine::UpdateRouting(const std::string& session_id,
                                        const std::string& endpoint_id, const Routing& routing) {
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  absl::Status result;
  absl::Status posted =
      entry->worker->Call([&] { result = entry->session->UpdateRouting(endpoint_id, routing); });
  if (!posted.ok()) return posted;
  if (result.ok()) {
    (void)entry->video_worker->Call([&] { entry->video->ApplyRouting(endpoint_id, routing); });
  }
  return result;
}

absl::Status MediaEngine::RemoveEndpoint(const std::string& session_id,
                                         const std::string& endpoint_id) {
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  if (reservations_.erase(session_id + "/" + endpoint_id) > 0) return absl::OkStatus();
  SessionEntry* entry = *found;
  absl::Status result;
  WebRtcPort* port = webrtc_ports_[static_cast<size_t>(entry->worker->index())].get();
  absl::Status posted = entry->worker->Call([&] {
    result = entry->session->RemoveEndpoint(endpoint_id);
    if (port != nullptr) port->RemoveTransport(session_id + "/" + endpoint_id);
  });
  if (!posted.ok()) return posted;
  if (result.ok()) {
    endpoint_count_.fetch_sub(1);
    (void)entry->video_worker->Call([&] { entry->video->RemoveEndpoint(endpoint_id); });
  }
  return result;
}

absl::Status MediaEngine::RequestKeyframe(const std::string& session_id,
                                          const std::string& endpoint_id) {
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  bool asked = false;
  absl::Status posted = entry->video_worker->Call([&] {
    if (VideoEndpoint* endpoint = entry->video->endpoint(endpoint_id); endpoint != nullptr) {
      endpoint->AskForKeyframe();
      asked = true;
    }
  });
  if (!posted.ok()) return posted;
  if (!asked) return absl::NotFoundError("no endpoint '" + endpoint_id + "' with video");
  return absl::OkStatus();
}

absl::Status MediaEngine::SetLayout(const std::string& session_id, const LayoutConfig& layout) {
  if (layout.max_tiles < 1 || layout.max_tiles > 25) {
    return absl::InvalidArgumentError("layout.max_tiles must be 1 to 25");
  }
  if (layout.pinned.size() > 25) return absl::InvalidArgumentError("at most 25 pinned endpoints");
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  return entry->video_worker->Call([&] { entry->video->SetLayout(layout); });
}

absl::StatusOr<int> MediaEngine::VideoViews(const std::string& session_id) {
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  int views = 0;
  absl::Status posted =
      entry->video_worker->Call([&] { views = static_cast<int>(entry->video->views_in_use()); });
  if (!posted.ok()) return posted;
  return views;
}

absl::StatusOr<SessionStatsSnapshot> MediaEngine::GetSessionStats(const std::string& session_id) {
  absl::MutexLock lock(&mutex_);
  auto found = Find(session_id);
  if (!found.ok()) return found.status();
  SessionEntry* entry = *found;
  SessionStatsSnapshot snapshot;
  absl::Status posted = entry->worker->Call([&] { snapshot = entry->session->Stats(); });
  if (!posted.ok()) return posted;
  snapshot.worker = entry->worker->index();
  return snapshot;
}

double BusiestLoad(std::span<const WorkerLoad> workers) {
  double busiest = 0;
  for (const WorkerLoad& worker : workers) busiest = std::max(busiest, worker.load);
  return busiest;
}

double MediaEngine::load() const { return BusiestLoad(worker_loads()); }

std::vector<WorkerLoad> MediaEngine::worker_loads() const {
  std::vector<WorkerLoad> loads;
  loads.reserve(workers_.size() + video_workers_.size());
  for (const auto& worker : workers_) loads.push_back({false, worker->index(), worker->load()});
  for (const auto& worker : video_workers_)
    loads.push_back({true, worker->index(), worker->load()});
  return loads;
}

int MediaEngine::session_count() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(sessions_.size());
}

int MediaEngine::endpoint_count() const { return endpoint_count_.load(); }

}  // namespace chorus::engine
