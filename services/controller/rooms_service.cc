#include "services/controller/rooms_service.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pipeline/base/log.h"
#include "services/common/api_guard.h"
#include "services/common/status.h"
#include "services/controller/api_requests.h"
#include "services/controller/room_secrets.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
namespace internal = chorus::internal::v1;
using api::CheckExpiry;
using api::CheckRoomField;
using api::EndpointToAnswer;
using api::Invalid;
using api::NoControlCharacters;
using api::NotFound;
using api::OfferToEndpoint;
using api::Pager;
using api::ParseParticipantName;
using api::Precondition;
using api::SplitParticipantName;
using api::ValidDuration;
using api::ValidPin;
using api::ValidRoomId;
using rules::FromTimestamp;
using rules::RoomEnd;
using rules::ToTimestamp;
using secrets::HashPin;
using secrets::HashToken;
using secrets::NewSecret;
using secrets::PinMatches;
using secrets::RandomId;

constexpr size_t kHistory = 1000;
constexpr size_t kWatcherQueue = 256;
// WatchRooms: the events kept for resuming, and how far one stream may fall behind.
constexpr size_t kAllHistory = 10000;
constexpr size_t kAllWatcherQueue = 4096;
rules::PinPolicy PinPolicy(const RoomsOptions& options) {
  rules::PinPolicy policy;
  policy.attempts_per_source = options.pin_attempts_per_source;
  policy.attempts_per_room = options.pin_attempts_per_room;
  policy.window = options.pin_window;
  policy.lockout = options.pin_lockout;
  return policy;
}

enum EventKind { kWaiting, kJoined, kAdmitted, kUpdated };

}  // namespace

// One WatchRoom stream's queue. The room pushes (under the service mutex, never blocking); the
// stream's own thread pops. A watcher that falls kWatcherQueue events behind is ended.
struct RoomsService::Watcher {
  explicit Watcher(size_t limit = kWatcherQueue) : limit(limit) {}
  const size_t limit;
  // WatchRoom: the room's last event it has been given (from the history, when it started);
  // only later ones are pushed. Set before it is registered, under the service mutex.
  int64_t after_sequence = 0;
  absl::Mutex mutex;
  std::deque<v1::RoomEvent> queue ABSL_GUARDED_BY(mutex);
  bool overflow ABSL_GUARDED_BY(mutex) = false;
  bool closed ABSL_GUARDED_BY(mutex) = false;

  void Push(const v1::RoomEvent& event) {
    absl::MutexLock lock(&mutex);
    if (closed || overflow) return;
    if (queue.size() >= limit) {
      overflow = true;
      return;
    }
    queue.push_back(event);
  }
  void Close() {
    absl::MutexLock lock(&mutex);
    closed = true;
  }
};

// The rooms as the join flow sees them: each Update is one locked section of the service.
class RoomsService::Sections final : public RoomSections {
 public:
  explicit Sections(RoomsService* service) : service_(service) {}

  absl::Status Update(const std::string& room_name,
                      const Change& change) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Locked lock(service_);
    Room* room = service_->FindRoom(room_name);
    const absl::Status missing =
        room == nullptr ? common::FromGrpcStatus(service_->NoRoom()) : absl::OkStatus();
    rules::Events events;
    const absl::Status changed = change(room, missing, &events);
    if (room != nullptr) {
      for (v1::RoomEvent& event : events) service_->Publish(*room, std::move(event));
    }
    if (!changed.ok()) return changed;
    return common::FromGrpcStatus(lock.Commit());
  }

 private:
  RoomsService* const service_;  // not owned
};

RoomsService::RoomsService(const common::BearerAuthenticator& auth,
                           const common::Lifecycle& lifecycle, MediaNodes* media,
                           RoomsOptions options, std::unique_ptr<RoomStore> store)
    : auth_(auth),
      lifecycle_(lifecycle),
      media_(media),
      client_(media != nullptr ? std::make_unique<MediaClientImpl>(media) : nullptr),
      options_(options),
      store_(store != nullptr ? std::move(store) : MakeInMemoryRoomStore()),
      metrics_(std::make_shared<ControllerMetrics>()),
      sections_(std::make_unique<Sections>(this)) {
  if (client_ != nullptr) {
    join_flow_ = std::make_unique<JoinFlow>(sections_.get(), client_.get(), metrics_.get(),
                                            options_.now, PinPolicy(options_), PinMatches);
  }
  started_ = options_.now();
  metrics_->SetCountSource([this] { return CountRooms(); });
  // Events another controller committed to a shared store: the end of a locked section delivers
  // them (SaveTouched).
  store_->SetEventListener([this] { Locked lock(this); });
  {
    // WatchRooms numbering starts at the wall clock in microseconds: above every number an
    // earlier run of this controller handed out (at fewer than one event per microsecond), so a
    // resume point from before a restart is refused, never silently misread.
    Locked lock(this);
    next_stream_sequence_ = std::max<int64_t>(1, absl::ToUnixMicros(absl::Now()));
  }
  {
    // Rooms loaded from a store written before rooms had an expire_time get theirs (the latest
    // allowed), so that the API shows when each room ends.
    Locked lock(this);
    auto outdated = [](const Room& room) {
      return !room.room.has_expire_time() ||
             room.room.expire_time().SerializeAsString() !=
                 ToTimestamp(RoomEnd(room.room)).SerializeAsString();
    };
    std::vector<std::string> ids;
    ForEachRoom([&](const Room& room) {
      if (outdated(room)) ids.push_back(room.id);
    });
    for (const std::string& id : ids) {
      Room* room = LoadRoom(id);
      if (room != nullptr && outdated(*room)) {
        *room->room.mutable_expire_time() = ToTimestamp(RoomEnd(room->room));
      }
    }
  }
  Purge();
}

google::protobuf::Timestamp RoomsService::Now() const { return ToTimestamp(options_.now()); }

RoomsService::~RoomsService() {
  metrics_->SetCountSource(nullptr);
  store_->SetEventListener(nullptr);
  Shutdown();
}

RoomCounts RoomsService::CountRooms() {
  RoomCounts counts;
  Locked lock(this);
  ForEachRoom([&](const Room& room) {
    if (room.room.state() == v1::ROOM_STATE_ACTIVE) {
      ++counts.rooms_active;
    } else {
      ++counts.rooms_open;
    }
    for (const auto& [id, member] : room.participants) {
      if (member.pending) continue;
      if (member.participant.state() == v1::PARTICIPANT_STATE_WAITING) {
        ++counts.participants_waiting;
      } else {
        ++counts.participants_admitted;
      }
    }
  });
  return counts;
}

void RoomsService::Shutdown() {
  Locked lock(this);
  shutting_down_ = true;
  for (auto& [id, list] : watchers_) {
    for (auto& watcher : list) watcher->Close();
  }
  for (auto& watcher : all_watchers_) watcher->Close();
}

RoomsService::Room* RoomsService::FindRoom(const std::string& name) {
  if (!absl::StartsWith(name, kRoomsPrefix)) return nullptr;
  return LoadRoom(std::string_view(name).substr(sizeof(kRoomsPrefix) - 1));
}

RoomsService::Room* RoomsService::LoadRoom(std::string_view id) {
  auto it = loaded_.find(id);
  if (it != loaded_.end()) return it->second.get();
  std::unique_ptr<Room> room = store_->Load(id);
  if (room == nullptr) return nullptr;
  Room* held = room.get();
  std::string key = room->id;
  loaded_.emplace(std::move(key), std::move(room));
  return held;
}

