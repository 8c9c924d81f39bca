#include "services/controller/media_client.h"

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chorus/v1/media_node.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "services/common/status.h"
#include "services/controller/media_nodes.h"

namespace chorus::controller {
namespace {

namespace internal = chorus::internal::v1;

// The node's answer as a control-plane status: gRPC's canonical codes are absl's.
std::string SessionName(const std::string& room_id) { return absl::StrCat("sessions/", room_id); }

std::string EndpointName(const std::string& room_id, const std::string& participant) {
  return absl::StrCat("sessions/", room_id, "/endpoints/", participant);
}

}  // namespace

class MediaClientImpl::Stubs {
 public:
  internal::MediaNode::Stub& For(size_t node, const MediaNodes& nodes) {
    absl::MutexLock lock(&mutex_);
    if (stubs_.size() <= node) stubs_.resize(node + 1);
    if (stubs_[node] == nullptr) stubs_[node] = internal::MediaNode::NewStub(nodes.channel(node));
    return *stubs_[node];  // never moves (unique_ptr), never goes while the client lives
  }

 private:
  absl::Mutex mutex_;
  std::vector<std::unique_ptr<internal::MediaNode::Stub>> stubs_ ABSL_GUARDED_BY(mutex_);
};

MediaClientImpl::MediaClientImpl(MediaNodes* nodes)
    : nodes_(nodes), stubs_(std::make_unique<Stubs>()) {}

MediaClientImpl::~MediaClientImpl() = default;

size_t MediaClientImpl::NodeCount() const { return nodes_->size(); }

absl::StatusOr<size_t> MediaClientImpl::PlaceRoom() { return nodes_->Place(); }

std::string MediaClientImpl::NodeAddress(size_t node) const { return nodes_->address(node); }

std::string MediaClientImpl::NodeId(size_t node) const { return nodes_->node_id(node); }

absl::Status MediaClientImpl::CreateSession(size_t node, const std::string& room_id,
                                            const std::vector<std::string>& languages) {
  auto context = nodes_->NewContext(node);
  internal::CreateSessionRequest request;
  request.set_session_id(room_id);
  for (const std::string& language : languages) {
    request.mutable_session()->add_buses()->set_language(language);
  }
  internal::Session session;
  grpc::Status status = stubs_->For(node, *nodes_).CreateSession(context.get(), request, &session);
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) return absl::OkStatus();
  return common::FromGrpcStatus(status);
}

absl::Status MediaClientImpl::DeleteSession(size_t node, const std::string& room_id) {
  auto context = nodes_->NewContext(node);
  internal::DeleteSessionRequest request;
  request.set_name(SessionName(room_id));
  internal::DeleteSessionResponse response;
  return common::FromGrpcStatus(
      stubs_->For(node, *nodes_).DeleteSession(context.get(), request, &response));
}

absl::Status MediaClientImpl::SetLayout(size_t node, const std::string& room_id,
                                        const chorus::v1::LayoutPolicy& policy) {
  internal::SetLayoutRequest request;
  request.set_session(SessionName(room_id));
  internal::Layout* layout = request.mutable_layout();
  layout->set_mode(static_cast<internal::Layout::Mode>(policy.mode()));
  layout->set_max_tiles(policy.max_tiles() == 0 ? 9 : policy.max_tiles());
  layout->set_show_self_view(policy.show_self_view());
  auto context = nodes_->NewContext(node);
  internal::Layout applied;
  return common::FromGrpcStatus(
      stubs_->For(node, *nodes_).SetLayout(context.get(), request, &applied));
}

absl::StatusOr<internal::SessionStats> MediaClientImpl::GetSessionStats(
    size_t node, const std::string& room_id) {
  auto context = nodes_->NewContext(node);
  internal::GetSessionStatsRequest request;
  request.set_name(SessionName(room_id));
  internal::SessionStats stats;
  grpc::Status status = stubs_->For(node, *nodes_).GetSessionStats(context.get(), request, &stats);
  if (!status.ok()) return common::FromGrpcStatus(status);
  return stats;
}

absl::StatusOr<internal::ListSessionsResponse> MediaClientImpl::ListSessions(size_t node) {
  auto context = nodes_->NewContext(node);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  internal::ListSessionsResponse listed;
  grpc::Status status = stubs_->For(node, *nodes_).ListSessions(context.get(), {}, &listed);
  if (!status.ok()) return common::FromGrpcStatus(status);
  return listed;
}

absl::StatusOr<internal::Endpoint> MediaClientImpl::AddEndpoint(
    size_t node, const std::string& room_id, const std::string& participant,
    const internal::Endpoint& endpoint) {
  auto context = nodes_->NewContext(node);
  internal::AddEndpointRequest request;
  request.set_parent(SessionName(room_id));
  request.set_endpoint_id(participant);
  *request.mutable_endpoint() = endpoint;
  internal::Endpoint added;
  grpc::Status status = stubs_->For(node, *nodes_).AddEndpoint(context.get(), request, &added);
  if (!status.ok()) return common::FromGrpcStatus(status);
  return added;
}

absl::Status MediaClientImpl::RemoveEndpoint(size_t node, const std::string& room_id,
                                             const std::string& participant) {
  return RemoveEndpointNamed(node, EndpointName(room_id, participant));
}

absl::Status MediaClientImpl::RemoveEndpointNamed(size_t node, const std::string& endpoint_name) {
  auto context = nodes_->NewContext(node);
  internal::RemoveEndpointRequest request;
  request.set_name(endpoint_name);
  internal::RemoveEndpointResponse response;
  return common::FromGrpcStatus(
      stubs_->For(node, *nodes_).RemoveEndpoint(context.get(), request, &response));
}

absl::Status MediaClientImpl::RequestKeyframe(size_t node, const std::string& room_id,
                                              const std::string& participant) {
  auto context = nodes_->NewContext(node);
  internal::RequestKeyframeRequest request;
  request.set_name(EndpointName(room_id, participant));
  internal::RequestKeyframeResponse response;
  return common::FromGrpcStatus(
      stubs_->For(node, *nodes_).RequestKeyframe(context.get(), request, &response));
}

absl::Status MediaClientImpl::UpdateRouting(size_t node, const std::string& room_id,
                                            const std::string& participant,
                                            const internal::Routing& routing,
                                            const std::vector<std::string>& paths) {
  auto context = nodes_->NewContext(node);
  internal::UpdateEndpointRequest request;
  request.mutable_endpoint()->set_name(EndpointName(room_id, participant));
  *request.mutable_endpoint()->mutable_routing() = routing;
  for (const std::string& path : paths) request.add_update_paths(path);
  internal::Endpoint response;
  return common::FromGrpcStatus(
      stubs_->For(node, *nodes_).UpdateEndpoint(context.get(), request, &response));
}

absl::StatusOr<internal::Endpoint> MediaClientImpl::Renegotiate(size_t node,
                                                                const std::string& room_id,
                                                                const std::string& participant,
                                                                const internal::Endpoint& offer) {
  auto context = nodes_->NewContext(node);
  internal::RenegotiateEndpointRequest request;
  request.set_name(EndpointName(room_id, participant));
  request.set_webrtc_offer_sdp(offer.webrtc_offer_sdp());
  *request.mutable_remote_streams() = offer.remote_streams();
  internal::Endpoint renegotiated;
  grpc::Status status =
      stubs_->For(node, *nodes_).RenegotiateEndpoint(context.get(), request, &renegotiated);
  if (!status.ok()) return common::FromGrpcStatus(status);
  return renegotiated;
}

}  // namespace chorus::controller
