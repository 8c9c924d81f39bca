#include "services/controller/rooms_service.h"

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace chorus::controller {
namespace {

constexpr char kToken[] = "0123456789abcdef-room-test-token";

// A real gRPC server on a loopback port with the service, and a client stub, so each test sees
// the service as the hospital platform does.
class RoomsServiceTest : public ::testing::Test {
 protected:
  void Start(bool with_tokens) {
    auth_ = with_tokens ? *common::BearerAuthenticator::FromTokenList(kToken)
                        : common::BearerAuthenticator::AllowAll();
    service_ = std::make_unique<RoomsService>(*auth_, lifecycle_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = chorus::v1::Rooms::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                           grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  std::unique_ptr<grpc::ClientContext> Context(const std::string& token = kToken) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", "Bearer " + token);
    return context;
  }

  common::Lifecycle lifecycle_;
  std::unique_ptr<common::BearerAuthenticator> auth_;
  std::unique_ptr<RoomsService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<chorus::v1::Rooms::Stub> stub_;
};

TEST_F(RoomsServiceTest, ListRoomsAnswersAnEmptyListing) {
  Start(false);
  chorus::v1::ListRoomsRequest request;
  chorus::v1::ListRoomsResponse response;
  grpc::Status status = stub_->ListRooms(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.rooms_size(), 0);
  EXPECT_TRUE(response.next_page_token().empty());
}

TEST_F(RoomsServiceTest, ListRoomsRejectsNonsensePaging) {
  Start(false);
  chorus::v1::ListRoomsRequest request;
  chorus::v1::ListRoomsResponse response;
  request.set_page_size(-1);
  grpc::Status status = stub_->ListRooms(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("page_size"), std::string::npos);

  request.set_page_size(10);
  for (const char* token : {"garbage", "rooms-after-", "rooms-after-x", "rooms-after-999999"}) {
    request.set_page_token(token);
    status = stub_->ListRooms(Context().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << token;
  }
  request.set_page_token("rooms-after-0");
  EXPECT_TRUE(stub_->ListRooms(Context().get(), request, &response).ok());
  request.clear_page_token();
  request.set_page_size(1 << 30);  // Huge values are capped, not refused.
  EXPECT_TRUE(stub_->ListRooms(Context().get(), request, &response).ok());
}

TEST_F(RoomsServiceTest, EveryCallNeedsATokenWhenTokensAreConfigured) {
  Start(true);
  chorus::v1::ListRoomsResponse rooms;
  grpc::ClientContext bare;
  EXPECT_EQ(stub_->ListRooms(&bare, {}, &rooms).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->ListRooms(Context("wrong-token-but-long-enough").get(), {}, &rooms).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(stub_->ListRooms(Context().get(), {}, &rooms).ok());
  // Authentication comes before anything else, also for what is not built yet.
  chorus::v1::Room room;
  grpc::ClientContext bare_create;
  EXPECT_EQ(stub_->CreateRoom(&bare_create, {}, &room).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(RoomsServiceTest, UnbuiltCallsSayWhatIsMissing) {
  Start(false);
  chorus::v1::Room room;
  grpc::Status status = stub_->CreateRoom(Context().get(), {}, &room);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(status.error_message().find("CreateRoom"), std::string::npos);
  EXPECT_NE(status.error_message().find("room controller"), std::string::npos);

  chorus::v1::JoinRoomResponse join;
  status = stub_->JoinRoom(Context().get(), {}, &join);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(status.error_message().find("JoinRoom"), std::string::npos);

  grpc::ClientContext watch_context;
  auto reader = stub_->WatchRoom(&watch_context, {});
  chorus::v1::RoomEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(RoomsServiceTest, DrainingRefusesNewRooms) {
  Start(false);
  lifecycle_.BeginDrain();
  chorus::v1::Room room;
  EXPECT_EQ(stub_->CreateRoom(Context().get(), {}, &room).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  chorus::v1::ListRoomsResponse rooms;
  EXPECT_TRUE(stub_->ListRooms(Context().get(), {}, &rooms).ok());
}

}  // namespace
}  // namespace chorus::controller