void RoomsService::PutBack() {
  for (auto& [id, room] : loaded_) {
    absl::Status saved = store_->Put(std::move(room));
    if (!saved.ok()) {
      save_failures_.fetch_add(1);
      base::Log(base::LogLevel::kError, "room_save_failed",
                {{"room", id}, {"error", std::string(saved.message())}});
    }
  }
  loaded_.clear();
}

void RoomsService::ForEachRoom(absl::FunctionRef<void(const Room&)> visit) {
  PutBack();
  store_->ScanAll(visit);
}

absl::Status RoomsService::SaveTouched() {
  PutBack();
  absl::Status committed = store_->EndSection();
  if (!committed.ok()) {
    save_failures_.fetch_add(1);
    base::Log(base::LogLevel::kError, "store_commit_failed",
              {{"error", std::string(committed.message())}});
  }
  for (const v1::RoomEvent& event : store_->TakeEvents()) Deliver(event);
  return committed;
}

grpc::Status RoomsService::NoRoom() {
  if (!store_->SectionStatus().ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the rooms' database cannot be reached; try again");
  }
  return NotFound("no such room");
}

grpc::Status RoomsService::FindParticipant(const std::string& name, Room** room,
                                           std::string* participant) {
  std::string room_name;
  if (!SplitParticipantName(name, &room_name, participant)) {
    return Invalid("name: expected rooms/{room}/participants/{participant}");
  }
  *room = FindRoom(room_name);
  if (*room == nullptr) return NoRoom();
  auto it = (*room)->participants.find(*participant);
  if (it == (*room)->participants.end() || it->second.pending) {
    return NotFound("no such participant in this room");
  }
  return grpc::Status::OK;
}

void RoomsService::Publish(Room& room, v1::RoomEvent event) {
  event.set_sequence(room.next_sequence++);
  *event.mutable_event_time() = Now();
  event.set_room(absl::StrCat(kRoomsPrefix, room.id));
  if (event.has_join_rejected()) metrics_->CountRefusal(event.join_rejected().reason());
  // A shared store numbers the event for WatchRooms when it commits, and hands it back then.
  const bool shared = store_->AddEvent(room, event);
  if (!shared) event.set_stream_sequence(next_stream_sequence_++);
  room.history.push_back(event);
  if (room.history.size() > kHistory) room.history.pop_front();
  if (!shared) Deliver(event);
}

void RoomsService::Deliver(const v1::RoomEvent& event) {
  next_stream_sequence_ = event.stream_sequence() + 1;  // events come in stream order
  all_history_.push_back(event);
  if (all_history_.size() > kAllHistory) all_history_.pop_front();
  for (auto& watcher : all_watchers_) watcher->Push(event);
  auto watching = watchers_.find(event.room().substr(sizeof(kRoomsPrefix) - 1));
  if (watching == watchers_.end()) return;
  for (auto& watcher : watching->second) {
    if (event.sequence() > watcher->after_sequence) watcher->Push(event);
  }
  if (event.has_room_closed()) {
    // The room's last event: its streams end.
    for (auto& watcher : watching->second) watcher->Close();
    watchers_.erase(watching);
  }
}

void RoomsService::PublishParticipant(Room& room, const v1::Participant& participant, int kind) {
  v1::RoomEvent event;
  switch (kind) {
    case kWaiting:
      *event.mutable_participant_waiting()->mutable_participant() = participant;
      break;
    case kJoined:
      *event.mutable_participant_joined()->mutable_participant() = participant;
      break;
    case kAdmitted:
      *event.mutable_participant_admitted()->mutable_participant() = participant;
      break;
    default:
      *event.mutable_participant_updated()->mutable_participant() = participant;
      break;
  }
  Publish(room, std::move(event));
}

void RoomsService::DropParticipant(Room& room, const std::string& id, v1::LeaveReason reason) {
  auto member = room.participants.find(id);
  const bool keypad = member != room.participants.end() && member->second.pending &&
                      member->second.routing.keypad();
  const bool dial_out = member != room.participants.end() && member->second.pending &&
                        member->second.dial_out != v1::DIAL_OUT_STATE_UNSPECIFIED;
  if (!rules::RemoveParticipant(room, id, options_.now())) {
    // Never announced; a telephone caller typing its PIN is told its entry ended, a dial-out
    // that it is cancelled (their calls end).
    if (keypad) Publish(room, rules::KeypadCallerEnded(room, id, v1::REJECT_REASON_UNSPECIFIED));
    if (dial_out) Publish(room, rules::DialOutProgress(room, id, v1::DIAL_OUT_STATE_CANCELLED));
    return;
  }
  v1::RoomEvent event;
  event.mutable_participant_left()->set_participant(room.ParticipantName(id));
  event.mutable_participant_left()->set_reason(reason);
  Publish(room, std::move(event));
}

std::unique_ptr<RoomsService::Room> RoomsService::TakeRoom(const std::string& id,
                                                           CloseReason reason) {
  if (LoadRoom(id) == nullptr) return nullptr;
  auto held = loaded_.find(id);
  if (!store_->Delete(id)) return nullptr;  // the store failed (it is written back as it was)
  std::unique_ptr<Room> room = std::move(held->second);
  loaded_.erase(held);
  std::vector<std::string> ids = room->participant_order;
  for (const std::string& participant : ids) {
    DropParticipant(*room, participant, v1::LEAVE_REASON_ROOM_CLOSED);
  }
  room->room.set_state(v1::ROOM_STATE_CLOSED);
  v1::RoomEvent closed;
  closed.mutable_room_closed();
  Publish(*room, std::move(closed));  // its delivery ends the room's streams
  base::Log(base::LogLevel::kInfo, "room_closed",
            {{"room", id}, {"reason", ControllerMetrics::CloseReasonName(reason)}});
  metrics_->CountRoomClosed(reason);
  return room;
}

void RoomsService::EndRoomMedia(const Room& room) {
  int node = room.node;
  if (node < 0 && room.restored && media_ != nullptr) {
    // A call that came back from the store, ended before its node was asked about it.
    std::optional<size_t> located = media_->Locate(room.node_address, room.node_id);
    if (located.has_value()) node = static_cast<int>(*located);
  }
  ForgetEmptySession(room.id, node);
}

absl::Status RoomsService::ApplyRouting(const std::string& room_id, int node,
                                        const std::string& participant,
                                        const internal::Routing& routing,
                                        const std::vector<std::string>& paths) {
  if (node < 0 || client_ == nullptr || paths.empty()) return absl::OkStatus();
  return client_->UpdateRouting(static_cast<size_t>(node), room_id, participant, routing, paths);
}

// ----- Rooms -----

