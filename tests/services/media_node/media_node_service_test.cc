#include "services/media_node/media_node_service.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace chorus::media_node {
namespace {

namespace v1 = chorus::internal::v1;

class MediaNodeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_ = common::BearerAuthenticator::AllowAll();
    MediaNodeOptions options;
    options.node_id = "node-a";
    options.media_address = "127.0.0.1";
    options.media_port_min = 41000;
    options.media_port_max = 41099;
    engine::EngineOptions engine_options;
    engine_options.workers = 1;
    engine_options.port_min = 41000;
    engine_options.port_max = 41099;
    engine_ = *engine::MediaEngine::Create(engine_options);
    service_ = std::make_unique<MediaNodeService>(options, engine_.get(), *auth_, lifecycle_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::MediaNode::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                       grpc::InsecureChannelCredentials()));
    lifecycle_.SetReady(true);
  }
  void TearDown() override {
    service_->Shutdown();
    server_->Shutdown();
  }

  common::Lifecycle lifecycle_;
  std::unique_ptr<common::BearerAuthenticator> auth_;
  std::unique_ptr<engine::MediaEngine> engine_;
  std::unique_ptr<MediaNodeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::MediaNode::Stub> stub_;
};

TEST_F(MediaNodeServiceTest, GetLoadReportsTheNode) {
  grpc::ClientContext context;
  v1::LoadReport report;
  ASSERT_TRUE(stub_->GetLoad(&context, {}, &report).ok());
  EXPECT_EQ(report.node_id(), "node-a");
  EXPECT_EQ(report.media_address(), "127.0.0.1");
  EXPECT_GE(report.load(), 0.0);
  EXPECT_LE(report.load(), 1.0);
  EXPECT_EQ(report.sessions(), 0);
  EXPECT_EQ(report.free_ports(), 100);
  EXPECT_TRUE(report.ready());
  EXPECT_FALSE(report.draining());
}

