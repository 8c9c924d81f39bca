#pragma once

#include <atomic>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "chorus/v1/media_node.grpc.pb.h"
#include "pipeline/engine/engine.h"
#include "services/common/auth.h"
#include "services/common/lifecycle.h"
#include "services/media_node/webrtc_offer.h"

namespace chorus::media_node {

struct MediaNodeOptions {
  // Identifies the node in load reports and placement (the pod name in Kubernetes).
  std::string node_id;
  // The address endpoints send media to (the advertised one when behind NAT).
  std::string media_address;
  // The UDP port range media endpoints are given.
  int media_port_min = 40000;
  int media_port_max = 40999;
  // Above this load the node takes no new sessions.
  double admission_threshold = 0.8;
  // A random secret of this process: calls bearing it in kInternalSecretHeader come from the
  // controller of the same process (`chorusd all`, in-process channel). Empty: none.
  std::string internal_secret;
  // Only callers with a verified client certificate (the controller's) get in; set for a
  // separate media node outside development, where the TLS layer already demands one.
  bool require_peer_certificate = false;
};

inline constexpr char kInternalSecretHeader[] = "x-chorus-internal";

// The internal API, chorus.internal.v1.MediaNode, over the media engine: converts proto messages
// to pipeline types (checking every field: they come from the network) and engine Status to gRPC
// status. Audio sessions and endpoints, routing, statistics, load reports and drain work; video
// streams and layouts answer UNIMPLEMENTED naming the missing video engine.
// Thread-safe: gRPC calls it from many threads.
class MediaNodeService final : public chorus::internal::v1::MediaNode::Service {
 public:
  // `engine` must outlive the service.
  MediaNodeService(MediaNodeOptions options, engine::MediaEngine* engine,
                   const common::BearerAuthenticator& auth, common::Lifecycle& lifecycle);
  ~MediaNodeService() override;

  // Sessions running now; the drain waits for this to reach zero.
  int active_sessions() const { return engine_->session_count(); }

  // The load report as GetLoad answers it.
  chorus::internal::v1::LoadReport CurrentLoad() const;

  // Ends every WatchLoad stream promptly (called before the gRPC server shuts down).
  void Shutdown();

  grpc::Status GetLoad(grpc::ServerContext* context, const chorus::internal::v1::GetLoadRequest*,
                       chorus::internal::v1::LoadReport* response) override;
  grpc::Status WatchLoad(grpc::ServerContext* context,
                         const chorus::internal::v1::WatchLoadRequest* request,
                         grpc::ServerWriter<chorus::internal::v1::LoadReport>* writer) override;
  grpc::Status Drain(grpc::ServerContext* context, const chorus::internal::v1::DrainRequest*,
                     chorus::internal::v1::DrainResponse* response) override;

  grpc::Status CreateSession(grpc::ServerContext* context,
                             const chorus::internal::v1::CreateSessionRequest*,
                             chorus::internal::v1::Session*) override;
  grpc::Status DeleteSession(grpc::ServerContext* context,
                             const chorus::internal::v1::DeleteSessionRequest*,
                             chorus::internal::v1::DeleteSessionResponse*) override;
  grpc::Status AddEndpoint(grpc::ServerContext* context,
                           const chorus::internal::v1::AddEndpointRequest*,
                           chorus::internal::v1::Endpoint*) override;
  grpc::Status UpdateEndpoint(grpc::ServerContext* context,
                              const chorus::internal::v1::UpdateEndpointRequest*,
                              chorus::internal::v1::Endpoint*) override;
  grpc::Status RenegotiateEndpoint(grpc::ServerContext* context,
                                   const chorus::internal::v1::RenegotiateEndpointRequest*,
                                   chorus::internal::v1::Endpoint*) override;
  grpc::Status RemoveEndpoint(grpc::ServerContext* context,
                              const chorus::internal::v1::RemoveEndpointRequest*,
                              chorus::internal::v1::RemoveEndpointResponse*) override;
  grpc::Status RequestKeyframe(grpc::ServerContext* context,
                               const chorus::internal::v1::RequestKeyframeRequest*,
                               chorus::internal::v1::RequestKeyframeResponse*) override;
  grpc::Status SetLayout(grpc::ServerContext* context,
                         const chorus::internal::v1::SetLayoutRequest*,
                         chorus::internal::v1::Layout*) override;
  grpc::Status GetSessionStats(grpc::ServerContext* context,
                               const chorus::internal::v1::GetSessionStatsRequest*,
                               chorus::internal::v1::SessionStats*) override;
  grpc::Status ListSessions(grpc::ServerContext* context,
                            const chorus::internal::v1::ListSessionsRequest*,
                            chorus::internal::v1::ListSessionsResponse* response) override;

 private:
  grpc::Status NotYet(const grpc::ServerContext& context, const char* rpc) const;
  grpc::Status Authenticate(const grpc::ServerContext& context) const;
  // Authenticate, then `name` as "sessions/{session}/endpoints/{endpoint}" (INVALID_ARGUMENT).
  grpc::Status AuthenticateEndpoint(const grpc::ServerContext& context, const std::string& name,
                                    std::string* session, std::string* endpoint) const;
  grpc::Status AddWebRtcEndpoint(const std::string& session,
                                 const std::vector<std::string>& languages,
                                 const chorus::internal::v1::AddEndpointRequest& request,
                                 chorus::internal::v1::Endpoint* response);
  // AddEndpoint with offer_first: the audio stream's port, SSRC and key reserved.
  grpc::Status ReserveEndpoint(const std::string& session,
                               const chorus::internal::v1::AddEndpointRequest& request,
                               chorus::internal::v1::Endpoint* response);
  // What the service remembers of an endpoint (its routing, streams without keys) and its
  // session's bus languages. NOT_FOUND.
  grpc::Status Remembered(const std::string& session, const std::string& endpoint,
                          std::vector<std::string>* languages,
                          chorus::internal::v1::Endpoint* remembered);
  // RenegotiateEndpoint of an RTP endpoint: its content stream starts or stops.
  grpc::Status RenegotiateRtp(const std::string& session, const std::string& endpoint,
                              const chorus::internal::v1::RenegotiateEndpointRequest& request,
                              chorus::internal::v1::Endpoint* response);
  // The local streams of an RTP endpoint's `response` from the engine's answer (keys included),
  // and the copy the service remembers (without keys).
  grpc::Status AnswerRtp(const std::string& session, const engine::EndpointConfig& config,
                         const engine::EndpointAnswer& answer,
                         chorus::internal::v1::Endpoint* response);
  // The answer part of AddWebRtcEndpoint and RenegotiateEndpoint.
  grpc::Status AnswerWebRtc(const std::string& session, const WebRtcOffer& offer,
                            const engine::EndpointAnswer& answer,
                            const chorus::internal::v1::Routing& routing,
                            chorus::internal::v1::Endpoint* response);

  // What the service remembers of a session to translate names: bus languages, and each
  // endpoint's current routing (UpdateEndpoint changes only the fields named).
  struct SessionInfo {
    std::vector<std::string> languages;
    absl::flat_hash_map<std::string, chorus::internal::v1::Endpoint> endpoints;
  };

  const MediaNodeOptions options_;
  engine::MediaEngine* const engine_;  // not owned
  const common::BearerAuthenticator& auth_;
  common::Lifecycle& lifecycle_;

  absl::Mutex mutex_;
  bool shutting_down_ ABSL_GUARDED_BY(mutex_) = false;
  absl::flat_hash_map<std::string, SessionInfo> sessions_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace chorus::media_node
