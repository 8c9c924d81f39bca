#include "services/sip/grpc_rooms.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>

#include "chorus/v1/rooms.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "services/common/status.h"

namespace chorus::sip {
namespace {

namespace v1 = chorus::v1;

class GrpcRooms final : public Rooms {
 public:
  GrpcRooms(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(v1::Rooms::NewStub(std::move(channel))), token_(std::move(token)) {}

  ~GrpcRooms() override { StopWatching(); }

  void WatchDepartures(std::function<void(const std::string&)> left,
                       std::function<void(const std::string&, v1::DialOutState)> dial_out,
                       std::function<void()> lost) override {
    StopWatching();
    stopping_ = false;
    watcher_ = std::thread([this, left = std::move(left), dial_out = std::move(dial_out),
                            lost = std::move(lost)] { Watch(left, dial_out, lost); });
  }

  bool InRoom(const std::string& participant) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::GetParticipantRequest request;
    request.set_name(participant);
    v1::Participant response;
    return stub_->GetParticipant(&context, request, &response).error_code() !=
           grpc::StatusCode::NOT_FOUND;
  }

  void StopWatching() override {
    if (!watcher_.joinable()) return;
    stopping_ = true;
    {
      std::lock_guard<std::mutex> lock(context_mutex_);
      if (context_ != nullptr) context_->TryCancel();
    }
    watcher_.join();
  }

  absl::StatusOr<v1::JoinRoomResponse> Join(const v1::JoinRoomRequest& request) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::JoinRoomResponse response;
    grpc::Status status = stub_->JoinRoom(&context, request, &response);
    if (!status.ok()) return common::FromGrpcStatus(status);
    return response;
  }

  absl::Status Leave(const std::string& participant) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::LeaveRoomRequest request;
    request.set_name(participant);
    v1::LeaveRoomResponse response;
    return common::FromGrpcStatus(stub_->LeaveRoom(&context, request, &response));
  }

  absl::StatusOr<v1::ClaimDialOutResponse> ClaimDialOut(const std::string& participant,
                                                        v1::Transport transport) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::ClaimDialOutRequest request;
    request.set_name(participant);
    request.set_transport(transport);
    v1::ClaimDialOutResponse response;
    grpc::Status status = stub_->ClaimDialOut(&context, request, &response);
    if (!status.ok()) return common::FromGrpcStatus(status);
    return response;
  }

  absl::Status ReportDialOut(const std::string& participant, v1::DialOutState state,
                             const v1::RtpOffer& answer) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::ReportDialOutRequest request;
    request.set_name(participant);
    request.set_state(state);
    if (state == v1::DIAL_OUT_STATE_ANSWERED) *request.mutable_answer() = answer;
    v1::ReportDialOutResponse response;
    return common::FromGrpcStatus(stub_->ReportDialOut(&context, request, &response));
  }

  absl::Status RequestKeyframe(const std::string& participant) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::RequestKeyframeRequest request;
    request.set_name(participant);
    v1::RequestKeyframeResponse response;
    return common::FromGrpcStatus(stub_->RequestKeyframe(&context, request, &response));
  }

  absl::StatusOr<v1::RtpAnswer> UpdateMedia(const std::string& participant,
                                            const v1::RtpOffer& offer) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::UpdateMediaRequest request;
    request.set_name(participant);
    *request.mutable_offer()->mutable_rtp() = offer;
    v1::UpdateMediaResponse response;
    grpc::Status status = stub_->UpdateMedia(&context, request, &response);
    if (!status.ok()) return common::FromGrpcStatus(status);
    return response.answer().rtp();
  }

  absl::Status SetContentSharing(const std::string& participant, bool enabled) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::SetContentSharingRequest request;
    request.set_name(participant);
    request.set_enabled(enabled);
    v1::Participant response;
    return common::FromGrpcStatus(stub_->SetContentSharing(&context, request, &response));
  }

  absl::Status SubmitKeypadPin(const std::string& participant, const std::string& pin) override {
    grpc::ClientContext context;
    Prepare(&context);
    v1::SubmitKeypadPinRequest request;
    request.set_name(participant);
    request.set_pin(pin);
    v1::SubmitKeypadPinResponse response;
    return common::FromGrpcStatus(stub_->SubmitKeypadPin(&context, request, &response));
  }

 private:
  // One WatchRooms stream after another (from where the last one ended) until stopped.
  void Watch(const std::function<void(const std::string&)>& left,
             const std::function<void(const std::string&, v1::DialOutState)>& dial_out,
             const std::function<void()>& lost) {
    int64_t after = 0;
    while (!stopping_) {
      grpc::ClientContext context;
      if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
      {
        std::lock_guard<std::mutex> lock(context_mutex_);
        if (stopping_) return;
        context_ = &context;
      }
      v1::WatchRoomsRequest request;
      request.set_resume_after_stream_sequence(after);
      auto reader = stub_->WatchRooms(&context, request);
      v1::RoomEvent event;
      while (reader->Read(&event)) {
        after = std::max(after, event.stream_sequence());
        if (event.has_participant_left()) left(event.participant_left().participant());
        // A telephone caller whose keypad PIN entry ended (wrong PINs, a lockout, no PIN in
        // time, the room gone) leaves too.
        if (event.has_join_rejected() && !event.join_rejected().participant().empty()) {
          left(event.join_rejected().participant());
        }
        if (event.has_dial_out_progress()) {
          dial_out(event.dial_out_progress().participant(), event.dial_out_progress().state());
        }
      }
      grpc::Status status = reader->Finish();
      {
        std::lock_guard<std::mutex> lock(context_mutex_);
        context_ = nullptr;
      }
      // A resume point the controller no longer has: from now on, and what happened meanwhile
      // is found out another way.
      if (status.error_code() == grpc::StatusCode::OUT_OF_RANGE ||
          status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        after = 0;
        lost();
      }
      for (int i = 0; i < 10 && !stopping_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  }

  std::unique_ptr<v1::Rooms::Stub> stub_;
  const std::string token_;
  std::thread watcher_;
  std::atomic<bool> stopping_{false};
  std::mutex context_mutex_;
  grpc::ClientContext* context_ = nullptr;  // the stream's, while it runs
};

}  // namespace

std::unique_ptr<Rooms> MakeGrpcRooms(std::shared_ptr<grpc::Channel> channel, std::string token) {
  return std::make_unique<GrpcRooms>(std::move(channel), std::move(token));
}

}  // namespace chorus::sip