grpc::Status RoomsService::CreateRoom(grpc::ServerContext* context,
                                      const v1::CreateRoomRequest* request, v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (lifecycle_.draining()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the server is draining and accepts no new rooms");
  }
  const v1::Room& in = request->room();
  if (in.kind() != v1::ROOM_KIND_CONSULTATION && in.kind() != v1::ROOM_KIND_MEETING) {
    return Invalid("room.kind: CONSULTATION or MEETING is required");
  }
  if (!v1::AccessMode_IsValid(in.access_mode())) {
    return Invalid("room.access_mode: unknown value");
  }
  const v1::AccessMode mode = in.access_mode() == v1::ACCESS_MODE_UNSPECIFIED
                                  ? v1::ACCESS_MODE_INVITE_ONLY
                                  : in.access_mode();
  if (!request->room_id().empty() && !ValidRoomId(request->room_id())) {
    return Invalid("room_id: 4 to 63 characters of [a-z0-9-], starting with a letter");
  }
  for (std::string_view field : {"admission", "max_participants", "languages", "layout_policy",
                                 "idle_timeout", "prompt_language"}) {
    if (grpc::Status checked = CheckRoomField(field, in, options_.max_participants_limit);
        !checked.ok())
      return checked;
  }
  if (in.has_floor_level_db()) {
    if (grpc::Status checked =
            CheckRoomField("floor_level_db", in, options_.max_participants_limit);
        !checked.ok()) {
      return checked;
    }
  }
  const absl::Time now = options_.now();
  absl::Time end = now + kMaxRoomLifetime;
  if (in.expiration_case() != v1::Room::EXPIRATION_NOT_SET) {
    grpc::Status checked = CheckExpiry(in.has_ttl() ? "ttl" : "expire_time", in, now, now, &end);
    if (!checked.ok()) return checked;
  }
  if (request->host_pin().size() > 64 || request->guest_pin().size() > 64) {
    return Invalid("PINs are 4 to 12 digits");
  }
  if (mode == v1::ACCESS_MODE_HOST_PIN &&
      (request->host_pin().empty() || request->guest_pin().empty())) {
    return Invalid("host_pin and guest_pin are required for HOST_PIN rooms");
  }
  if (mode == v1::ACCESS_MODE_SHARED_PIN && request->guest_pin().empty()) {
    return Invalid("guest_pin is required for SHARED_PIN rooms");
  }
  if ((mode != v1::ACCESS_MODE_HOST_PIN && mode != v1::ACCESS_MODE_SHARED_PIN) &&
      (!request->host_pin().empty() || !request->guest_pin().empty())) {
    return Invalid("PINs are only for HOST_PIN and SHARED_PIN rooms");
  }
  for (const std::string* pin : {&request->host_pin(), &request->guest_pin()}) {
    if (!pin->empty() && !ValidPin(*pin)) return Invalid("PINs are 4 to 12 digits");
  }
  if (!request->host_pin().empty() && request->host_pin() == request->guest_pin()) {
    return Invalid("host_pin and guest_pin must differ");
  }

  auto room = std::make_unique<Room>(
      rules::NewRoom(request->room_id().empty() ? "r-" + RandomId(6) : request->room_id(), in,
                     !request->host_pin().empty(), !request->guest_pin().empty(), now, end));
  // Hashing is slow by design: outside the lock.
  if (!request->host_pin().empty()) room->host_pin_hash = HashPin(request->host_pin());
  if (!request->guest_pin().empty()) room->guest_pin_hash = HashPin(request->guest_pin());

  Locked lock(this);
  if (LoadRoom(room->id) != nullptr) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "room_id is taken");
  }
  if (rules::TakesPins(*room)) {
    // A number to dial, unique among the rooms (a SIP caller's only way to name its room).
    std::set<std::string> taken;
    ForEachRoom([&](const Room& other) { taken.insert(other.room.dial_in_id()); });
    std::string dial_in_id;
    do {
      dial_in_id = secrets::RandomDialInId();
    } while (taken.contains(dial_in_id));
    room->room.set_dial_in_id(dial_in_id);
  }
  *response = room->room;
  base::Log(base::LogLevel::kInfo, "room_created",
            {{"room", room->id}, {"kind", v1::RoomKind_Name(in.kind())}});
  if (!store_->Insert(std::move(room))) {
    if (!store_->SectionStatus().ok()) return lock.Commit();  // the database failed
    // Created at the same moment through another controller of a shared store.
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "room_id is taken");
  }
  return lock.Commit();
}

grpc::Status RoomsService::GetRoom(grpc::ServerContext* context, const v1::GetRoomRequest* request,
                                   v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Locked lock(this);
  Room* room = FindRoom(request->name());
  if (room == nullptr) return NoRoom();
  *response = room->room;
  return grpc::Status::OK;
}

grpc::Status RoomsService::ListRooms(grpc::ServerContext* context,
                                     const v1::ListRoomsRequest* request,
                                     v1::ListRoomsResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const Pager pager("rooms-after-", request->page_size(), request->page_token());
  if (!pager.status().ok()) return pager.status();
  Locked lock(this);
  size_t begin = 0;
  size_t end = 0;
  status = pager.Range(store_->size(), &begin, &end, response->mutable_next_page_token());
  if (!status.ok()) return status;
  store_->Scan(begin, end, [&](const Room& room) { *response->add_rooms() = room.room; });
  return grpc::Status::OK;
}

grpc::Status RoomsService::UpdateRoom(grpc::ServerContext* context,
                                      const v1::UpdateRoomRequest* request, v1::Room* response) {
  grpc::Status status = UpdateRoomState(context, request, response);
  if (!status.ok()) return status;
  const auto& paths = request->update_mask().paths();
  if (std::find(paths.begin(), paths.end(), "layout_policy") == paths.end()) return status;
  int node = -1;
  std::string room_id;
  {
    Locked lock(this);
    Room* room = FindRoom(request->room().name());
    if (room == nullptr || !room->session_ready) return status;
    node = room->node;
    room_id = room->id;
  }
  (void)ApplyLayout(room_id, node, response->layout_policy());
  return status;
}

absl::Status RoomsService::ApplyLayout(const std::string& room_id, int node,
                                       const v1::LayoutPolicy& policy) {
  if (node < 0 || client_ == nullptr) return absl::OkStatus();
  return client_->SetLayout(static_cast<size_t>(node), room_id, policy);
}

grpc::Status RoomsService::UpdateRoomState(grpc::ServerContext* context,
                                           const v1::UpdateRoomRequest* request,
                                           v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (request->update_mask().paths().empty()) return Invalid("update_mask: name the fields");
  if (request->update_mask().paths_size() > 16) return Invalid("update_mask: at most 16 paths");
  std::string host_hash;
  std::string guest_hash;
  for (const std::string& path : request->update_mask().paths()) {
    if (path == "host_pin" || path == "guest_pin") {
      const std::string& pin = path == "host_pin" ? request->host_pin() : request->guest_pin();
      if (!ValidPin(pin)) return Invalid("PINs are 4 to 12 digits");
      std::string& hash = path == "host_pin" ? host_hash : guest_hash;
      if (hash.empty()) hash = HashPin(pin);  // once, however often the mask names it
    }
  }
  rules::RoomChange change;
  change.paths.assign(request->update_mask().paths().begin(), request->update_mask().paths().end());
  change.in = request->room();
  change.host_pin_hash = std::move(host_hash);
  change.guest_pin_hash = std::move(guest_hash);
  for (const std::string& path : change.paths) {
    if (path == "expire_time" || path == "ttl" || path == "host_pin" || path == "guest_pin") {
      continue;
    }
    grpc::Status checked = CheckRoomField(path, change.in, options_.max_participants_limit);
    if (!checked.ok()) return checked;
  }
  Locked lock(this);
  Room* room = FindRoom(request->room().name());
  if (room == nullptr) return NoRoom();
  for (const std::string& path : change.paths) {
    if (path != "expire_time" && path != "ttl") continue;
    absl::Time end;
    grpc::Status checked =
        CheckExpiry(path, change.in, FromTimestamp(room->room.create_time()), options_.now(), &end);
    if (!checked.ok()) return checked;
    change.end = end;
  }
  if (absl::Status changed = rules::ChangeRoom(*room, change); !changed.ok()) {
    return common::ToGrpcStatus(changed);
  }
  *response = room->room;
  return lock.Commit();
}

grpc::Status RoomsService::LockRoom(grpc::ServerContext* context,
                                    const v1::LockRoomRequest* request, v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Locked lock(this);
  Room* room = FindRoom(request->name());
  if (room == nullptr) return NoRoom();
  rules::Events events;
  rules::SetLocked(*room, true, &events);
  for (v1::RoomEvent& event : events) Publish(*room, std::move(event));
  *response = room->room;
  return lock.Commit();
}

