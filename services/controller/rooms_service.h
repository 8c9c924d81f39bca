#pragma once

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "chorus/v1/rooms.grpc.pb.h"
#include "services/common/auth.h"
#include "services/common/lifecycle.h"

namespace chorus::controller {

// The public API, chorus.v1.Rooms.
//
// Today it serves the room listing over an empty in-memory room table, with paging and argument
// checks as the contract says. Every other RPC answers UNIMPLEMENTED with a message naming the
// missing part (the room controller: rooms, invites, lobby, joining), after authenticating the
// caller like any implemented RPC, so a platform can integrate against the real error paths.
// Thread-safe: gRPC calls it from many threads.
class RoomsService final : public chorus::v1::Rooms::Service {
 public:
  RoomsService(const common::BearerAuthenticator& auth, const common::Lifecycle& lifecycle);

  grpc::Status ListRooms(grpc::ServerContext* context, const chorus::v1::ListRoomsRequest* request,
                         chorus::v1::ListRoomsResponse* response) override;

  grpc::Status CreateRoom(grpc::ServerContext* context, const chorus::v1::CreateRoomRequest*,
                          chorus::v1::Room*) override;
  grpc::Status GetRoom(grpc::ServerContext* context, const chorus::v1::GetRoomRequest*,
                       chorus::v1::Room*) override;
  grpc::Status UpdateRoom(grpc::ServerContext* context, const chorus::v1::UpdateRoomRequest*,
                          chorus::v1::Room*) override;
  grpc::Status LockRoom(grpc::ServerContext* context, const chorus::v1::LockRoomRequest*,
                        chorus::v1::Room*) override;
  grpc::Status UnlockRoom(grpc::ServerContext* context, const chorus::v1::UnlockRoomRequest*,
                          chorus::v1::Room*) override;
  grpc::Status CloseRoom(grpc::ServerContext* context, const chorus::v1::CloseRoomRequest*,
                         chorus::v1::CloseRoomResponse*) override;
  grpc::Status CreateInvite(grpc::ServerContext* context, const chorus::v1::CreateInviteRequest*,
                            chorus::v1::CreateInviteResponse*) override;
  grpc::Status ListInvites(grpc::ServerContext* context, const chorus::v1::ListInvitesRequest*,
                           chorus::v1::ListInvitesResponse*) override;
  grpc::Status RevokeInvite(grpc::ServerContext* context, const chorus::v1::RevokeInviteRequest*,
                            chorus::v1::Invite*) override;
  grpc::Status JoinRoom(grpc::ServerContext* context, const chorus::v1::JoinRoomRequest*,
                        chorus::v1::JoinRoomResponse*) override;
  grpc::Status GetParticipant(grpc::ServerContext* context,
                              const chorus::v1::GetParticipantRequest*,
                              chorus::v1::Participant*) override;
  grpc::Status ListParticipants(grpc::ServerContext* context,
                                const chorus::v1::ListParticipantsRequest*,
                                chorus::v1::ListParticipantsResponse*) override;
  grpc::Status AdmitParticipant(grpc::ServerContext* context,
                                const chorus::v1::AdmitParticipantRequest*,
                                chorus::v1::Participant*) override;
  grpc::Status DenyParticipant(grpc::ServerContext* context,
                               const chorus::v1::DenyParticipantRequest*,
                               chorus::v1::DenyParticipantResponse*) override;
  grpc::Status RemoveParticipant(grpc::ServerContext* context,
                                 const chorus::v1::RemoveParticipantRequest*,
                                 chorus::v1::RemoveParticipantResponse*) override;
  grpc::Status LeaveRoom(grpc::ServerContext* context, const chorus::v1::LeaveRoomRequest*,
                         chorus::v1::LeaveRoomResponse*) override;
  grpc::Status MuteParticipant(grpc::ServerContext* context,
                               const chorus::v1::MuteParticipantRequest*,
                               chorus::v1::Participant*) override;
  grpc::Status RenameParticipant(grpc::ServerContext* context,
                                 const chorus::v1::RenameParticipantRequest*,
                                 chorus::v1::Participant*) override;
  grpc::Status SetListenLanguage(grpc::ServerContext* context,
                                 const chorus::v1::SetListenLanguageRequest*,
                                 chorus::v1::Participant*) override;
  grpc::Status SetSpeakLanguage(grpc::ServerContext* context,
                                const chorus::v1::SetSpeakLanguageRequest*,
                                chorus::v1::Participant*) override;
  grpc::Status SetContentSharing(grpc::ServerContext* context,
                                 const chorus::v1::SetContentSharingRequest*,
                                 chorus::v1::Participant*) override;
  grpc::Status WatchRoom(grpc::ServerContext* context, const chorus::v1::WatchRoomRequest*,
                         grpc::ServerWriter<chorus::v1::RoomEvent>*) override;

 private:
  // Authenticates, then answers UNIMPLEMENTED naming `rpc` and the missing part.
  grpc::Status NotYet(const grpc::ServerContext& context, const char* rpc) const;

  const common::BearerAuthenticator& auth_;
  const common::Lifecycle& lifecycle_;
  mutable absl::Mutex mutex_;
  // Rooms in creation order. Filled by the room controller once it lands.
  std::vector<chorus::v1::Room> rooms_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace chorus::controller
