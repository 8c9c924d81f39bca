#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chorus/v1/media_node.pb.h"
#include "chorus/v1/rooms.grpc.pb.h"
#include "services/common/auth.h"
#include "services/common/keypad_entry.h"
#include "services/common/lifecycle.h"
#include "services/controller/controller_metrics.h"
#include "services/controller/join_flow.h"
#include "services/controller/media_client.h"
#include "services/controller/media_nodes.h"
#include "services/controller/room_rules.h"
#include "services/controller/room_store.h"

namespace chorus::controller {

// Trailing metadata of a JoinRoom refused for a reason also published as a JoinRejected event
// (an invite used, revoked or expired; the room locked or full; consent required): the
// RejectReason name, for example "REJECT_REASON_INVITE_EXPIRED".
inline constexpr std::string_view kRejectReasonMetadata = "chorus-reject-reason";
// The longest a room, and so anything about it, is kept (room_rules.h).
using rules::kMaxRoomLifetime;

struct RoomsOptions {
  // Most participants a room may be configured for.
  int max_participants_limit = 1000;
  // Wrong PINs within pin_window: pin_attempts_per_source from one client address (when the
  // platform gives it) lock that address out of the room's PIN joins for pin_lockout;
  // pin_attempts_per_room from anyone lock every PIN join to the room for pin_lockout (high
  // enough that one guesser cannot lock the legitimate PIN users out for long).
  int pin_attempts_per_source = 5;
  int pin_attempts_per_room = 20;
  absl::Duration pin_window = absl::Minutes(10);
  absl::Duration pin_lockout = absl::Minutes(10);
  // A participant whose endpoint sent nothing (no authenticated RTP or RTCP) for this long leaves
  // with reason MEDIA_TIMEOUT (checked when PollSpeakers runs, every second in chorusd).
  absl::Duration media_timeout = absl::Seconds(30);
  // A room nobody has been in for its idle_timeout (default below) since its last participant
  // left is closed by Sweep(); a room nobody has joined yet waits for its expire_time.
  absl::Duration default_idle_timeout = absl::Minutes(10);
  // A room whose call came back from the store at start waits this long for its media node to
  // answer (ReconcileNode); then its participants leave with NODE_FAILED (checked by Sweep()).
  absl::Duration restore_wait = absl::Seconds(10);
  // Where the web client is served ("https://video.hospital.example", no trailing slash): when
  // set, CreateInvite returns the invitation link "<public_url>/join#r=<room>&i=<token>".
  std::string public_url;
  // The clock of every rule and of every time the API returns (tests inject one).
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

// The public API, chorus.v1.Rooms: rooms, invites, joining by invite or PIN with a media offer,
// the lobby, participant control and room events, over media nodes reached through their
// internal API. Rooms live in a RoomStore (in memory by default); one mutex makes each rule atomic,
// and media-node calls are made outside it. Every room a locked section changes is saved to the
// store before the mutex is released.
// Names, PINs, tokens and consent references never reach logs. Thread-safe.
class RoomsService final : public chorus::v1::Rooms::Service {
 public:
  // `media` (not owned, may be empty at first) must outlive the service.
  // `store` defaults to MakeInMemoryRoomStore().
  RoomsService(const common::BearerAuthenticator& auth, const common::Lifecycle& lifecycle,
               MediaNodes* media, RoomsOptions options = {},
               std::unique_ptr<RoomStore> store = nullptr);
  ~RoomsService() override;

  // Ends every WatchRoom stream promptly (before the gRPC server shuts down).
  void Shutdown();

  // Closes rooms that reached their expire_time (with whoever is in them), and rooms joined once
  // and empty for longer than their idle_timeout. Called every second by the server, directly by
  // tests.
  void Sweep();

  // Retention: closes every room past its expire_time (never kept more than kMaxRoomLifetime
  // after its creation, whatever its record says), then has the store delete whatever it still
  // keeps of rooms that are gone. Runs at construction (rooms that expired while the controller
  // was down are deleted before anyone sees them), every hour in chorusd, directly in tests.
  // Returns the number of rooms it closed.
  int Purge();

  // Asks the media nodes about each active room: publishes speakers_changed events, ends
  // participants whose media stopped for the media timeout, and removes any endpoint of the
  // room's session that belongs to no participant of its roster.
  void PollSpeakers();