TEST_F(MediaNodeServiceTest, WatchLoadStreamsReportsUntilCancelled) {
  grpc::ClientContext context;
  v1::WatchLoadRequest request;
  request.set_interval_seconds(0.5);
  auto reader = stub_->WatchLoad(&context, request);
  v1::LoadReport report;
  ASSERT_TRUE(reader->Read(&report));
  ASSERT_TRUE(reader->Read(&report));
  EXPECT_EQ(report.node_id(), "node-a");
  context.TryCancel();
  while (reader->Read(&report)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(MediaNodeServiceTest, WatchLoadRejectsNonsenseIntervals) {
  for (double seconds : {-1.0, 0.01, 3600.0, 1e300}) {
    grpc::ClientContext context;
    v1::WatchLoadRequest request;
    request.set_interval_seconds(seconds);
    auto reader = stub_->WatchLoad(&context, request);
    v1::LoadReport report;
    EXPECT_FALSE(reader->Read(&report));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT) << seconds;
  }
}

TEST_F(MediaNodeServiceTest, ShutdownEndsOpenStreams) {
  grpc::ClientContext context;
  auto reader = stub_->WatchLoad(&context, {});
  v1::LoadReport report;
  ASSERT_TRUE(reader->Read(&report));
  service_->Shutdown();
  while (reader->Read(&report)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MediaNodeServiceTest, DrainTurnsReadinessOffAndRefusesSessions) {
  grpc::ClientContext context;
  v1::DrainResponse drained;
  ASSERT_TRUE(stub_->Drain(&context, {}, &drained).ok());
  EXPECT_TRUE(lifecycle_.draining());
  EXPECT_FALSE(lifecycle_.ready());
  grpc::ClientContext load_context;
  v1::LoadReport report;
  ASSERT_TRUE(stub_->GetLoad(&load_context, {}, &report).ok());
  EXPECT_TRUE(report.draining());
  EXPECT_FALSE(report.ready());
  grpc::ClientContext create_context;
  v1::Session session;
  EXPECT_EQ(stub_->CreateSession(&create_context, {}, &session).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MediaNodeServiceTest, SetLayoutChecksItsArguments) {
  grpc::ClientContext context;
  v1::Layout layout;
  EXPECT_EQ(stub_->SetLayout(&context, {}, &layout).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::SetLayoutRequest request;
  request.set_session("sessions/nope");
  grpc::ClientContext unknown;
  EXPECT_EQ(stub_->SetLayout(&unknown, request, &layout).error_code(), grpc::StatusCode::NOT_FOUND);
}

// An SRTP audio endpoint request as the controller sends it.
v1::AddEndpointRequest AudioEndpoint(const std::string& id, const std::string& codec,
                                     uint32_t port) {
  v1::AddEndpointRequest request;
  request.set_parent("sessions/room-1");
  request.set_endpoint_id(id);
  v1::RemoteStream* stream = request.mutable_endpoint()->add_remote_streams();
  stream->set_kind(v1::MEDIA_KIND_AUDIO);
  v1::Codec* offered = stream->add_codecs();
  offered->set_name(codec);
  offered->set_payload_type(codec == "PCMU" ? 0 : 111);
  stream->set_address("127.0.0.1");
  stream->set_port(port);
  stream->mutable_key()->set_suite(v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
  stream->mutable_key()->set_key_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk");
  request.mutable_endpoint()->mutable_routing()->set_admitted(true);
  return request;
}

TEST_F(MediaNodeServiceTest, SessionsAndEndpointsAnswerWithThePortAndKey) {
  grpc::ClientContext create_context;
  v1::CreateSessionRequest create;
  create.set_session_id("room-1");
  v1::Session session;
  ASSERT_TRUE(stub_->CreateSession(&create_context, create, &session).ok());
  EXPECT_EQ(session.name(), "sessions/room-1");

  grpc::ClientContext again;
  EXPECT_EQ(stub_->CreateSession(&again, create, &session).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  grpc::ClientContext add_context;
  v1::Endpoint endpoint;
  grpc::Status status =
      stub_->AddEndpoint(&add_context, AudioEndpoint("p1", "opus", 5004), &endpoint);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(endpoint.local_streams_size(), 1);
  const v1::LocalStream& local = endpoint.local_streams(0);
  EXPECT_GE(local.port(), 41000u);
  EXPECT_LE(local.port(), 41099u);
  EXPECT_NE(local.ssrc(), 0u);
  EXPECT_EQ(local.key().key_base64().size(), 40u);  // 30 bytes of key and salt
  EXPECT_EQ(local.codec().name(), "opus");
  EXPECT_EQ(endpoint.remote_streams(0).key().key_base64(), "");  // never echoed

  grpc::ClientContext load_context;
  v1::LoadReport report;
  ASSERT_TRUE(stub_->GetLoad(&load_context, {}, &report).ok());
  EXPECT_EQ(report.sessions(), 1);
  EXPECT_EQ(report.endpoints(), 1);
  EXPECT_EQ(report.free_ports(), 99);

  grpc::ClientContext stats_context;
  v1::GetSessionStatsRequest stats_request;
  stats_request.set_name("sessions/room-1");
  v1::SessionStats stats;
  ASSERT_TRUE(stub_->GetSessionStats(&stats_context, stats_request, &stats).ok());
  EXPECT_EQ(stats.endpoints_size(), 1);

  grpc::ClientContext remove_context;
  v1::RemoveEndpointRequest remove;
  remove.set_name("sessions/room-1/endpoints/p1");
  v1::RemoveEndpointResponse removed;
  EXPECT_TRUE(stub_->RemoveEndpoint(&remove_context, remove, &removed).ok());
  grpc::ClientContext delete_context;
  v1::DeleteSessionRequest del;
  del.set_name("sessions/room-1");
  v1::DeleteSessionResponse deleted;
  EXPECT_TRUE(stub_->DeleteSession(&delete_context, del, &deleted).ok());
  EXPECT_EQ(service_->active_sessions(), 0);
}

// What a restarted controller reconciles against: every session and its endpoints with their
// routing, in name order, and never a key or the endpoint's own address.
TEST_F(MediaNodeServiceTest, ListSessionsNamesEverySessionAndEndpointWithItsRouting) {
  grpc::ClientContext empty_context;
  v1::ListSessionsResponse listed;
  ASSERT_TRUE(stub_->ListSessions(&empty_context, {}, &listed).ok());
  EXPECT_EQ(listed.sessions_size(), 0);

  for (const char* id : {"room-b", "room-a"}) {
    grpc::ClientContext create_context;
    v1::CreateSessionRequest create;
    create.set_session_id(id);
    if (std::string(id) == "room-b") create.mutable_session()->add_buses()->set_language("fr");
    v1::Session session;
    ASSERT_TRUE(stub_->CreateSession(&create_context, create, &session).ok());
  }
  for (const char* id : {"p2", "p1"}) {
    grpc::ClientContext add_context;
    v1::AddEndpointRequest add = AudioEndpoint(id, "opus", 5004);
    add.set_parent("sessions/room-b");
    add.mutable_endpoint()->mutable_routing()->set_muted(std::string(id) == "p2");
    v1::Endpoint endpoint;
    grpc::Status status = stub_->AddEndpoint(&add_context, add, &endpoint);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListSessions(&list_context, {}, &listed).ok());
  ASSERT_EQ(listed.sessions_size(), 2);
  EXPECT_EQ(listed.sessions(0).session().name(), "sessions/room-a");
  EXPECT_EQ(listed.sessions(0).endpoints_size(), 0);
  const v1::SessionListing& room_b = listed.sessions(1);
  EXPECT_EQ(room_b.session().name(), "sessions/room-b");
  EXPECT_EQ(room_b.session().endpoint_count(), 2);
  ASSERT_EQ(room_b.session().buses_size(), 1);
  EXPECT_EQ(room_b.session().buses(0).language(), "fr");
  ASSERT_EQ(room_b.endpoints_size(), 2);
  EXPECT_EQ(room_b.endpoints(0).name(), "sessions/room-b/endpoints/p1");
  EXPECT_EQ(room_b.endpoints(1).name(), "sessions/room-b/endpoints/p2");
  EXPECT_FALSE(room_b.endpoints(0).routing().muted());
  EXPECT_TRUE(room_b.endpoints(1).routing().muted());
  EXPECT_TRUE(room_b.endpoints(1).routing().admitted());
  for (const v1::Endpoint& endpoint : room_b.endpoints()) {
    EXPECT_EQ(endpoint.remote_streams_size(), 0);  // the endpoint's address stays on the node
    ASSERT_EQ(endpoint.local_streams_size(), 1);
    EXPECT_GE(endpoint.local_streams(0).port(), 41000u);
    EXPECT_EQ(endpoint.local_streams(0).key().key_base64(), "");
  }

  // A removed endpoint and a deleted session are gone from the list.
  grpc::ClientContext remove_context;
  v1::RemoveEndpointRequest remove;
  remove.set_name("sessions/room-b/endpoints/p1");
  v1::RemoveEndpointResponse removed;
  ASSERT_TRUE(stub_->RemoveEndpoint(&remove_context, remove, &removed).ok());
  grpc::ClientContext delete_context;
  v1::DeleteSessionRequest del;
  del.set_name("sessions/room-a");
  v1::DeleteSessionResponse deleted;
  ASSERT_TRUE(stub_->DeleteSession(&delete_context, del, &deleted).ok());
  grpc::ClientContext again_context;
  ASSERT_TRUE(stub_->ListSessions(&again_context, {}, &listed).ok());
  ASSERT_EQ(listed.sessions_size(), 1);
  ASSERT_EQ(listed.sessions(0).endpoints_size(), 1);
  EXPECT_EQ(listed.sessions(0).endpoints(0).name(), "sessions/room-b/endpoints/p2");
}

TEST_F(MediaNodeServiceTest, NonsenseEndpointRequestsAreRefusedClearly) {
  grpc::ClientContext create_context;
  v1::CreateSessionRequest create;
  create.set_session_id("room-1");
  v1::Session session;
  ASSERT_TRUE(stub_->CreateSession(&create_context, create, &session).ok());

  struct Case {
    const char* what;
    v1::AddEndpointRequest request;
    grpc::StatusCode code;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"unknown codec", AudioEndpoint("a", "speex", 5004), grpc::StatusCode::INVALID_ARGUMENT});
  auto bad_key = AudioEndpoint("b", "opus", 5004);
  bad_key.mutable_endpoint()->mutable_remote_streams(0)->mutable_key()->set_key_base64("!!");
  cases.push_back({"bad key", bad_key, grpc::StatusCode::INVALID_ARGUMENT});
  auto short_key = AudioEndpoint("c", "opus", 5004);
  short_key.mutable_endpoint()->mutable_remote_streams(0)->mutable_key()->set_key_base64("AAAA");
  cases.push_back({"short key", short_key, grpc::StatusCode::INVALID_ARGUMENT});
  cases.push_back({"port 0", AudioEndpoint("d", "opus", 0), grpc::StatusCode::INVALID_ARGUMENT});
  cases.push_back(
      {"huge port", AudioEndpoint("e", "opus", 1u << 31), grpc::StatusCode::INVALID_ARGUMENT});
  auto host = AudioEndpoint("f", "opus", 5004);
  host.mutable_endpoint()->mutable_remote_streams(0)->set_address("example.org");
  cases.push_back({"host name", host, grpc::StatusCode::INVALID_ARGUMENT});
  auto plain = AudioEndpoint("g", "opus", 5004);
  plain.mutable_endpoint()->set_transport(v1::TRANSPORT_RTP_INSECURE);
  cases.push_back({"plain RTP", plain, grpc::StatusCode::INVALID_ARGUMENT});
  auto bus = AudioEndpoint("h", "opus", 5004);
  bus.mutable_endpoint()->mutable_routing()->set_listen_bus("fr");
  cases.push_back({"unknown bus", bus, grpc::StatusCode::INVALID_ARGUMENT});
  auto video = AudioEndpoint("i", "opus", 5004);
  video.mutable_endpoint()->add_remote_streams()->set_kind(v1::MEDIA_KIND_VIDEO);
  cases.push_back({"video without a codec", video, grpc::StatusCode::INVALID_ARGUMENT});
  auto huge = AudioEndpoint("i", "opus", 5004);
  v1::RemoteStream* huge_video = huge.mutable_endpoint()->add_remote_streams();
  *huge_video = huge.endpoint().remote_streams(0);
  huge_video->set_kind(v1::MEDIA_KIND_VIDEO);
  huge_video->mutable_codecs(0)->set_name("VP8");
  huge_video->mutable_codecs(0)->set_payload_type(96);
  huge_video->set_width(100000);
  huge_video->set_height(7);
  cases.push_back({"video of a nonsense size", huge, grpc::StatusCode::INVALID_ARGUMENT});
  auto content = AudioEndpoint("i", "opus", 5004);
  content.mutable_endpoint()->add_remote_streams()->set_kind(v1::MEDIA_KIND_CONTENT);
  cases.push_back({"content without a codec", content, grpc::StatusCode::INVALID_ARGUMENT});
  auto id = AudioEndpoint("Bad Id!", "opus", 5004);
  cases.push_back({"bad id", id, grpc::StatusCode::INVALID_ARGUMENT});
  auto session_name = AudioEndpoint("j", "opus", 5004);
  session_name.set_parent("sessions/nope");
  cases.push_back({"unknown session", session_name, grpc::StatusCode::NOT_FOUND});
  for (const Case& c : cases) {
    grpc::ClientContext context;
    v1::Endpoint endpoint;
    grpc::Status status = stub_->AddEndpoint(&context, c.request, &endpoint);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_FALSE(status.error_message().empty()) << c.what;
  }
  grpc::ClientContext load_context;
  v1::LoadReport report;
  ASSERT_TRUE(stub_->GetLoad(&load_context, {}, &report).ok());
  EXPECT_EQ(report.endpoints(), 0);
}

}  // namespace
}  // namespace chorus::media_node
