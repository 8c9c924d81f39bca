#include "services/controller/room_rules.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <deque>

#include "google/protobuf/util/time_util.h"

namespace chorus::controller::rules {
namespace {

namespace v1 = chorus::v1;
using google::protobuf::util::TimeUtil;

// The room's wrong PINs in one count (the room's or one address's): adds the one at `now`, drops
// those before the window, and returns how many are left.
int CountWrongPin(std::deque<absl::Time>& wrong, absl::Time now, absl::Time window_start) {
  wrong.push_back(now);
  while (!wrong.empty() && wrong.front() < window_start) wrong.pop_front();
  return static_cast<int>(wrong.size());
}

v1::RoomEvent Updated(const v1::Participant& participant) {
  v1::RoomEvent event;
  *event.mutable_participant_updated()->mutable_participant() = participant;
  return event;
}

v1::RoomEvent OnAir(const std::string& language, const v1::Participant& participant) {
  v1::RoomEvent event;
  event.mutable_interpreter_on_air()->set_language(language);
  event.mutable_interpreter_on_air()->set_participant(participant.name());
  return event;
}

bool Offers(const v1::Room& room, const std::string& language) {
  const auto& languages = room.languages();
  return std::find(languages.begin(), languages.end(), language) != languages.end();
}

}  // namespace

bool ValidTimestamp(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() >= TimeUtil::kTimestampMinSeconds &&
         timestamp.seconds() <= TimeUtil::kTimestampMaxSeconds && timestamp.nanos() >= 0 &&
         timestamp.nanos() < 1'000'000'000;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp out;
  const int64_t seconds = absl::ToUnixSeconds(time);  // rounds down
  out.set_seconds(seconds);
  out.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return out;
}

absl::Time RoomEnd(const v1::Room& room) {
  const absl::Time latest = FromTimestamp(room.create_time()) + kMaxRoomLifetime;
  if (!room.has_expire_time() || !ValidTimestamp(room.expire_time())) return latest;
  return std::min(latest, FromTimestamp(room.expire_time()));
}

bool IdleExpired(const RoomRecord& room, absl::Time now, absl::Duration default_idle_timeout) {
  if (!room.participants.empty() || !room.ever_joined) return false;
  const absl::Duration timeout =
      room.room.has_idle_timeout() && room.room.idle_timeout().seconds() > 0
          ? absl::Seconds(room.room.idle_timeout().seconds())
          : default_idle_timeout;
  return now - room.empty_since > timeout;
}

RoomRecord NewRoom(const std::string& id, const v1::Room& in, bool has_host_pin, bool has_guest_pin,
                   absl::Time now, absl::Time end) {
  RoomRecord room;
  room.id = id;
  room.room = in;
  room.room.set_name(absl::StrCat(kRoomsPrefix, id));
  if (in.access_mode() == v1::ACCESS_MODE_UNSPECIFIED) {
    room.room.set_access_mode(v1::ACCESS_MODE_INVITE_ONLY);
  }
  room.room.set_state(v1::ROOM_STATE_OPEN);
  room.room.set_participant_count(0);
  room.room.set_locked(false);
  if (in.max_participants() == 0) {
    room.room.set_max_participants(in.kind() == v1::ROOM_KIND_CONSULTATION ? 6 : 100);
  }
  room.room.set_has_host_pin(has_host_pin);
  room.room.set_has_guest_pin(has_guest_pin);
  room.room.clear_media_node();
  room.room.clear_ttl();
  *room.room.mutable_create_time() = ToTimestamp(now);
  *room.room.mutable_expire_time() = ToTimestamp(end);
  room.empty_since = now;
  return room;
}

absl::Status ChangeRoom(RoomRecord& room, const RoomChange& change) {
  v1::Room updated = room.room;
  const v1::Room& in = change.in;
  for (const std::string& path : change.paths) {
    if (path == "expire_time" || path == "ttl") {
      if (change.end.has_value()) *updated.mutable_expire_time() = ToTimestamp(*change.end);
    } else if (path == "host_pin" || path == "guest_pin") {
      if (!TakesPins(room)) {
        return absl::InvalidArgumentError("PINs are only for HOST_PIN and SHARED_PIN rooms");
      }
    } else if (path == "lobby_enabled") {
      updated.set_lobby_enabled(in.lobby_enabled());
    } else if (path == "admission") {
      updated.set_admission(in.admission());
    } else if (path == "max_participants") {
      if (in.max_participants() < std::max(2, room.room.participant_count())) {
        return absl::InvalidArgumentError(
            "room.max_participants: between the current participant count (and 2) "
            "and the server's limit");
      }
      updated.set_max_participants(in.max_participants());
    } else if (path == "languages") {
      if (MediaStarted(room)) {
        return absl::FailedPreconditionError(
            "languages cannot change once the room's media has started");
      }
      *updated.mutable_languages() = in.languages();
    } else if (path == "layout_policy") {
      *updated.mutable_layout_policy() = in.layout_policy();
    } else if (path == "idle_timeout") {
      *updated.mutable_idle_timeout() = in.idle_timeout();
    } else if (path == "floor_level_db") {
      updated.set_floor_level_db(in.floor_level_db());
    } else if (path == "prompt_language") {
      updated.set_prompt_language(in.prompt_language());
    }
  }
  if (!change.host_pin_hash.empty()) {
    room.host_pin_hash = change.host_pin_hash;
    updated.set_has_host_pin(true);
  }
  if (!change.guest_pin_hash.empty()) {
    room.guest_pin_hash = change.guest_pin_hash;
    updated.set_has_guest_pin(true);
  }
  room.room = std::move(updated);
  if (change.end.has_value()) CapInviteExpiries(room, *change.end);
  return absl::OkStatus();
}

void SetLocked(RoomRecord& room, bool locked, Events* events) {
  if (room.room.locked() == locked) return;
  room.room.set_locked(locked);
  v1::RoomEvent event;
  if (locked) {
    event.mutable_room_locked();
  } else {
    event.mutable_room_unlocked();
  }
  events->push_back(std::move(event));
}

bool ValidDisplayName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::none_of(name.begin(), name.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool DisplayNameTaken(const RoomRecord& room, const std::string& participant_name,
                      const std::string& display_name) {
  for (const auto& [id, member] : room.participants) {
    if (member.participant.name() != participant_name &&
        member.participant.display_name() == display_name) {
      return true;
    }
  }
  return false;
}

bool ValidLanguage(const std::string& tag) {
  if (tag.size() < 2 || tag.size() > 35) return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

absl::Status CheckInterpreterPair(const RoomRecord& room, const v1::LanguagePair& pair) {
  if (!ValidLanguage(pair.first()) || !ValidLanguage(pair.second()) ||
      pair.first() == pair.second()) {
    return absl::InvalidArgumentError(
        "invite.interpreter_languages: two different BCP-47 tags are required");
  }
  if (!room.room.languages().empty() && !Offers(room.room, pair.first()) &&
      !Offers(room.room, pair.second())) {
    return absl::InvalidArgumentError("invite.interpreter_languages: the room offers neither");
  }
  return absl::OkStatus();
}

bool MediaStarted(const RoomRecord& room) { return room.node >= 0 || room.restored; }

bool InviteNeedsConsent(const RoomRecord& room, const std::string& consent_reference) {
  if (room.room.kind() != v1::ROOM_KIND_CONSULTATION || !consent_reference.empty()) return false;
  int expected = 0;
  for (const auto& [id, invite] : room.invites) {
    if (invite.invite.state() != v1::INVITE_STATE_REVOKED &&
        invite.invite.state() != v1::INVITE_STATE_EXPIRED) {
      ++expected;
    }
  }
  return expected >= 2;
}

absl::Time InviteExpiry(const RoomRecord& room, absl::Time now, absl::Duration ttl) {
  return std::min(now + ttl, RoomEnd(room.room));
}

void CapInviteExpiries(RoomRecord& room, absl::Time end) {
  for (auto& [id, invite] : room.invites) {
    if (invite.invite.state() == v1::INVITE_STATE_PENDING &&
        FromTimestamp(invite.invite.expire_time()) > end) {
      *invite.invite.mutable_expire_time() = ToTimestamp(end);
    }
  }
}

absl::StatusOr<v1::Invite> AddInvite(RoomRecord& room, const v1::Invite& in, const std::string& id,
                                     const std::string& token_hash, absl::Time now,
                                     absl::Duration ttl) {
  if (in.role() == v1::ROLE_INTERPRETER) {
    absl::Status pair = CheckInterpreterPair(room, in.interpreter_languages());
    if (!pair.ok()) return pair;
  }
  if (InviteNeedsConsent(room, in.consent_reference())) {
    return absl::FailedPreconditionError(
        "a third participant in a consultation needs the patient's consent: give "
        "invite.consent_reference");
  }
  RoomRecord::Invite record;
  record.invite = in;
  record.invite.clear_ttl();
  record.invite.set_name(absl::StrCat(kRoomsPrefix, room.id, "/invites/", id));
  record.invite.set_state(v1::INVITE_STATE_PENDING);
  *record.invite.mutable_create_time() = ToTimestamp(now);
  *record.invite.mutable_expire_time() = ToTimestamp(InviteExpiry(room, now, ttl));
  record.token_hash = token_hash;
  v1::Invite kept = record.invite;
  room.invites.emplace(id, std::move(record));
  room.invite_order.push_back(id);
  return kept;
}

bool RevokeInvite(RoomRecord::Invite& invite) {
  if (invite.invite.state() == v1::INVITE_STATE_USED) return false;
  invite.invite.set_state(v1::INVITE_STATE_REVOKED);
  return true;
}

bool TakesPins(const RoomRecord& room) {
  return room.room.access_mode() == v1::ACCESS_MODE_HOST_PIN ||
         room.room.access_mode() == v1::ACCESS_MODE_SHARED_PIN;
}

std::optional<PinLockout> ActivePinLockout(const RoomRecord& room, const std::string& source,
                                           absl::Time now) {
  if (now < room.pin_locked_until) return PinLockout{room.pin_locked_until, true};
  if (!source.empty()) {
    auto it = room.pin_sources.find(source);
    if (it != room.pin_sources.end() && now < it->second.locked_until) {
      return PinLockout{it->second.locked_until, false};
    }
  }
  return std::nullopt;
}

WrongPinOutcome RecordWrongPin(RoomRecord& room, const std::string& source, absl::Time now,
                               const PinPolicy& policy) {
  WrongPinOutcome outcome;
  const absl::Time window_start = now - policy.window;
  std::erase_if(room.pin_sources, [&](const auto& entry) {
    return entry.second.locked_until < now &&
           (entry.second.wrong_pins.empty() || entry.second.wrong_pins.back() < window_start);
  });
  if (!source.empty()) {
    RoomRecord::PinSource& from = room.pin_sources[source];
    if (CountWrongPin(from.wrong_pins, now, window_start) >= policy.attempts_per_source) {
      from.locked_until = now + policy.lockout;
      from.wrong_pins.clear();
      outcome.source_locked = true;
    }
  }
  if (CountWrongPin(room.wrong_pins, now, window_start) >= policy.attempts_per_room) {
    room.pin_locked_until = now + policy.lockout;
    room.wrong_pins.clear();
    outcome.room_locked = true;
  }
  return outcome;
}

JoinDecision DecideJoin(const RoomRecord& room, const JoinRequest& request, absl::Time now) {
  JoinDecision decision;
  decision.role = request.pin_role;
  decision.display_name = request.display_name;
  bool consented = false;
  if (!request.invite_token_hash.empty()) {
    // Every invite is compared, in constant time: how long the search takes tells nothing of
    // which invite, if any, the token matched.
    const RoomRecord::Invite* found = nullptr;
    for (const auto& [id, invite] : room.invites) {
      if (invite.token_hash.size() == request.invite_token_hash.size() &&
          sodium_memcmp(invite.token_hash.data(), request.invite_token_hash.data(),
                        request.invite_token_hash.size()) == 0) {
        found = &invite;
        decision.invite_id = id;
      }
    }
    if (found == nullptr) return decision;  // refused, with no reason to publish
    const v1::Invite& invite = found->invite;
    v1::InviteState state = invite.state();
    if (state == v1::INVITE_STATE_PENDING && FromTimestamp(invite.expire_time()) < now) {
      state = v1::INVITE_STATE_EXPIRED;
      decision.invite_expired = true;
    }
    switch (state) {
      case v1::INVITE_STATE_USED:
        decision.reason = v1::REJECT_REASON_INVITE_ALREADY_USED;
        return decision;
      case v1::INVITE_STATE_REVOKED:
        decision.reason = v1::REJECT_REASON_INVITE_REVOKED;
        return decision;
      case v1::INVITE_STATE_EXPIRED:
        decision.reason = v1::REJECT_REASON_INVITE_EXPIRED;
        return decision;
      default:
        break;
    }
    decision.role = invite.role();
    if (!invite.pseudonym().empty()) decision.display_name = invite.pseudonym();
    consented = !invite.consent_reference().empty();
  }
  if (room.room.locked()) {
    decision.reason = v1::REJECT_REASON_ROOM_LOCKED;
    return decision;
  }
  if (room.room.participant_count() >= room.room.max_participants()) {
    decision.reason = v1::REJECT_REASON_ROOM_FULL;
    return decision;
  }
  // The consent rule holds whatever the credential: the third person in a consultation comes
  // only with an invite that carries the patient's consent reference.
  if (room.room.kind() == v1::ROOM_KIND_CONSULTATION && !consented &&
      room.participants.size() >= 2) {
    decision.reason = v1::REJECT_REASON_CONSENT_REQUIRED;
    return decision;
  }
  const bool on_arrival = room.admits_on_host_arrival();
  const bool waiting = decision.role != v1::ROLE_HOST && (room.lobby() || on_arrival) &&
                       !(on_arrival && room.host_present());
  decision.verdict = waiting ? JoinVerdict::kWait : JoinVerdict::kAdmit;
  return decision;
}

void MakeKeypadCaller(const RoomRecord& room, RoomRecord::Member& member,
                      const std::string& source) {
  member.keypad_source = source;
  member.keypad_attempts = 0;
  member.routing.set_admitted(false);
  member.routing.set_keypad(true);
  member.routing.set_prompt("enter_pin");
  member.routing.set_prompt_language(room.room.prompt_language());
}

v1::RoomEvent DialOutProgress(const RoomRecord& room, const std::string& participant_id,
                              v1::DialOutState state) {
  v1::RoomEvent event;
  event.mutable_dial_out_progress()->set_participant(room.ParticipantName(participant_id));
  event.mutable_dial_out_progress()->set_state(state);
  return event;
}

v1::RoomEvent KeypadCallerEnded(const RoomRecord& room, const std::string& participant_id,
                                v1::RejectReason reason) {
  v1::RoomEvent event;
  event.mutable_join_rejected()->set_reason(reason);
  event.mutable_join_rejected()->set_participant(room.ParticipantName(participant_id));
  return event;
}

bool KeypadPinWrong(RoomRecord::Member& member) {
  ++member.keypad_attempts;
  if (member.keypad_attempts >= kKeypadAttempts) return true;
  member.routing.set_prompt("wrong_pin");
  return false;
}

JoinDecision ConfirmKeypadCaller(RoomRecord& room, const std::string& participant_id, v1::Role role,
                                 absl::Time now) {
  auto it = room.participants.find(participant_id);
  if (it == room.participants.end()) return JoinDecision{};
  // Decided as if the caller were not in yet: it holds a place only while it types.
  RoomRecord::Member member = std::move(it->second);
  room.participants.erase(it);
  room.room.set_participant_count(static_cast<int32_t>(room.participants.size()));
  JoinRequest request;
  request.pin_role = role;
  const JoinDecision decision = DecideJoin(room, request, now);
  RoomRecord::Member& placed =
      room.participants.emplace(participant_id, std::move(member)).first->second;
  room.room.set_participant_count(static_cast<int32_t>(room.participants.size()));
  if (decision.verdict == JoinVerdict::kRefuse) return decision;
  const bool waiting = decision.verdict == JoinVerdict::kWait;
  placed.participant.set_role(role);
  placed.participant.set_state(waiting ? v1::PARTICIPANT_STATE_WAITING
                                       : v1::PARTICIPANT_STATE_ADMITTED);
  *placed.participant.mutable_join_time() = ToTimestamp(now);
  placed.routing.set_admitted(!waiting);
  placed.routing.set_keypad(false);
  placed.routing.clear_prompt();
  placed.routing.clear_prompt_language();
  placed.keypad_attempts = 0;
  placed.keypad_source.clear();
  return decision;
}

std::string DecisionInviteName(const RoomRecord& room, const JoinDecision& decision) {
  auto it = room.invites.find(decision.invite_id);
  return it == room.invites.end() ? std::string() : it->second.invite.name();
}

void RecordRefusal(RoomRecord& room, const JoinDecision& decision) {
  if (!decision.invite_expired) return;
  auto it = room.invites.find(decision.invite_id);
  if (it != room.invites.end()) it->second.invite.set_state(v1::INVITE_STATE_EXPIRED);
}

RoomRecord::Member& ReserveParticipant(RoomRecord& room, const JoinDecision& decision,
                                       const std::string& participant_id, bool offers_content,
                                       absl::Time now) {
  const bool waiting = decision.verdict == JoinVerdict::kWait;
  v1::Participant participant;
  if (!decision.invite_id.empty()) {
    v1::Invite& invite = room.invites.at(decision.invite_id).invite;
    invite.set_state(v1::INVITE_STATE_USED);
    *invite.mutable_use_time() = ToTimestamp(now);
    invite.set_participant(room.ParticipantName(participant_id));
    *participant.mutable_interpreter_languages() = invite.interpreter_languages();
  }
  std::string display_name = decision.display_name;
  if (display_name.empty()) {
    char name[16];
    std::snprintf(name, sizeof(name), "Guest%02d", room.next_guest++);
    display_name = name;
  }
  for (const auto& [id, member] : room.participants) {
    if (member.participant.display_name() == display_name) {
      display_name.append("-").append(participant_id, 0, 4);
      break;
    }
  }
  participant.set_name(room.ParticipantName(participant_id));
  participant.set_display_name(display_name);
  participant.set_role(decision.role);
  participant.set_state(waiting ? v1::PARTICIPANT_STATE_WAITING : v1::PARTICIPANT_STATE_ADMITTED);
  *participant.mutable_join_time() = ToTimestamp(now);
  RoomRecord::Member member;
  member.participant = std::move(participant);
  member.has_content = offers_content;
  member.routing.set_admitted(!waiting);
  member.routing.set_floor_gain_db(FloorGainDb(room.room));
  auto [it, inserted] = room.participants.emplace(participant_id, std::move(member));
  room.participant_order.push_back(participant_id);
  room.room.set_participant_count(static_cast<int32_t>(room.participants.size()));
  return it->second;
}

void ReopenInvite(RoomRecord& room, const std::string& invite_id) {
  auto it = room.invites.find(invite_id);
  if (it == room.invites.end()) return;
  it->second.invite.set_state(v1::INVITE_STATE_PENDING);
  it->second.invite.clear_use_time();
  it->second.invite.clear_participant();
}

void ConfirmParticipant(RoomRecord& room, const std::string& participant_id, bool answers_content,
                        bool webrtc) {
  RoomRecord::Member& member = room.participants.at(participant_id);
  member.pending = false;
  member.has_content |= answers_content;
  member.webrtc = webrtc;
  room.ever_joined = true;
  room.room.set_state(v1::ROOM_STATE_ACTIVE);
}

std::vector<std::string> DropStaleReservations(RoomRecord& room, absl::Time cutoff,
                                               absl::Time now) {
  std::vector<std::string> stale;
  for (const auto& [id, member] : room.participants) {
    if (member.pending && FromTimestamp(member.participant.join_time()) < cutoff) {
      stale.push_back(id);
    }
  }
  for (const std::string& id : stale) {
    ReopenInvite(room, InviteOf(room, id));
    RemoveParticipant(room, id, now);
  }
  return stale;
}

absl::Status MayRequest(v1::Role role, bool admitted, OwnRequest request) {
  if (request == OwnRequest::kLeave || request == OwnRequest::kRenegotiate) {
    return absl::OkStatus();
  }
  if (!admitted) return absl::PermissionDeniedError("waiting participants can only leave");
  if (request >= OwnRequest::kAdmit && role != v1::ROLE_HOST) {
    return absl::PermissionDeniedError("only a host may do this");
  }
  return absl::OkStatus();
}

bool HasStaleReservations(const RoomRecord& room, absl::Time cutoff) {
  for (const auto& [id, member] : room.participants) {
    if (member.pending && FromTimestamp(member.participant.join_time()) < cutoff) return true;
  }
  return false;
}

absl::Status ResumeSession(RoomRecord& room, const std::string& participant_id,
                           const std::string& given_hash, const std::string& new_hash) {
  auto it = room.participants.find(participant_id);
  if (it == room.participants.end() || it->second.pending || given_hash.empty() ||
      it->second.session_token_hash.size() != given_hash.size() ||
      sodium_memcmp(it->second.session_token_hash.data(), given_hash.data(), given_hash.size()) !=
          0) {
    return absl::PermissionDeniedError("this session cannot be resumed");
  }
  it->second.session_token_hash = new_hash;
  return absl::OkStatus();
}

bool RemoveParticipant(RoomRecord& room, const std::string& participant_id, absl::Time now) {
  auto it = room.participants.find(participant_id);
  if (it == room.participants.end()) return false;
  const bool announced = !it->second.pending;
  room.participants.erase(it);
  std::erase(room.participant_order, participant_id);
  room.room.set_participant_count(static_cast<int32_t>(room.participants.size()));
  if (room.participants.empty()) {
    room.room.set_state(v1::ROOM_STATE_OPEN);
    room.empty_since = now;
  }
  return announced;
}

std::vector<std::string> AdmitOnHostArrival(RoomRecord& room) {
  std::vector<std::string> admitted;
  if (!room.admits_on_host_arrival() || !room.host_present()) return admitted;
  for (auto& [id, member] : room.participants) {
    if (member.pending || member.participant.state() != v1::PARTICIPANT_STATE_WAITING) continue;
    member.participant.set_state(v1::PARTICIPANT_STATE_ADMITTED);
    member.routing.set_admitted(true);
    admitted.push_back(id);
  }
  return admitted;
}

absl::Status AdmitWaiting(v1::Participant& participant, Events* events) {
  if (participant.state() != v1::PARTICIPANT_STATE_WAITING) {
    return absl::FailedPreconditionError("the participant is not waiting");
  }
  participant.set_state(v1::PARTICIPANT_STATE_ADMITTED);
  v1::RoomEvent event;
  *event.mutable_participant_admitted()->mutable_participant() = participant;
  events->push_back(std::move(event));
  return absl::OkStatus();
}

void SetMuted(v1::Participant& participant, bool muted, Events* events) {
  if (participant.muted() == muted) return;
  participant.set_muted(muted);
  events->push_back(Updated(participant));
}

absl::Status Rename(const RoomRecord& room, v1::Participant& participant,
                    const std::string& display_name, Events* events) {
  if (DisplayNameTaken(room, participant.name(), display_name)) {
    return absl::AlreadyExistsError("another participant of the room has that name");
  }
  participant.set_display_name(display_name);
  events->push_back(Updated(participant));
  return absl::OkStatus();
}

absl::Status SetListenLanguage(const RoomRecord& room, v1::Participant& participant,
                               const std::string& language, Events* events) {
  if (!language.empty() && !Offers(room.room, language)) {
    return absl::InvalidArgumentError("language: the room does not offer it");
  }
  participant.set_listen_language(language);
  events->push_back(Updated(participant));
  return absl::OkStatus();
}

absl::Status MaySpeakInto(const RoomRecord& room, v1::Role role, const v1::LanguagePair& pair,
                          const std::string& language) {
  if (role != v1::ROLE_INTERPRETER) {
    return absl::FailedPreconditionError("only interpreters choose the channel they speak into");
  }
  if (!language.empty() && language != pair.first() && language != pair.second()) {
    return absl::InvalidArgumentError("language: not one of the interpreter's pair");
  }
  if (!language.empty() && !Offers(room.room, language)) {
    return absl::InvalidArgumentError("language: the room has no such channel");
  }
  return absl::OkStatus();
}

std::string InviteOf(const RoomRecord& room, const std::string& participant_id) {
  const std::string name = room.ParticipantName(participant_id);
  for (const auto& [invite_id, invite] : room.invites) {
    if (invite.invite.participant() == name) return invite_id;
  }
  return {};
}

absl::Status SetSpeakLanguage(RoomRecord& room, v1::Participant& participant,
                              const std::string& language, Events* events) {
  absl::Status allowed =
      MaySpeakInto(room, participant.role(), participant.interpreter_languages(), language);
  if (!allowed.ok()) return allowed;
  const std::string previous = participant.speak_language();
  const bool was_on_air = participant.on_air();
  participant.set_speak_language(language);
  participant.set_on_air(false);
  if (!language.empty()) {
    // The first interpreter of a channel is on air; a second one joins the booth on standby
    // until a hand-over.
    bool taken = false;
    for (const auto& [id, member] : room.participants) {
      taken |= &member.participant != &participant && member.participant.on_air() &&
               member.participant.speak_language() == language;
    }
    participant.set_on_air(!taken);
  }
  events->push_back(Updated(participant));
  if (participant.on_air()) events->push_back(OnAir(language, participant));
  if (was_on_air && previous != language) FillBooth(room, previous, events);
  return absl::OkStatus();
}

absl::Status HandOverInterpretation(RoomRecord& room, v1::Participant& participant,
                                    Events* events) {
  if (participant.role() != v1::ROLE_INTERPRETER) {
    return absl::FailedPreconditionError("only interpreters hand over a booth");
  }
  const std::string language = participant.speak_language();
  if (language.empty()) {
    return absl::FailedPreconditionError(
        "the interpreter speaks into the floor: there is no booth");
  }
  if (participant.on_air()) {
    return absl::FailedPreconditionError("the interpreter is already on air");
  }
  v1::RoomEvent on_air = OnAir(language, participant);
  for (auto& [id, member] : room.participants) {
    if (member.participant.on_air() && member.participant.speak_language() == language) {
      member.participant.set_on_air(false);
      on_air.mutable_interpreter_on_air()->set_previous(member.participant.name());
      events->push_back(Updated(member.participant));
    }
  }
  participant.set_on_air(true);
  events->push_back(Updated(participant));
  events->push_back(std::move(on_air));
  return absl::OkStatus();
}

absl::Status SetContentSharing(const RoomRecord& room, v1::Participant& participant, bool enabled,
                               Events* events) {
  const std::string id = participant.name().substr(participant.name().rfind('/') + 1);
  if (enabled && !room.participants.at(id).has_content) {
    return absl::FailedPreconditionError("the participant offered no content stream when joining");
  }
  if (enabled) {
    for (const auto& [other, member] : room.participants) {
      if (other != id && member.participant.content_sharing()) {
        return absl::FailedPreconditionError("another participant is sharing content");
      }
    }
  }
  participant.set_content_sharing(enabled);
  events->push_back(Updated(participant));
  return absl::OkStatus();
}

bool MediaRenegotiated(RoomRecord::Member& member, bool has_content, Events* events) {
  member.has_content = has_content;
  if (has_content || !member.participant.content_sharing()) return false;
  member.participant.set_content_sharing(false);
  events->push_back(Updated(member.participant));
  return true;
}

absl::Status PinParticipant(const RoomRecord& room, v1::Participant& participant,
                            const std::string& pinned, Events* events) {
  if (!pinned.empty()) {
    const std::string prefix = room.ParticipantName("");
    if (!pinned.starts_with(prefix) || pinned.size() == prefix.size()) {
      return absl::InvalidArgumentError("pinned: not a participant name of this room");
    }
    auto found = room.participants.find(pinned.substr(prefix.size()));
    if (found == room.participants.end() || found->second.pending) {
      return absl::NotFoundError("pinned: no such participant in the room");
    }
    if (&found->second.participant == &participant) {
      return absl::InvalidArgumentError("pinned: a participant cannot pin itself");
    }
  }
  if (participant.pinned_participant() == pinned) return absl::OkStatus();
  participant.set_pinned_participant(pinned);
  events->push_back(Updated(participant));
  return absl::OkStatus();
}

void FillBooth(RoomRecord& room, const std::string& language, Events* events) {
  if (language.empty()) return;
  for (const std::string& id : room.participant_order) {
    const RoomRecord::Member& member = room.participants.at(id);
    if (!member.pending && member.participant.on_air() &&
        member.participant.speak_language() == language) {
      return;  // somebody is on air
    }
  }
  for (const std::string& id : room.participant_order) {
    RoomRecord::Member& member = room.participants.at(id);
    if (member.pending || member.participant.role() != v1::ROLE_INTERPRETER ||
        member.participant.speak_language() != language) {
      continue;
    }
    member.participant.set_on_air(true);
    events->push_back(Updated(member.participant));
    events->push_back(OnAir(language, member.participant));
    return;
  }
}

bool AfterDeparture(RoomRecord& room, const v1::Participant& leaving, Events* events) {
  // Pins on the one who left end.
  bool unpinned = false;
  for (auto& [id, member] : room.participants) {
    if (member.participant.pinned_participant() == leaving.name()) {
      member.participant.clear_pinned_participant();
      events->push_back(Updated(member.participant));
      unpinned = true;
    }
  }
  // An interpreter on air left its booth: the partner takes over.
  if (leaving.on_air()) FillBooth(room, leaving.speak_language(), events);
  return leaving.on_air() || unpinned;
}

bool EndsWhenEmpty(const RoomRecord& room) {
  return room.room.access_mode() == v1::ACCESS_MODE_ONE_TIME && room.participants.empty();
}

double FloorGainDb(const v1::Room& room) {
  return room.has_floor_level_db() ? room.floor_level_db() : -15.0;
}

void Reroute(const RoomRecord& room, RoomRecord::Member& member) {
  const v1::Participant& p = member.participant;
  chorus::internal::v1::Routing& routing = member.routing;
  const bool standby =
      p.role() == v1::ROLE_INTERPRETER && !p.speak_language().empty() && !p.on_air();
  routing.set_admitted(p.state() == v1::PARTICIPANT_STATE_ADMITTED);
  routing.set_muted(p.muted() || standby);
  routing.set_content_sharing(p.content_sharing());
  routing.set_pinned_endpoint(p.pinned_participant().substr(p.pinned_participant().rfind('/') + 1));
  routing.set_speak_bus(p.speak_language());
  if (standby) {
    // Hears the floor and its partner's voice in the channel, both at full level.
    routing.set_listen_bus(p.speak_language());
    routing.set_floor_gain_db(0.0);
  } else {
    routing.set_listen_bus(p.listen_language());
    routing.set_floor_gain_db(FloorGainDb(room.room));
  }
}

std::vector<std::pair<std::string, chorus::internal::v1::Routing>> RerouteAll(
    RoomRecord& room, const std::string& always) {
  std::vector<std::pair<std::string, chorus::internal::v1::Routing>> updates;
  for (auto& [id, member] : room.participants) {
    if (member.pending) continue;
    const std::string before = member.routing.SerializeAsString();
    Reroute(room, member);
    if (id == always || member.routing.SerializeAsString() != before) {
      updates.emplace_back(id, member.routing);
    }
  }
  return updates;
}

}  // namespace chorus::controller::rules