grpc::Status RoomsService::UnlockRoom(grpc::ServerContext* context,
                                      const v1::UnlockRoomRequest* request, v1::Room* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Locked lock(this);
  Room* room = FindRoom(request->name());
  if (room == nullptr) return NoRoom();
  rules::Events events;
  rules::SetLocked(*room, false, &events);
  for (v1::RoomEvent& event : events) Publish(*room, std::move(event));
  *response = room->room;
  return lock.Commit();
}

grpc::Status RoomsService::CloseRoom(grpc::ServerContext* context,
                                     const v1::CloseRoomRequest* request, v1::CloseRoomResponse*) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  std::unique_ptr<Room> room;
  {
    Locked lock(this);
    if (FindRoom(request->name()) == nullptr) return NoRoom();
    room = TakeRoom(request->name().substr(sizeof(kRoomsPrefix) - 1), CloseReason::kClosed);
    if (grpc::Status kept = lock.Commit(); !kept.ok()) return kept;
  }
  EndRoomMedia(*room);
  return grpc::Status::OK;
}

// ----- Invites -----

void RoomsService::SetPublicUrl(std::string url) {
  absl::MutexLock lock(&public_url_mutex_);
  public_url_ = std::move(url);
}

std::string RoomsService::PublicUrl() const {
  absl::MutexLock lock(&public_url_mutex_);
  return public_url_.empty() ? options_.public_url : public_url_;
}

grpc::Status RoomsService::CreateInvite(grpc::ServerContext* context,
                                        const v1::CreateInviteRequest* request,
                                        v1::CreateInviteResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const v1::Invite& in = request->invite();
  if (in.role() != v1::ROLE_HOST && in.role() != v1::ROLE_GUEST &&
      in.role() != v1::ROLE_INTERPRETER) {
    return Invalid("invite.role: HOST, GUEST or INTERPRETER is required");
  }
  if (!in.pseudonym().empty() && !rules::ValidDisplayName(in.pseudonym())) {
    return Invalid("invite.pseudonym: 1 to 64 printable characters");
  }
  if (in.consent_reference().size() > 256 || !NoControlCharacters(in.consent_reference())) {
    return Invalid("invite.consent_reference: at most 256 characters, no control characters");
  }
  absl::Duration ttl = absl::Hours(24);
  if (in.has_ttl()) {
    if (!ValidDuration(in.ttl())) return Invalid("invite.ttl: 1 minute to 7 days");
    ttl = absl::Seconds(in.ttl().seconds());
    if (ttl < absl::Minutes(1) || ttl > absl::Hours(24 * 7)) {
      return Invalid("invite.ttl: 1 minute to 7 days");
    }
  }
  Locked lock(this);
  Room* room = FindRoom(request->parent());
  if (room == nullptr) return NoRoom();
  std::string token = NewSecret();
  absl::StatusOr<v1::Invite> invite =
      rules::AddInvite(*room, in, RandomId(6), HashToken(token), options_.now(), ttl);
  if (!invite.ok()) return common::ToGrpcStatus(invite.status());
  response->set_token(token);
  const std::string public_url = PublicUrl();
  if (!public_url.empty()) {
    // Room and token in the fragment: a browser never sends it to any server.
    response->set_link(absl::StrCat(public_url, "/join#r=", room->id, "&i=", token));
  }
  sodium_memzero(token.data(), token.size());  // only its hash is kept
  *response->mutable_invite() = *std::move(invite);
  if (grpc::Status kept = lock.Commit(); !kept.ok()) {
    // The invite was not kept: its token must not go out.
    response->Clear();
    return kept;
  }
  return grpc::Status::OK;
}

grpc::Status RoomsService::ListInvites(grpc::ServerContext* context,
                                       const v1::ListInvitesRequest* request,
                                       v1::ListInvitesResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const Pager pager("invites-after-", request->page_size(), request->page_token());
  if (!pager.status().ok()) return pager.status();
  Locked lock(this);
  Room* room = FindRoom(request->parent());
  if (room == nullptr) return NoRoom();
  size_t begin = 0;
  size_t end = 0;
  status =
      pager.Range(room->invite_order.size(), &begin, &end, response->mutable_next_page_token());
  if (!status.ok()) return status;
  for (size_t i = begin; i < end; ++i) {
    *response->add_invites() = room->invites.at(room->invite_order[i]).invite;
  }
  return grpc::Status::OK;
}

grpc::Status RoomsService::RevokeInvite(grpc::ServerContext* context,
                                        const v1::RevokeInviteRequest* request,
                                        v1::Invite* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  size_t marker = request->name().find("/invites/");
  if (marker == std::string::npos) return Invalid("name: expected rooms/{room}/invites/{invite}");
  Locked lock(this);
  Room* room = FindRoom(request->name().substr(0, marker));
  if (room == nullptr) return NoRoom();
  auto it = room->invites.find(request->name().substr(marker + 9));
  if (it == room->invites.end()) return NotFound("no such invite");
  if (!rules::RevokeInvite(it->second)) return Precondition("the invite has been used");
  *response = it->second.invite;
  return lock.Commit();
}

// ----- Joining -----

