#include "services/media_node/media_node_service.h"

#include <memory>
#include <string>
#include <thread>

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
    service_ = std::make_unique<MediaNodeService>(options, *auth_, lifecycle_);
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

TEST_F(MediaNodeServiceTest, UnbuiltCallsSayWhatIsMissing) {
  grpc::ClientContext context;
  v1::Endpoint endpoint;
  grpc::Status status = stub_->AddEndpoint(&context, {}, &endpoint);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(status.error_message().find("media engine"), std::string::npos);
}

}  // namespace
}  // namespace chorus::media_node
