// The media client against a recording media node reached through an in-process channel (no
// port): what each call asks of the node, and what comes back when the node refuses.
#include "services/controller/media_client.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "chorus/v1/media_node.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/controller/media_nodes.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
namespace internal = chorus::internal::v1;

// Keeps the last request of each kind and the secret it came with; answers `answer_` (OK unless
// a test says otherwise).
class RecordingNode final : public internal::MediaNode::Service {
 public:
  grpc::Status CreateSession(grpc::ServerContext* context,
                             const internal::CreateSessionRequest* request,
                             internal::Session*) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    create_ = *request;
    return answer_;
  }
  grpc::Status DeleteSession(grpc::ServerContext* context,
                             const internal::DeleteSessionRequest* request,
                             internal::DeleteSessionResponse*) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    names_.push_back("delete " + request->name());
    return answer_;
  }
  grpc::Status AddEndpoint(grpc::ServerContext* context,
                           const internal::AddEndpointRequest* request,
                           internal::Endpoint* response) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    add_ = *request;
    response->set_name(request->parent() + "/endpoints/" + request->endpoint_id());
    response->set_webrtc_answer_sdp("v=0 answer");
    return answer_;
  }
  grpc::Status UpdateEndpoint(grpc::ServerContext* context,
                              const internal::UpdateEndpointRequest* request,
                              internal::Endpoint*) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    update_ = *request;
    return answer_;
  }
  grpc::Status RemoveEndpoint(grpc::ServerContext* context,
                              const internal::RemoveEndpointRequest* request,
                              internal::RemoveEndpointResponse*) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    names_.push_back("remove " + request->name());
    return answer_;
  }
  grpc::Status RenegotiateEndpoint(grpc::ServerContext* context,
                                   const internal::RenegotiateEndpointRequest* request,
                                   internal::Endpoint* response) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    names_.push_back("renegotiate " + request->name() + " " + request->webrtc_offer_sdp());
    response->set_webrtc_answer_sdp("v=0 renegotiated");
    return answer_;
  }
  grpc::Status SetLayout(grpc::ServerContext* context, const internal::SetLayoutRequest* request,
                         internal::Layout*) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    layout_ = *request;
    return answer_;
  }
  grpc::Status GetSessionStats(grpc::ServerContext* context,
                               const internal::GetSessionStatsRequest* request,
                               internal::SessionStats* response) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    names_.push_back("stats " + request->name());
    response->add_endpoints()->set_endpoint(request->name() + "/endpoints/p1");
    return answer_;
  }
  grpc::Status ListSessions(grpc::ServerContext* context, const internal::ListSessionsRequest*,
                            internal::ListSessionsResponse* response) override {
    Record(context);
    absl::MutexLock lock(&mutex_);
    response->add_sessions()->mutable_session()->set_name("sessions/r1");
    return answer_;
  }

  void Answer(grpc::Status status) {
    absl::MutexLock lock(&mutex_);
    answer_ = std::move(status);
  }

  absl::Mutex mutex_;
  grpc::Status answer_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> secrets_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> names_ ABSL_GUARDED_BY(mutex_);
  internal::CreateSessionRequest create_ ABSL_GUARDED_BY(mutex_);
  internal::AddEndpointRequest add_ ABSL_GUARDED_BY(mutex_);
  internal::UpdateEndpointRequest update_ ABSL_GUARDED_BY(mutex_);
  internal::SetLayoutRequest layout_ ABSL_GUARDED_BY(mutex_);

 private:
  void Record(grpc::ServerContext* context) {
    auto secret = context->client_metadata().find("x-node-secret");
    absl::MutexLock lock(&mutex_);
    secrets_.push_back(secret == context->client_metadata().end()
                           ? std::string()
                           : std::string(secret->second.data(), secret->second.size()));
  }
};

class MediaClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&node_);
    server_ = builder.BuildAndStart();
    nodes_.Add("node-a:7000", server_->InProcessChannel(grpc::ChannelArguments()),
               {"x-node-secret", "s3"});
  }
  void TearDown() override { server_->Shutdown(); }

  RecordingNode node_;
  std::unique_ptr<grpc::Server> server_;
  MediaNodes nodes_;  // outlives client_
  MediaClientImpl client_{&nodes_};
};

