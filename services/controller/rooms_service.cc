#include "services/controller/rooms_service.h"

#include <algorithm>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chorus::controller {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr char kPageTokenPrefix[] = "rooms-after-";

constexpr char kMissingController[] =
    " is not implemented yet: the room controller (rooms, invites, lobby, PIN and invite "
    "joining, participant control, room events) has not landed in this server; only ListRooms "
    "answers today";

}  // namespace

RoomsService::RoomsService(const common::BearerAuthenticator& auth,
                           const common::Lifecycle& lifecycle)
    : auth_(auth), lifecycle_(lifecycle) {}

grpc::Status RoomsService::NotYet(const grpc::ServerContext& context, const char* rpc) const {
  grpc::Status status = auth_.Check(context);
  if (!status.ok()) return status;
  std::string message = rpc;
  message.append(kMissingController);
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, message);
}

grpc::Status RoomsService::ListRooms(grpc::ServerContext* context,
                                     const chorus::v1::ListRoomsRequest* request,
                                     chorus::v1::ListRoomsResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (request->page_size() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "page_size must be 0 (the default, 50) or positive");
  }
  const int page_size =
      request->page_size() == 0 ? kDefaultPageSize : std::min(request->page_size(), kMaxPageSize);
  size_t offset = 0;
  if (!request->page_token().empty()) {
    const std::string& token = request->page_token();
    const std::string prefix = kPageTokenPrefix;
    if (token.compare(0, prefix.size(), prefix) != 0 ||
        !absl::SimpleAtoi(absl::string_view(token).substr(prefix.size()), &offset)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token is not one this server returned");
    }
  }
  absl::MutexLock lock(&mutex_);
  if (offset > rooms_.size()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "page_token is stale: the listing has changed");
  }
  const size_t end = std::min(rooms_.size(), offset + static_cast<size_t>(page_size));
  for (size_t i = offset; i < end; ++i) *response->add_rooms() = rooms_[i];
  if (end < rooms_.size()) response->set_next_page_token(absl::StrCat(kPageTokenPrefix, end));
  return grpc::Status::OK;
}

grpc::Status RoomsService::CreateRoom(grpc::ServerContext* context,
                                      const chorus::v1::CreateRoomRequest*, chorus::v1::Room*) {
  if (lifecycle_.draining()) {
    grpc::Status status = auth_.Check(*context);
    if (!status.ok()) return status;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the server is draining and accepts no new rooms");
  }
  return NotYet(*context, "CreateRoom");
}

grpc::Status RoomsService::GetRoom(grpc::ServerContext* context, const chorus::v1::GetRoomRequest*,
                                   chorus::v1::Room*) {
  return NotYet(*context, "GetRoom");
}

grpc::Status RoomsService::UpdateRoom(grpc::ServerContext* context,
                                      const chorus::v1::UpdateRoomRequest*, chorus::v1::Room*) {
  return NotYet(*context, "UpdateRoom");
}

grpc::Status RoomsService::LockRoom(grpc::ServerContext* context,
                                    const chorus::v1::LockRoomRequest*, chorus::v1::Room*) {
  return NotYet(*context, "LockRoom");
}

grpc::Status RoomsService::UnlockRoom(grpc::ServerContext* context,
                                      const chorus::v1::UnlockRoomRequest*, chorus::v1::Room*) {
  return NotYet(*context, "UnlockRoom");
}

grpc::Status RoomsService::CloseRoom(grpc::ServerContext* context,
                                     const chorus::v1::CloseRoomRequest*,
                                     chorus::v1::CloseRoomResponse*) {
  return NotYet(*context, "CloseRoom");
}

grpc::Status RoomsService::CreateInvite(grpc::ServerContext* context,
                                        const chorus::v1::CreateInviteRequest*,
                                        chorus::v1::CreateInviteResponse*) {
  return NotYet(*context, "CreateInvite");
}

grpc::Status RoomsService::ListInvites(grpc::ServerContext* context,
                                       const chorus::v1::ListInvitesRequest*,
                                       chorus::v1::ListInvitesResponse*) {
  return NotYet(*context, "ListInvites");
}

grpc::Status RoomsService::RevokeInvite(grpc::ServerContext* context,
                                        const chorus::v1::RevokeInviteRequest*,
                                        chorus::v1::Invite*) {
  return NotYet(*context, "RevokeInvite");
}

grpc::Status RoomsService::JoinRoom(grpc::ServerContext* context,
                                    const chorus::v1::JoinRoomRequest*,
                                    chorus::v1::JoinRoomResponse*) {
  return NotYet(*context, "JoinRoom");
}

grpc::Status RoomsService::GetParticipant(grpc::ServerContext* context,
                                          const chorus::v1::GetParticipantRequest*,
                                          chorus::v1::Participant*) {
  return NotYet(*context, "GetParticipant");
}

grpc::Status RoomsService::ListParticipants(grpc::ServerContext* context,
                                            const chorus::v1::ListParticipantsRequest*,
                                            chorus::v1::ListParticipantsResponse*) {
  return NotYet(*context, "ListParticipants");
}

grpc::Status RoomsService::AdmitParticipant(grpc::ServerContext* context,
                                            const chorus::v1::AdmitParticipantRequest*,
                                            chorus::v1::Participant*) {
  return NotYet(*context, "AdmitParticipant");
}

grpc::Status RoomsService::DenyParticipant(grpc::ServerContext* context,
                                           const chorus::v1::DenyParticipantRequest*,
                                           chorus::v1::DenyParticipantResponse*) {
  return NotYet(*context, "DenyParticipant");
}

grpc::Status RoomsService::RemoveParticipant(grpc::ServerContext* context,
                                             const chorus::v1::RemoveParticipantRequest*,
                                             chorus::v1::RemoveParticipantResponse*) {
  return NotYet(*context, "RemoveParticipant");
}

grpc::Status RoomsService::LeaveRoom(grpc::ServerContext* context,
                                     const chorus::v1::LeaveRoomRequest*,
                                     chorus::v1::LeaveRoomResponse*) {
  return NotYet(*context, "LeaveRoom");
}

grpc::Status RoomsService::MuteParticipant(grpc::ServerContext* context,
                                           const chorus::v1::MuteParticipantRequest*,
                                           chorus::v1::Participant*) {
  return NotYet(*context, "MuteParticipant");
}

grpc::Status RoomsService::RenameParticipant(grpc::ServerContext* context,
                                             const chorus::v1::RenameParticipantRequest*,
                                             chorus::v1::Participant*) {
  return NotYet(*context, "RenameParticipant");
}

grpc::Status RoomsService::SetListenLanguage(grpc::ServerContext* context,
                                             const chorus::v1::SetListenLanguageRequest*,
                                             chorus::v1::Participant*) {
  return NotYet(*context, "SetListenLanguage");
}

grpc::Status RoomsService::SetSpeakLanguage(grpc::ServerContext* context,
                                            const chorus::v1::SetSpeakLanguageRequest*,
                                            chorus::v1::Participant*) {
  return NotYet(*context, "SetSpeakLanguage");
}

grpc::Status RoomsService::SetContentSharing(grpc::ServerContext* context,
                                             const chorus::v1::SetContentSharingRequest*,
                                             chorus::v1::Participant*) {
  return NotYet(*context, "SetContentSharing");
}

grpc::Status RoomsService::WatchRoom(grpc::ServerContext* context,
                                     const chorus::v1::WatchRoomRequest*,
                                     grpc::ServerWriter<chorus::v1::RoomEvent>*) {
  return NotYet(*context, "WatchRoom");
}

}  // namespace chorus::controller