  // Takes over from a controller that stopped, and catches up with a node that was away: asks
  // media node `node` for its sessions (ListSessions) and compares them with the rooms.
  //  - A room whose call came back from the store and that belongs on this node (by address, or
  //    by node id) goes on if the node still runs its session: participants whose endpoint is
  //    gone leave (NODE_FAILED), routings the node missed are sent again. If the session is gone,
  //    every participant leaves (NODE_FAILED) and the room is placed again at its next join.
  //  - A session that no room owns is deleted (log orphan_session_deleted), and an endpoint of a
  //    room's session that belongs to no participant is removed (as PollSpeakers does).
  // chorusd runs it for every node before it serves, and again whenever a node answers for the
  // first time or after failing. Returns false when the node did not answer: its restored rooms
  // wait (joins to them are refused UNAVAILABLE meanwhile), at most RoomsOptions::restore_wait.
  bool ReconcileNode(size_t node);
  // ReconcileNode for every media node known now; returns how many answered.
  size_t ReconcileNodes();

  // Endpoints found on a media node that belonged to nobody in the roster, and removed.
  int64_t unknown_endpoints_removed() const { return unknown_endpoints_removed_.load(); }
  // Sessions found on a media node that belonged to no room, and deleted.
  int64_t orphan_sessions_deleted() const { return orphan_sessions_deleted_.load(); }

  // Changes the store failed to keep (each logged as room_save_failed): they hold in memory but
  // would not survive a restart.
  int64_t save_failures() const { return save_failures_.load(); }

  // The web client's base URL for invitation links, once the web listener knows its port (replaces
  // RoomsOptions::public_url).
  void SetPublicUrl(std::string url);
  std::string PublicUrl() const;
  // The controller's metrics (joins, refusals, waiting-room time, rooms and participants by
  // state), for the process's /metrics. It may outlive the service: its gauges then stay as last
  // counted.
  const std::shared_ptr<ControllerMetrics>& metrics() const { return metrics_; }

  // A media node fell silent: its rooms' watchers get a media_node_failed event, their
  // participants are gone (reason NODE_FAILED) and may join again, landing on a healthy node.
  void OnNodeFailed(size_t node);

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
  grpc::Status ResumeSession(grpc::ServerContext* context, const chorus::v1::ResumeSessionRequest*,
                             chorus::v1::ResumeSessionResponse*) override;
  grpc::Status SubmitKeypadPin(grpc::ServerContext* context,
                               const chorus::v1::SubmitKeypadPinRequest*,
                               chorus::v1::SubmitKeypadPinResponse*) override;
  grpc::Status DialOut(grpc::ServerContext* context, const chorus::v1::DialOutRequest*,
                       chorus::v1::DialOutResponse*) override;
  grpc::Status ClaimDialOut(grpc::ServerContext* context, const chorus::v1::ClaimDialOutRequest*,
                            chorus::v1::ClaimDialOutResponse*) override;
  grpc::Status ReportDialOut(grpc::ServerContext* context, const chorus::v1::ReportDialOutRequest*,
                             chorus::v1::ReportDialOutResponse*) override;
  grpc::Status RequestKeyframe(grpc::ServerContext* context,
                               const chorus::v1::RequestKeyframeRequest*,
                               chorus::v1::RequestKeyframeResponse*) override;
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
  grpc::Status HandOverInterpretation(grpc::ServerContext* context,
                                      const chorus::v1::HandOverInterpretationRequest*,
                                      chorus::v1::Participant*) override;
  grpc::Status SetContentSharing(grpc::ServerContext* context,
                                 const chorus::v1::SetContentSharingRequest*,
                                 chorus::v1::Participant*) override;
  grpc::Status PinParticipant(grpc::ServerContext* context,
                              const chorus::v1::PinParticipantRequest*,
                              chorus::v1::Participant*) override;
  grpc::Status UpdateMedia(grpc::ServerContext* context, const chorus::v1::UpdateMediaRequest*,
                           chorus::v1::UpdateMediaResponse*) override;
  grpc::Status WatchRoom(grpc::ServerContext* context, const chorus::v1::WatchRoomRequest*,
                         grpc::ServerWriter<chorus::v1::RoomEvent>*) override;
  grpc::Status WatchRooms(grpc::ServerContext* context,
                          const chorus::v1::WatchRoomsRequest* request,
                          grpc::ServerWriter<chorus::v1::RoomEvent>* writer) override;

 private:
  struct Watcher;
  // Writes `first`, then the watcher's events as they come, until the stream ends (the watcher
  // is closed, falls behind, or the client goes away); `unregister` runs when it ends early.
  grpc::Status Stream(grpc::ServerContext* context,
                      grpc::ServerWriter<chorus::v1::RoomEvent>* writer,
                      const std::shared_ptr<Watcher>& watcher,
                      const std::vector<chorus::v1::RoomEvent>& first,
                      const std::function<void()>& unregister);
  using Room = RoomRecord;
  struct MediaChange;

