#include "services/media_node/media_node_service.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/time/time.h"

namespace chorus::media_node {
namespace {

constexpr double kDefaultWatchIntervalSeconds = 2.0;
constexpr double kMinWatchIntervalSeconds = 0.5;
constexpr double kMaxWatchIntervalSeconds = 60.0;
// How often a waiting WatchLoad stream looks for a cancelled call.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(100);

constexpr char kMissingEngine[] =
    " is not implemented yet: the media engine (sessions, SRTP endpoints, mixing) has not landed "
    "in this node; GetLoad, WatchLoad and Drain answer today";

}  // namespace

MediaNodeService::MediaNodeService(MediaNodeOptions options,
                                   const common::BearerAuthenticator& auth,
                                   common::Lifecycle& lifecycle)
    : options_(std::move(options)), auth_(auth), lifecycle_(lifecycle) {}

MediaNodeService::~MediaNodeService() { Shutdown(); }

void MediaNodeService::Shutdown() {
  absl::MutexLock lock(&mutex_);
  shutting_down_ = true;
}

chorus::internal::v1::LoadReport MediaNodeService::CurrentLoad() const {
  chorus::internal::v1::LoadReport report;
  report.set_node_id(options_.node_id);
  // No media work runs until the engine lands: the real-time budget used is nil.
  report.set_load(0.0);
  report.set_sessions(active_sessions());
  report.set_endpoints(0);
  report.set_workers(0);
  report.set_media_address(options_.media_address);
  report.set_ready(lifecycle_.ready());
  report.set_draining(lifecycle_.draining());
  report.set_admission_threshold(options_.admission_threshold);
  report.set_free_ports(std::max(0, options_.media_port_max - options_.media_port_min + 1));
  return report;
}

grpc::Status MediaNodeService::NotYet(const grpc::ServerContext& context, const char* rpc) const {
  grpc::Status status = auth_.Check(context);
  if (!status.ok()) return status;
  std::string message = rpc;
  message.append(kMissingEngine);
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, message);
}

grpc::Status MediaNodeService::GetLoad(grpc::ServerContext* context,
                                       const chorus::internal::v1::GetLoadRequest*,
                                       chorus::internal::v1::LoadReport* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  *response = CurrentLoad();
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::WatchLoad(
    grpc::ServerContext* context, const chorus::internal::v1::WatchLoadRequest* request,
    grpc::ServerWriter<chorus::internal::v1::LoadReport>* writer) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  double seconds = request->interval_seconds();
  if (seconds == 0) seconds = kDefaultWatchIntervalSeconds;
  if (!(seconds >= kMinWatchIntervalSeconds && seconds <= kMaxWatchIntervalSeconds)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "interval_seconds must be 0 (the default, 2) or between 0.5 and 60");
  }
  const absl::Duration interval = absl::Seconds(seconds);
  absl::Time next = absl::Now();
  for (;;) {
    if (!writer->Write(CurrentLoad())) return grpc::Status::OK;  // The caller went away.
    next += interval;
    for (;;) {
      absl::MutexLock lock(&mutex_);
      if (shutting_down_) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the media node is stopping");
      }
      if (context->IsCancelled()) return grpc::Status::CANCELLED;
      absl::Time now = absl::Now();
      if (now >= next) break;
      mutex_.AwaitWithTimeout(absl::Condition(&shutting_down_), std::min(kCancelPoll, next - now));
    }
  }
}

grpc::Status MediaNodeService::Drain(grpc::ServerContext* context,
                                     const chorus::internal::v1::DrainRequest*,
                                     chorus::internal::v1::DrainResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  lifecycle_.BeginDrain();
  response->set_sessions(active_sessions());
  return grpc::Status::OK;
}

grpc::Status MediaNodeService::CreateSession(grpc::ServerContext* context,
                                             const chorus::internal::v1::CreateSessionRequest*,
                                             chorus::internal::v1::Session*) {
  if (lifecycle_.draining()) {
    grpc::Status status = auth_.Check(*context);
    if (!status.ok()) return status;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the media node is draining and accepts no new sessions");
  }
  return NotYet(*context, "CreateSession");
}

grpc::Status MediaNodeService::DeleteSession(grpc::ServerContext* context,
                                             const chorus::internal::v1::DeleteSessionRequest*,
                                             chorus::internal::v1::DeleteSessionResponse*) {
  return NotYet(*context, "DeleteSession");
}

grpc::Status MediaNodeService::AddEndpoint(grpc::ServerContext* context,
                                           const chorus::internal::v1::AddEndpointRequest*,
                                           chorus::internal::v1::Endpoint*) {
  return NotYet(*context, "AddEndpoint");
}

grpc::Status MediaNodeService::UpdateEndpoint(grpc::ServerContext* context,
                                              const chorus::internal::v1::UpdateEndpointRequest*,
                                              chorus::internal::v1::Endpoint*) {
  return NotYet(*context, "UpdateEndpoint");
}

grpc::Status MediaNodeService::RemoveEndpoint(grpc::ServerContext* context,
                                              const chorus::internal::v1::RemoveEndpointRequest*,
                                              chorus::internal::v1::RemoveEndpointResponse*) {
  return NotYet(*context, "RemoveEndpoint");
}

grpc::Status MediaNodeService::SetLayout(grpc::ServerContext* context,
                                         const chorus::internal::v1::SetLayoutRequest*,
                                         chorus::internal::v1::Layout*) {
  return NotYet(*context, "SetLayout");
}

grpc::Status MediaNodeService::GetSessionStats(grpc::ServerContext* context,
                                               const chorus::internal::v1::GetSessionStatsRequest*,
                                               chorus::internal::v1::SessionStats*) {
  return NotYet(*context, "GetSessionStats");
}

}  // namespace chorus::media_node