grpc::Status RoomsService::JoinRoom(grpc::ServerContext* context,
                                    const v1::JoinRoomRequest* request,
                                    v1::JoinRoomResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (lifecycle_.draining()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is draining: no new joins");
  }
  if (client_ == nullptr || client_->NodeCount() == 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no media node is configured");
  }
  if (request->credential_case() == v1::JoinRoomRequest::CREDENTIAL_NOT_SET) {
    return Invalid("an invite_token or a pin is required");
  }
  const bool keypad = request->credential_case() == v1::JoinRoomRequest::kKeypad;
  if (keypad) {
    if (!request->keypad()) return Invalid("keypad: true, or another credential");
    if (request->dial_in_id().empty()) return Invalid("keypad: only with a dial_in_id");
    if (request->offer().offer_case() != v1::MediaOffer::kRtp) {
      return Invalid("keypad: only with an RTP offer (a telephone caller's)");
    }
  }
  if (!request->dial_in_id().empty()) {
    if (!request->room().empty()) return Invalid("give room or dial_in_id, not both");
    if (request->credential_case() != v1::JoinRoomRequest::kPin && !keypad) {
      return Invalid("dial_in_id: only with a pin or keypad");
    }
    if (request->dial_in_id().size() > 16 ||
        !std::all_of(request->dial_in_id().begin(), request->dial_in_id().end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return Invalid("dial_in_id: digits only");
    }
  }
  if (!request->display_name().empty() && !rules::ValidDisplayName(request->display_name())) {
    return Invalid("display_name: 1 to 64 printable characters");
  }
  if (request->invite_token().size() > 128 || request->pin().size() > 64) {
    return Invalid("credential: too long");
  }
  if (request->client_address().size() > 64 || !NoControlCharacters(request->client_address())) {
    return Invalid("client_address: an IP address, at most 64 characters");
  }
  // The per-source PIN limit keys on a hash of the address: the address itself is not kept.
  const std::string source =
      request->client_address().empty() ? std::string() : HashToken(request->client_address());
  internal::Endpoint endpoint;
  status = OfferToEndpoint(request->offer(), &endpoint);
  if (!status.ok()) return status;

  JoinAttempt attempt;
  attempt.room_name = request->room();
  if (!request->dial_in_id().empty()) {
    Locked lock(this);
    attempt.room_name.clear();
    ForEachRoom([&](const Room& room) {
      if (room.room.dial_in_id() == request->dial_in_id()) attempt.room_name = room.room.name();
    });
    if (attempt.room_name.empty()) {
      if (!store_->SectionStatus().ok()) return NoRoom();
      return NotFound("no room has this dial-in id");
    }
  }
  if (request->credential_case() == v1::JoinRoomRequest::kInviteToken) {
    attempt.request.invite_token_hash = HashToken(request->invite_token());
  } else if (keypad) {
    attempt.keypad = true;
    attempt.source = source;
  } else {
    attempt.pin = request->pin();
    attempt.source = source;
  }
  attempt.request.display_name = request->display_name();
  attempt.endpoint = std::move(endpoint);
  attempt.participant_id = RandomId(6);
  const std::string session_token = NewSecret();
  attempt.session_token_hash = HashToken(session_token);
  v1::RejectReason rejected = v1::REJECT_REASON_UNSPECIFIED;
  absl::StatusOr<Joined> joined = join_flow_->Join(std::move(attempt), &rejected);
  if (rejected != v1::REJECT_REASON_UNSPECIFIED) {
    // The caller learns the reason too (kRejectReasonMetadata): only a holder of the invite's
    // token gets this far with an invite, and a PIN join learns no more than its message says.
    context->AddTrailingMetadata(std::string(kRejectReasonMetadata),
                                 v1::RejectReason_Name(rejected));
  }
  if (!joined.ok()) return common::ToGrpcStatus(joined.status());
  *response->mutable_participant() = joined->participant;
  EndpointToAnswer(joined->answer, response->mutable_answer());
  response->set_session_token(session_token);
  return grpc::Status::OK;
}

grpc::Status RoomsService::SubmitKeypadPin(grpc::ServerContext* context,
                                           const v1::SubmitKeypadPinRequest* request,
                                           v1::SubmitKeypadPinResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const std::string& pin = request->pin();
  if (pin.empty() || pin.size() > 32 ||
      !std::all_of(pin.begin(), pin.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Invalid("pin: 1 to 32 digits");
  }
  std::string room_name;
  std::string id;
  status = ParseParticipantName(request->name(), &room_name, &id);
  if (!status.ok()) return status;
  switch (join_flow_->EnterKeypadPin(room_name, id, pin)) {
    case JoinFlow::KeypadOutcome::kJoined:
      response->set_outcome(v1::SubmitKeypadPinResponse::OUTCOME_JOINED);
      return grpc::Status::OK;
    case JoinFlow::KeypadOutcome::kWrong:
      response->set_outcome(v1::SubmitKeypadPinResponse::OUTCOME_WRONG);
      return grpc::Status::OK;
    case JoinFlow::KeypadOutcome::kEnded:
      break;
  }
  return NotFound("no keypad caller of that name");
}

// ----- Calls Chorus places -----

namespace {

// "sip:" or "sips:", then 1 to 250 printable characters without spaces, quotes or angle brackets
// (what could break out of a SIP header).
bool ValidSipUri(const std::string& uri) {
  const size_t scheme = uri.rfind("sips:", 0) == 0 ? 5 : uri.rfind("sip:", 0) == 0 ? 4 : 0;
  if (scheme == 0 || uri.size() <= scheme || uri.size() > 256) return false;
  return std::all_of(uri.begin() + static_cast<std::ptrdiff_t>(scheme), uri.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '<' && c != '>';
  });
}

// The codecs Chorus offers when it calls, best first: audio (RFC 3551 static types for G.711 and
// G.722; RFC 4733 key presses beside them) and video.
struct Offered {
  const char* name;
  uint32_t payload_type;
  uint32_t clock_rate;
  uint32_t channels;
  const char* fmtp;
};
constexpr Offered kOfferedAudio[] = {{"opus", 111, 48000, 2, "useinbandfec=1"},
                                     {"G722", 9, 8000, 1, ""},
                                     {"PCMU", 0, 8000, 1, ""},
                                     {"PCMA", 8, 8000, 1, ""},
                                     {"telephone-event", 101, 8000, 1, "0-15"}};
constexpr Offered kOfferedVideo[] = {
    {"VP8", 96, 90000, 0, ""},
    {"H264", 126, 90000, 0, "packetization-mode=1;profile-level-id=42e01f"}};

void AddOfferedCodecs(std::span<const Offered> offered_codecs,
                      google::protobuf::RepeatedPtrField<v1::Codec>* codecs) {
  for (const Offered& offered : offered_codecs) {
    v1::Codec* codec = codecs->Add();
    codec->set_name(offered.name);
    codec->set_payload_type(offered.payload_type);
    codec->set_clock_rate(offered.clock_rate);
    codec->set_channels(offered.channels);
    codec->set_fmtp(offered.fmtp);
  }
}

}  // namespace

grpc::Status RoomsService::DialOut(grpc::ServerContext* context, const v1::DialOutRequest* request,
                                   v1::DialOutResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (lifecycle_.draining()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is draining: no new calls");
  }
  if (client_ == nullptr || client_->NodeCount() == 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no media node is configured");
  }
  if (request->invite_token().empty() || request->invite_token().size() > 128) {
    return Invalid("invite_token: the token of an invite of the room");
  }
  if (!ValidSipUri(request->sip_uri())) {
    return Invalid("sip_uri: a sip: or sips: URI of at most 256 printable characters");
  }
  const std::string& language = request->speak_language();
  if (!language.empty() && !rules::ValidLanguage(language)) {
    return Invalid("speak_language: a BCP-47 tag");
  }
  JoinAttempt attempt;
  attempt.room_name = request->room();
  attempt.request.invite_token_hash = HashToken(request->invite_token());
  attempt.dial_out = true;
  attempt.dial_out_uri = request->sip_uri();
  attempt.dial_out_speak_language = language;
  attempt.dial_out_video = request->video();
  attempt.participant_id = RandomId(6);
  // Nobody holds a session token for a callee: it leaves by hanging up (or being removed).
  attempt.session_token_hash = HashToken(NewSecret());
  v1::RejectReason rejected = v1::REJECT_REASON_UNSPECIFIED;
  absl::StatusOr<Joined> joined = join_flow_->Join(std::move(attempt), &rejected);
  if (rejected != v1::REJECT_REASON_UNSPECIFIED) {
    context->AddTrailingMetadata(std::string(kRejectReasonMetadata),
                                 v1::RejectReason_Name(rejected));
  }
  if (!joined.ok()) return common::ToGrpcStatus(joined.status());
  *response->mutable_participant() = joined->participant;
  response->mutable_participant()->clear_state();
  return grpc::Status::OK;
}

grpc::Status RoomsService::ClaimDialOut(grpc::ServerContext* context,
                                        const v1::ClaimDialOutRequest* request,
                                        v1::ClaimDialOutResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  std::string room_name;
  std::string id;
  status = ParseParticipantName(request->name(), &room_name, &id);
  if (!status.ok()) return status;
  internal::Transport transport = internal::TRANSPORT_SRTP;
  if (request->transport() == v1::TRANSPORT_RTP_INSECURE) {
    transport = internal::TRANSPORT_RTP_INSECURE;
  } else if (request->transport() != v1::TRANSPORT_UNSPECIFIED &&
             request->transport() != v1::TRANSPORT_SRTP) {
    return Invalid("transport: SRTP or RTP_INSECURE");
  }
  absl::StatusOr<JoinFlow::DialOutClaim> claim = join_flow_->ClaimDialOut(room_name, id, transport);
  if (!claim.ok()) return common::ToGrpcStatus(claim.status());
  response->set_sip_uri(claim->sip_uri);
  response->set_display_name(claim->display_name);
  response->set_transport(transport == internal::TRANSPORT_SRTP ? v1::TRANSPORT_SRTP
                                                                : v1::TRANSPORT_RTP_INSECURE);
  v1::MediaAnswer answer;
  EndpointToAnswer(claim->offer, &answer);
  for (const v1::StreamAnswer& stream : answer.rtp().streams()) {
    if (stream.kind() == v1::MEDIA_KIND_AUDIO) *response->mutable_audio() = stream;
    if (stream.kind() == v1::MEDIA_KIND_VIDEO) *response->mutable_video() = stream;
  }
  response->mutable_audio()->clear_codec();
  AddOfferedCodecs(kOfferedAudio, response->mutable_codecs());
  if (response->has_video()) {
    response->mutable_video()->clear_codec();
    AddOfferedCodecs(kOfferedVideo, response->mutable_video_codecs());
  }
  return grpc::Status::OK;
}

grpc::Status RoomsService::ReportDialOut(grpc::ServerContext* context,
                                         const v1::ReportDialOutRequest* request,
                                         v1::ReportDialOutResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  std::string room_name;
  std::string id;
  status = ParseParticipantName(request->name(), &room_name, &id);
  if (!status.ok()) return status;
  const grpc::Status none(grpc::StatusCode::NOT_FOUND, "no dial-out of that name in progress");
  switch (request->state()) {
    case v1::DIAL_OUT_STATE_RINGING:
      return common::ToGrpcStatus(join_flow_->DialOutRinging(room_name, id));
    case v1::DIAL_OUT_STATE_BUSY:
    case v1::DIAL_OUT_STATE_NO_ANSWER:
    case v1::DIAL_OUT_STATE_REJECTED:
    case v1::DIAL_OUT_STATE_FAILED:
      return join_flow_->EndDialOut(room_name, id, request->state()) ? grpc::Status::OK : none;
    case v1::DIAL_OUT_STATE_ANSWERED:
      break;
    default:
      return Invalid("state: RINGING, ANSWERED, BUSY, NO_ANSWER, REJECTED or FAILED");
  }
  v1::MediaOffer offer;
  *offer.mutable_rtp() = request->answer();
  internal::Endpoint endpoint;
  status = OfferToEndpoint(offer, &endpoint);
  if (!status.ok()) {
    join_flow_->EndDialOut(room_name, id, v1::DIAL_OUT_STATE_FAILED);
    return status;
  }
  absl::StatusOr<JoinFlow::DialOutAnswered> answered =
      join_flow_->AnswerDialOut(room_name, id, std::move(endpoint));
  if (!answered.ok()) return common::ToGrpcStatus(answered.status());
  *response->mutable_participant() = answered->participant;
  if (answered->speak_language.empty()) return grpc::Status::OK;
  // A telephone interpreter has no buttons for its direction: it starts in the one asked for.
  const std::string language = answered->speak_language;
  status = ChangeParticipant(request->name(), response->mutable_participant(),
                             [&language](Room& room, v1::Participant& participant,
                                         rules::Events* events, std::vector<std::string>* paths) {
                               absl::Status set =
                                   rules::SetSpeakLanguage(room, participant, language, events);
                               if (!set.ok()) return set;
                               paths->push_back("routing");
                               return absl::OkStatus();
                             });
  if (!status.ok()) {
    base::Log(base::LogLevel::kWarning, "dial_out_speak_language_not_set",
              {{"code", static_cast<int>(status.error_code())}});
  }
  return grpc::Status::OK;
}

grpc::Status RoomsService::ResumeSession(grpc::ServerContext* context,
                                         const v1::ResumeSessionRequest* request,
                                         v1::ResumeSessionResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (request->name().size() > 256 || request->session_token().empty() ||
      request->session_token().size() > 128) {
    return Invalid("name and session_token: those of JoinRoomResponse");
  }
  const std::string given = HashToken(request->session_token());
  const grpc::Status refused(grpc::StatusCode::PERMISSION_DENIED, "this session cannot be resumed");
  Locked lock(this);
  Room* room = nullptr;
  std::string id;
  status = FindParticipant(request->name(), &room, &id);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return status;
  if (!status.ok()) return refused;
  const std::string token = NewSecret();
  if (!rules::ResumeSession(*room, id, given, HashToken(token)).ok()) return refused;
  *response->mutable_participant() = room->participants.at(id).participant;
  status = lock.Commit();  // the old token is spent only once the new one is kept
  if (!status.ok()) return status;
  response->set_session_token(token);
  return grpc::Status::OK;
}

// ----- Participants -----

grpc::Status RoomsService::GetParticipant(grpc::ServerContext* context,
                                          const v1::GetParticipantRequest* request,
                                          v1::Participant* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Locked lock(this);
  Room* room = nullptr;
  std::string id;
  status = FindParticipant(request->name(), &room, &id);
  if (!status.ok()) return status;
  *response = room->participants.at(id).participant;
  return grpc::Status::OK;
}

grpc::Status RoomsService::ListParticipants(grpc::ServerContext* context,
                                            const v1::ListParticipantsRequest* request,
                                            v1::ListParticipantsResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  const Pager pager("participants-after-", request->page_size(), request->page_token());
  if (!pager.status().ok()) return pager.status();
  Locked lock(this);
  Room* room = FindRoom(request->parent());
  if (room == nullptr) return NoRoom();
  std::vector<const v1::Participant*> roster;
  for (const std::string& id : room->participant_order) {
    const Room::Member& member = room->participants.at(id);
    if (!member.pending) roster.push_back(&member.participant);
  }
  size_t begin = 0;
  size_t end = 0;
  status = pager.Range(roster.size(), &begin, &end, response->mutable_next_page_token());
  if (!status.ok()) return status;
  for (size_t i = begin; i < end; ++i) *response->add_participants() = *roster[i];
  return grpc::Status::OK;
}

grpc::Status RoomsService::ParticipantCall(grpc::ServerContext* context, const std::string& name,
                                           v1::Participant* response, const Change& change) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  return ChangeParticipant(name, response, change);
}