TEST_F(MediaClientTest, ARoomsSessionAndAParticipantsEndpointAreNamedAfterThem) {
  EXPECT_EQ(client_.NodeCount(), 1u);
  EXPECT_EQ(client_.NodeAddress(0), "node-a:7000");
  ASSERT_TRUE(client_.CreateSession(0, "r1", {"en", "fr"}).ok());
  internal::Endpoint offer;
  offer.set_webrtc_offer_sdp("v=0 offer");
  offer.mutable_routing()->set_muted(true);
  absl::StatusOr<internal::Endpoint> added = client_.AddEndpoint(0, "r1", "p1", offer);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->webrtc_answer_sdp(), "v=0 answer");
  internal::Routing routing;
  routing.set_admitted(true);
  ASSERT_TRUE(client_.UpdateRouting(0, "r1", "p1", routing, {"routing.admitted"}).ok());
  internal::Endpoint again;
  again.set_webrtc_offer_sdp("v=0 again");
  absl::StatusOr<internal::Endpoint> renegotiated = client_.Renegotiate(0, "r1", "p1", again);
  ASSERT_TRUE(renegotiated.ok());
  EXPECT_EQ(renegotiated->webrtc_answer_sdp(), "v=0 renegotiated");
  v1::LayoutPolicy policy;
  policy.set_show_self_view(true);
  ASSERT_TRUE(client_.SetLayout(0, "r1", policy).ok());
  absl::StatusOr<internal::SessionStats> stats = client_.GetSessionStats(0, "r1");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->endpoints(0).endpoint(), "sessions/r1/endpoints/p1");
  ASSERT_TRUE(client_.RemoveEndpoint(0, "r1", "p1").ok());
  ASSERT_TRUE(client_.RemoveEndpointNamed(0, "sessions/r1/endpoints/stranger").ok());
  absl::StatusOr<internal::ListSessionsResponse> listed = client_.ListSessions(0);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->sessions(0).session().name(), "sessions/r1");
  ASSERT_TRUE(client_.DeleteSession(0, "r1").ok());

  absl::MutexLock lock(&node_.mutex_);
  EXPECT_EQ(node_.create_.session_id(), "r1");
  ASSERT_EQ(node_.create_.session().buses_size(), 2);
  EXPECT_EQ(node_.create_.session().buses(1).language(), "fr");
  EXPECT_EQ(node_.add_.parent(), "sessions/r1");
  EXPECT_EQ(node_.add_.endpoint_id(), "p1");
  EXPECT_EQ(node_.add_.endpoint().webrtc_offer_sdp(), "v=0 offer");
  EXPECT_TRUE(node_.add_.endpoint().routing().muted());
  EXPECT_EQ(node_.update_.endpoint().name(), "sessions/r1/endpoints/p1");
  EXPECT_TRUE(node_.update_.endpoint().routing().admitted());
  EXPECT_EQ(std::vector<std::string>(node_.update_.update_paths().begin(),
                                     node_.update_.update_paths().end()),
            std::vector<std::string>{"routing.admitted"});
  EXPECT_EQ(node_.layout_.session(), "sessions/r1");
  EXPECT_EQ(node_.layout_.layout().max_tiles(), 9);  // the default for 0
  EXPECT_TRUE(node_.layout_.layout().show_self_view());
  EXPECT_EQ(node_.names_, (std::vector<std::string>{
                              "renegotiate sessions/r1/endpoints/p1 v=0 again", "stats sessions/r1",
                              "remove sessions/r1/endpoints/p1",
                              "remove sessions/r1/endpoints/stranger", "delete sessions/r1"}));
  // Every call carries the node's secret.
  ASSERT_EQ(node_.secrets_.size(), 10u);
  for (const std::string& secret : node_.secrets_) EXPECT_EQ(secret, "s3");
}

TEST_F(MediaClientTest, TheNodesRefusalComesBackWithItsCodeAndMessage) {
  node_.Answer(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "node full"));
  absl::StatusOr<internal::Endpoint> added = client_.AddEndpoint(0, "r1", "p1", {});
  EXPECT_EQ(added.status(), absl::ResourceExhaustedError("node full"));
  EXPECT_EQ(client_.DeleteSession(0, "r1"), absl::ResourceExhaustedError("node full"));
  node_.Answer(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such session"));
  EXPECT_EQ(client_.DeleteSession(0, "r1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_.ListSessions(0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MediaClientTest, ASessionThatExistsAlreadyIsCreated) {
  // Another join of the same moment created it first.
  node_.Answer(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "exists"));
  EXPECT_TRUE(client_.CreateSession(0, "r1", {}).ok());
}

}  // namespace
}  // namespace chorus::controller