  class Locked;
  class Sections;

  // The room by name ("rooms/{id}"), loaded for this locked section: see LoadRoom().
  Room* FindRoom(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The room with this id, handed over by the store to this locked section (once; later calls
  // in the section return the same record), or nullptr. The section owns it until PutBack():
  // the pointer is good until then, and what the rules change in it is written back then.
  Room* LoadRoom(std::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Gives every room of this section back to the store (they stay this section's to load again:
  // a shared store keeps their rows locked until the commit). Pointers from LoadRoom() end here.
  void PutBack() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Shows `visit` every room, read only (after PutBack(), so that none is left out).
  void ForEachRoom(absl::FunctionRef<void(const Room&)> visit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Writes back the rooms of this locked section (PutBack), ends the store's section and
  // delivers the events the store hands back (Locked calls it before unlocking); the store's
  // commit error.
  absl::Status SaveTouched() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The answer when FindRoom found nothing: NOT_FOUND, or UNAVAILABLE when the store could not
  // look (a shared store's database unreachable).
  grpc::Status NoRoom() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Resolves "rooms/{r}/participants/{p}" to its room and participant id.
  grpc::Status FindParticipant(const std::string& name, Room** room, std::string* participant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Publish(Room& room, chorus::v1::RoomEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Hands a published event (numbered for WatchRooms) to the streams watching it.
  void Deliver(const chorus::v1::RoomEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void PublishParticipant(Room& room, const chorus::v1::Participant& participant, int kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Removes a participant from the room's state; the media endpoint is removed by the caller.
  void DropParticipant(Room& room, const std::string& id, chorus::v1::LeaveReason reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The room's media is gone (its node failed, or its session did not outlive a restart): its
  // watchers get media_node_failed, its participants leave with NODE_FAILED, and it is on no node.
  void LoseMedia(Room& room) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Removes endpoints of a room's session that belong to nobody in its roster (names).
  void RemoveUnknownEndpoints(const std::string& room_id, int node,
                              const std::vector<std::string>& endpoints);
  // Why a room ends (for the log and the metrics).
  using CloseReason = ControllerMetrics::CloseReason;
  std::unique_ptr<Room> TakeRoom(const std::string& id, CloseReason reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Takes every room whose expire_time has come (TakeRoom), for the caller to end their media.
  std::vector<std::unique_ptr<Room>> TakeExpired(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // The time as the API returns it, from options_.now.
  google::protobuf::Timestamp Now() const;
  // Rooms and participants by state, for the metrics' gauges.
  RoomCounts CountRooms();
  void EndRoomMedia(const Room& room);
  // Sends the room's layout policy to its media node (when the session exists).
  absl::Status ApplyLayout(const std::string& room_id, int node,
                           const chorus::v1::LayoutPolicy& policy);
  grpc::Status UpdateRoomState(grpc::ServerContext* context,
                               const chorus::v1::UpdateRoomRequest* request,
                               chorus::v1::Room* response);
  absl::Status ApplyRouting(const std::string& room_id, int node, const std::string& participant,
                            const chorus::internal::v1::Routing& routing,
                            const std::vector<std::string>& paths);
  grpc::Status RemoveCall(grpc::ServerContext* context, const std::string& name,
                          chorus::v1::LeaveReason reason, bool only_waiting);
  // What a participant's leaving asks of the media node, applied outside the lock.
  struct Departure {
    std::string room_id;
    std::string participant;
    int node = -1;
    std::vector<std::pair<std::string, chorus::internal::v1::Routing>> updates;
    std::unique_ptr<Room> closed;  // a one-time room that ended with it
  };
  // Takes the participant out of the room with `reason` (pins on it end, its booth is filled, a
  // one-time room ends); the caller then calls Apply() outside the lock.
  Departure Depart(Room& room, const std::string& participant, chorus::v1::LeaveReason reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void Apply(Departure& departure);
  // Deletes the room's media session (a failed join left it without anybody, or the room ended).
  void ForgetEmptySession(const std::string& room_id, int node);
  // A change to one participant (a rule of room_rules.h): it appends the events it causes and
  // the routing fields it changed (any: the room's routings are sent again).
  using Change = std::function<absl::Status(Room&, chorus::v1::Participant&, rules::Events*,
                                            std::vector<std::string>* paths)>;
  // Authenticates, applies `change` to the participant `name` under the lock, publishes its
  // events, then sends the routings that changed to the media node.
  grpc::Status ParticipantCall(grpc::ServerContext* context, const std::string& name,
                               chorus::v1::Participant* response, const Change& change);
  // The participant `name` (when `check`, given, passes), its room's id and media node; NOT_FOUND,
  // or UNAVAILABLE when the room's media is not running.
  grpc::Status FindMedia(const std::string& name,
                         const std::function<grpc::Status(const Room::Member&)>& check,
                         std::string* room_id, std::string* id, int* node);
  // ParticipantCall without the authentication (the caller has done it).
  grpc::Status ChangeParticipant(const std::string& name, chorus::v1::Participant* response,
                                 const Change& change);

  const common::BearerAuthenticator& auth_;
  const common::Lifecycle& lifecycle_;
  // The nodes (not owned): how many, where a stored room's node is now, their load reports.
  MediaNodes* const media_;
  // Every call to the nodes' sessions and endpoints; null when `media_` is.
  const std::unique_ptr<MediaClient> client_;
  const RoomsOptions options_;
  mutable absl::Mutex public_url_mutex_;
  std::string public_url_ ABSL_GUARDED_BY(public_url_mutex_);
  mutable absl::Mutex mutex_;
  const std::unique_ptr<RoomStore> store_ ABSL_PT_GUARDED_BY(mutex_);
  // The rooms this locked section took from the store (LoadRoom), by id.
  std::map<std::string, std::unique_ptr<Room>, std::less<>> loaded_ ABSL_GUARDED_BY(mutex_);
  // The open WatchRoom streams by room id: state of this process, not of the rooms.
  std::map<std::string, std::vector<std::shared_ptr<Watcher>>> watchers_ ABSL_GUARDED_BY(mutex_);
  // WatchRooms: every room's recent events in order, and the streams watching them all.
  std::deque<chorus::v1::RoomEvent> all_history_ ABSL_GUARDED_BY(mutex_);
  int64_t next_stream_sequence_ ABSL_GUARDED_BY(mutex_) = 1;
  std::vector<std::shared_ptr<Watcher>> all_watchers_ ABSL_GUARDED_BY(mutex_);
  bool shutting_down_ ABSL_GUARDED_BY(mutex_) = false;
  std::atomic<int64_t> unknown_endpoints_removed_{0};
  // The keys telephone callers typed toward their PIN, by participant name (PollSpeakers' thread
  // only; never stored, never logged: a PIN in the making).
  struct KeypadKeys {
    uint64_t presses = 0;  // the node's count at the last poll
    common::KeypadEntry entry;
    bool seen_this_poll = false;
  };
  std::map<std::string, KeypadKeys> keypad_keys_;
  // The new keys of a keypad caller's endpoint stats; a PIN when one was ended with '#'.
  std::optional<std::string> TakeKeypadKeys(const std::string& participant,
                                            const std::string& digits, uint64_t presses);
  void ForgetKeypadKeys();
  std::atomic<int64_t> orphan_sessions_deleted_{0};
  // When the service started (options_.now): restored rooms wait for their node from then on.
  absl::Time started_;
  std::atomic<int64_t> save_failures_{0};
  const std::shared_ptr<ControllerMetrics> metrics_;
  // The rooms as the join flow changes them, and the flow (null without media nodes).
  const std::unique_ptr<Sections> sections_;
  std::unique_ptr<JoinFlow> join_flow_;
};

// A locked section of RoomsService: holds its mutex and, before letting go, saves every room the
// section found by name or published an event in (the store skips rooms that did not change), so
// that each change reaches the store before anyone can see it.
class ABSL_SCOPED_LOCKABLE RoomsService::Locked {
 public:
  explicit Locked(RoomsService* service) ABSL_EXCLUSIVE_LOCK_FUNCTION(service->mutex_)
      : service_(service) {
    service_->mutex_.Lock();
  }
  ~Locked() ABSL_UNLOCK_FUNCTION() {
    service_->mutex_.AssertHeld();
    service_->SaveTouched().IgnoreError();  // logged and counted
    service_->mutex_.Unlock();
  }
  // Ends the section's changes here, before answering (the mutex stays held to the end of the
  // scope): OK, or UNAVAILABLE when a shared store could not keep them (then nothing of them
  // holds, and the caller must not say it does).
  grpc::Status Commit() {
    service_->mutex_.AssertHeld();
    if (service_->SaveTouched().ok()) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the change could not be kept (the rooms' database failed); try again");
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  RoomsService* const service_;  // not owned
};

}  // namespace chorus::controller