grpc::Status RoomsService::ChangeParticipant(const std::string& name, v1::Participant* response,
                                             const Change& change) {
  grpc::Status status;
  std::string room_id;
  std::string id;
  int node = -1;
  std::vector<std::string> paths;
  std::vector<std::pair<std::string, internal::Routing>> updates;
  {
    Locked lock(this);
    Room* room = nullptr;
    status = FindParticipant(name, &room, &id);
    if (!status.ok()) return status;
    Room::Member& member = room->participants.at(id);
    rules::Events events;
    absl::Status changed = change(*room, member.participant, &events, &paths);
    if (!changed.ok()) return common::ToGrpcStatus(changed);
    for (v1::RoomEvent& event : events) Publish(*room, std::move(event));
    // A change may move others too (a booth partner going on air or to standby).
    if (!paths.empty()) updates = rules::RerouteAll(*room, id);
    *response = member.participant;
    room_id = room->id;
    node = room->node;
    if (grpc::Status kept = lock.Commit(); !kept.ok()) return kept;
  }
  grpc::Status result = grpc::Status::OK;
  for (const auto& [participant, routing] : updates) {
    absl::Status applied = ApplyRouting(room_id, node, participant, routing, {"routing"});
    if (participant == id) result = common::ToGrpcStatus(applied);
  }
  return result;
}

