#include "services/sip/grpc_rooms.h"

#include <chrono>
#include <utility>

#include "chorus/v1/rooms.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace chorus::sip {
namespace {

namespace v1 = chorus::v1;

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

class GrpcRooms final : public Rooms {
 public:
  GrpcRooms(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(v1::Rooms::NewStub(std::move(channel))), token_(std::move(token)) {}

  absl::StatusOr<v1::JoinRoomResponse> Join(const v1::JoinRoomRequest& request) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::JoinRoomResponse response;
    grpc::Status status = stub_->JoinRoom(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return response;
  }

  absl::Status Leave(const std::string& participant) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::LeaveRoomRequest request;
    request.set_name(participant);
    v1::LeaveRoomResponse response;
    return FromGrpc(stub_->LeaveRoom(&context, request, &response));
  }

 private:
  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  }

  std::unique_ptr<v1::Rooms::Stub> stub_;
  const std::string token_;
};

}  // namespace

std::unique_ptr<Rooms> MakeGrpcRooms(std::shared_ptr<grpc::Channel> channel, std::string token) {
  return std::make_unique<GrpcRooms>(std::move(channel), std::move(token));
}

}  // namespace chorus::sip