grpc::Status RoomsService::AdmitParticipant(grpc::ServerContext* context,
                                            const v1::AdmitParticipantRequest* request,
                                            v1::Participant* response) {
  return ParticipantCall(context, request->name(), response,
                         [this](Room&, v1::Participant& participant, rules::Events* events,
                                std::vector<std::string>* paths) {
                           const absl::Time joined = FromTimestamp(participant.join_time());
                           absl::Status admitted = rules::AdmitWaiting(participant, events);
                           if (!admitted.ok()) return admitted;
                           metrics_->ObserveLobbyWait(options_.now() - joined);
                           paths->push_back("routing.admitted");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::MuteParticipant(grpc::ServerContext* context,
                                           const v1::MuteParticipantRequest* request,
                                           v1::Participant* response) {
  const bool muted = request->muted();
  return ParticipantCall(context, request->name(), response,
                         [muted](Room&, v1::Participant& participant, rules::Events* events,
                                 std::vector<std::string>* paths) {
                           rules::SetMuted(participant, muted, events);
                           paths->push_back("routing.muted");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::RenameParticipant(grpc::ServerContext* context,
                                             const v1::RenameParticipantRequest* request,
                                             v1::Participant* response) {
  const std::string name = request->display_name();
  if (!rules::ValidDisplayName(name)) {
    grpc::Status status = auth_.Check(*context);
    if (!status.ok()) return status;
    return Invalid("display_name: 1 to 64 printable characters");
  }
  return ParticipantCall(
      context, request->name(), response,
      [name](Room& room, v1::Participant& participant, rules::Events* events,
             std::vector<std::string>*) { return rules::Rename(room, participant, name, events); });
}

grpc::Status RoomsService::SetListenLanguage(grpc::ServerContext* context,
                                             const v1::SetListenLanguageRequest* request,
                                             v1::Participant* response) {
  const std::string language = request->language();
  return ParticipantCall(context, request->name(), response,
                         [language](Room& room, v1::Participant& participant, rules::Events* events,
                                    std::vector<std::string>* paths) {
                           absl::Status set =
                               rules::SetListenLanguage(room, participant, language, events);
                           if (!set.ok()) return set;
                           paths->push_back("routing.listen_bus");
                           paths->push_back("routing.floor_gain_db");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::SetSpeakLanguage(grpc::ServerContext* context,
                                            const v1::SetSpeakLanguageRequest* request,
                                            v1::Participant* response) {
  const std::string language = request->language();
  return ParticipantCall(context, request->name(), response,
                         [language](Room& room, v1::Participant& participant, rules::Events* events,
                                    std::vector<std::string>* paths) {
                           absl::Status set =
                               rules::SetSpeakLanguage(room, participant, language, events);
                           if (!set.ok()) return set;
                           paths->push_back("routing");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::HandOverInterpretation(grpc::ServerContext* context,
                                                  const v1::HandOverInterpretationRequest* request,
                                                  v1::Participant* response) {
  return ParticipantCall(context, request->name(), response,
                         [](Room& room, v1::Participant& participant, rules::Events* events,
                            std::vector<std::string>* paths) {
                           absl::Status handed =
                               rules::HandOverInterpretation(room, participant, events);
                           if (!handed.ok()) return handed;
                           paths->push_back("routing");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::SetContentSharing(grpc::ServerContext* context,
                                             const v1::SetContentSharingRequest* request,
                                             v1::Participant* response) {
  const bool enabled = request->enabled();
  return ParticipantCall(context, request->name(), response,
                         [enabled](Room& room, v1::Participant& participant, rules::Events* events,
                                   std::vector<std::string>* paths) {
                           absl::Status set =
                               rules::SetContentSharing(room, participant, enabled, events);
                           if (!set.ok()) return set;
                           paths->push_back("routing.content_sharing");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::PinParticipant(grpc::ServerContext* context,
                                          const v1::PinParticipantRequest* request,
                                          v1::Participant* response) {
  const std::string pinned = request->pinned();
  return ParticipantCall(context, request->name(), response,
                         [pinned](Room& room, v1::Participant& participant, rules::Events* events,
                                  std::vector<std::string>* paths) {
                           const std::string before = participant.pinned_participant();
                           absl::Status set =
                               rules::PinParticipant(room, participant, pinned, events);
                           if (!set.ok()) return set;
                           if (before != pinned) paths->push_back("routing.pinned_endpoint");
                           return absl::OkStatus();
                         });
}

grpc::Status RoomsService::RemoveCall(grpc::ServerContext* context, const std::string& name,
                                      v1::LeaveReason reason, bool only_waiting) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  Departure departure;
  {
    Locked lock(this);
    Room* room = nullptr;
    std::string participant;
    status = FindParticipant(name, &room, &participant);
    if (!status.ok()) return status;
    if (only_waiting &&
        room->participants.at(participant).participant.state() != v1::PARTICIPANT_STATE_WAITING) {
      return Precondition("the participant is not waiting");
    }
    departure = Depart(*room, participant, reason);
    if (grpc::Status kept = lock.Commit(); !kept.ok()) return kept;
  }
  Apply(departure);
  return grpc::Status::OK;
}

RoomsService::Departure RoomsService::Depart(Room& room, const std::string& participant,
                                             v1::LeaveReason reason) {
  Departure departure;
  const v1::Participant leaving = room.participants.at(participant).participant;
  DropParticipant(room, participant, reason);
  departure.room_id = room.id;
  departure.participant = participant;
  departure.node = room.node;
  rules::Events events;
  const bool reroute = rules::AfterDeparture(room, leaving, &events);
  for (v1::RoomEvent& event : events) Publish(room, std::move(event));
  if (reroute) departure.updates = rules::RerouteAll(room, "");
  if (rules::EndsWhenEmpty(room)) {
    departure.closed = TakeRoom(room.id, CloseReason::kOneTimeEnded);  // `room` is gone now
  }
  return departure;
}

void RoomsService::Apply(Departure& departure) {
  if (client_ != nullptr && departure.node >= 0) {
    (void)client_->RemoveEndpoint(static_cast<size_t>(departure.node), departure.room_id,
                                  departure.participant);
  }
  for (const auto& [id, routing] : departure.updates) {
    (void)ApplyRouting(departure.room_id, departure.node, id, routing, {"routing"});
  }
  if (departure.closed) EndRoomMedia(*departure.closed);
}

void RoomsService::ForgetEmptySession(const std::string& room_id, int node) {
  if (client_ != nullptr) ForgetSession(*client_, room_id, node);
}

grpc::Status RoomsService::DenyParticipant(grpc::ServerContext* context,
                                           const v1::DenyParticipantRequest* request,
                                           v1::DenyParticipantResponse*) {
  return RemoveCall(context, request->name(), v1::LEAVE_REASON_DENIED, true);
}

grpc::Status RoomsService::RemoveParticipant(grpc::ServerContext* context,
                                             const v1::RemoveParticipantRequest* request,
                                             v1::RemoveParticipantResponse*) {
  // A callee not yet answered: its call is cancelled.
  std::string room_name;
  std::string id;
  if (auth_.Check(*context).ok() && ParseParticipantName(request->name(), &room_name, &id).ok() &&
      join_flow_->EndDialOut(room_name, id, v1::DIAL_OUT_STATE_CANCELLED)) {
    return grpc::Status::OK;
  }
  return RemoveCall(context, request->name(), v1::LEAVE_REASON_REMOVED, false);
}

grpc::Status RoomsService::LeaveRoom(grpc::ServerContext* context,
                                     const v1::LeaveRoomRequest* request, v1::LeaveRoomResponse*) {
  return RemoveCall(context, request->name(), v1::LEAVE_REASON_LEFT, false);
}

grpc::Status RoomsService::FindMedia(const std::string& name,
                                     const std::function<grpc::Status(const Room::Member&)>& check,
                                     std::string* room_id, std::string* id, int* node) {
  {
    Locked lock(this);
    Room* room = nullptr;
    grpc::Status status = FindParticipant(name, &room, id);
    if (!status.ok()) return status;
    if (check != nullptr) {
      status = check(room->participants.at(*id));
      if (!status.ok()) return status;
    }
    *room_id = room->id;
    *node = room->node;
  }
  if (client_ == nullptr || *node < 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the room's media is not running");
  }
  return grpc::Status::OK;
}

grpc::Status RoomsService::RequestKeyframe(grpc::ServerContext* context,
                                           const v1::RequestKeyframeRequest* request,
                                           v1::RequestKeyframeResponse*) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (request->name().size() > 256) return Invalid("name: rooms/{room}/participants/{participant}");
  std::string room_id;
  std::string id;
  int node = -1;
  status = FindMedia(request->name(), nullptr, &room_id, &id, &node);
  if (!status.ok()) return status;
  absl::Status asked = client_->RequestKeyframe(static_cast<size_t>(node), room_id, id);
  if (asked.code() == absl::StatusCode::kNotFound) {
    return NotFound("the participant receives no video");
  }
  return common::ToGrpcStatus(asked);
}

grpc::Status RoomsService::UpdateMedia(grpc::ServerContext* context,
                                       const v1::UpdateMediaRequest* request,
                                       v1::UpdateMediaResponse* response) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  if (!request->offer().has_webrtc() && !request->offer().has_rtp()) {
    return Invalid("offer: the participant's new offer (offer.webrtc, or offer.rtp)");
  }
  internal::Endpoint endpoint;
  status = OfferToEndpoint(request->offer(), &endpoint);
  if (!status.ok()) return status;
  std::string room_id;
  std::string id;
  int node = -1;
  const bool webrtc = request->offer().has_webrtc();
  status = FindMedia(
      request->name(),
      [webrtc](const Room::Member& member) {
        if (member.webrtc == webrtc) return grpc::Status::OK;
        return Precondition(webrtc ? "the participant did not join over WebRTC"
                                   : "the participant joined over WebRTC (offer.webrtc)");
      },
      &room_id, &id, &node);
  if (!status.ok()) return status;
  absl::StatusOr<internal::Endpoint> renegotiated =
      client_->Renegotiate(static_cast<size_t>(node), room_id, id, endpoint);
  if (!renegotiated.ok()) return common::ToGrpcStatus(renegotiated.status());
  std::vector<std::pair<std::string, internal::Routing>> updates;
  {
    Locked lock(this);
    Room* room = nullptr;
    status = FindParticipant(request->name(), &room, &id);
    if (!status.ok()) return status;
    Room::Member& member = room->participants.at(id);
    bool has_content = false;
    for (const internal::LocalStream& stream : renegotiated->local_streams()) {
      has_content |= stream.kind() == internal::MEDIA_KIND_CONTENT;
    }
    rules::Events events;
    const bool reroute = rules::MediaRenegotiated(member, has_content, &events);
    for (v1::RoomEvent& event : events) Publish(*room, std::move(event));
    if (reroute) updates = rules::RerouteAll(*room, id);
    *response->mutable_participant() = member.participant;
  }
  for (const auto& [participant, routing] : updates) {
    (void)ApplyRouting(room_id, node, participant, routing, {"routing"});
  }
  EndpointToAnswer(*renegotiated, response->mutable_answer());
  return grpc::Status::OK;
}

// ----- Events -----

grpc::Status RoomsService::WatchRoom(grpc::ServerContext* context,
                                     const v1::WatchRoomRequest* request,
                                     grpc::ServerWriter<v1::RoomEvent>* writer) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  auto watcher = std::make_shared<Watcher>();
  std::vector<v1::RoomEvent> first;
  {
    Locked lock(this);
    Room* room = FindRoom(request->name());
    if (room == nullptr) return NoRoom();
    if (request->resume_after_sequence() < 0) return Invalid("resume_after_sequence: negative");
    if (request->resume_after_sequence() >= room->next_sequence) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                          absl::StrCat("resume_after_sequence is beyond the room's last event (",
                                       room->next_sequence - 1, ")"));
    }
    if (request->resume_after_sequence() > 0) {
      if (room->history.empty() ||
          request->resume_after_sequence() < room->history.front().sequence() - 1) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            "resume_after_sequence is older than the events kept");
      }
      for (const v1::RoomEvent& event : room->history) {
        if (event.sequence() > request->resume_after_sequence()) first.push_back(event);
      }
    }
    if (request->include_snapshot()) {
      for (const std::string& id : room->participant_order) {
        const Room::Member& member = room->participants.at(id);
        if (member.pending) continue;
        v1::RoomEvent event;
        event.set_room(room->room.name());
        *event.mutable_event_time() = Now();
        *event.mutable_participant_updated()->mutable_participant() = member.participant;
        first.push_back(std::move(event));
      }
    }
    watcher->after_sequence = room->next_sequence - 1;
    watchers_[room->id].push_back(watcher);
  }
  auto unregister = [&] {
    Locked lock(this);
    Room* room = FindRoom(request->name());
    if (room == nullptr) return;
    auto watching = watchers_.find(room->id);
    if (watching == watchers_.end()) return;
    std::erase(watching->second, watcher);
    if (watching->second.empty()) watchers_.erase(watching);
  };
  return Stream(context, writer, watcher, first, unregister);
}

grpc::Status RoomsService::WatchRooms(grpc::ServerContext* context,
                                      const v1::WatchRoomsRequest* request,
                                      grpc::ServerWriter<v1::RoomEvent>* writer) {
  grpc::Status status = auth_.Check(*context);
  if (!status.ok()) return status;
  auto watcher = std::make_shared<Watcher>(kAllWatcherQueue);
  std::vector<v1::RoomEvent> first;
  {
    Locked lock(this);
    const int64_t after = request->resume_after_stream_sequence();
    if (after < 0) return Invalid("resume_after_stream_sequence: negative");
    if (after > 0) {
      // The resume point may come from another controller of a shared store, a moment ahead of
      // this one: take every committed event first.
      store_->ReadEventsAgain();
      for (const v1::RoomEvent& event : store_->TakeEvents()) Deliver(event);
      if (after >= next_stream_sequence_) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            "resume_after_stream_sequence is beyond the last event");
      }
      if (all_history_.empty() || after < all_history_.front().stream_sequence() - 1) {
        return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                            "resume_after_stream_sequence is older than the events kept");
      }
      for (const v1::RoomEvent& event : all_history_) {
        if (event.stream_sequence() > after) first.push_back(event);
      }
    }
    if (shutting_down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down");
    all_watchers_.push_back(watcher);
  }
  auto unregister = [&] {
    Locked lock(this);
    std::erase(all_watchers_, watcher);
  };
  return Stream(context, writer, watcher, first, unregister);
}

grpc::Status RoomsService::Stream(grpc::ServerContext* context,
                                  grpc::ServerWriter<v1::RoomEvent>* writer,
                                  const std::shared_ptr<Watcher>& watcher,
                                  const std::vector<v1::RoomEvent>& first,
                                  const std::function<void()>& unregister) {
  for (const v1::RoomEvent& event : first) {
    if (!writer->Write(event)) {
      unregister();
      return grpc::Status::OK;
    }
  }
  for (;;) {
    std::deque<v1::RoomEvent> batch;
    bool closed = false;
    bool overflow = false;
    {
      absl::MutexLock lock(&watcher->mutex);
      auto ready = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !watcher->queue.empty() || watcher->closed || watcher->overflow;
      };
      watcher->mutex.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(100));
      batch.swap(watcher->queue);
      closed = watcher->closed;
      overflow = watcher->overflow;
    }
    for (const v1::RoomEvent& event : batch) {
      if (!writer->Write(event)) {
        unregister();
        return grpc::Status::OK;
      }
    }
    if (overflow) {
      unregister();
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the watcher fell too far behind the events; watch again with "
                          "its resume point");
    }
    if (closed) return grpc::Status::OK;
    if (context->IsCancelled()) {
      unregister();
      return grpc::Status::CANCELLED;
    }
  }
}

}  // namespace chorus::controller
