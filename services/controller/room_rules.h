#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chorus/v1/media_node.pb.h"
#include "chorus/v1/rooms.pb.h"
#include "services/controller/room_record.h"

// The controller's rules over one room's stored state: who may join and how (invites, PINs and
// their lockout, the lock, the limit, the consent for a third participant), the lobby, display
// names, the media routing a participant's state asks for, and when a room ends. Pure functions
// of a RoomRecord and a time: no gRPC, no store, no media node, no clock of their own (the caller
// passes `now`), no logging. Functions that take a `RoomRecord&` change only that record; the
// caller publishes the events, saves the record and calls the media node.
namespace chorus::controller::rules {

// The events a change causes, in the order the room's watchers see them (the caller numbers,
// stamps and publishes them).
using Events = std::vector<chorus::v1::RoomEvent>;

// The longest a room, and so anything about it, is kept: its expire_time is at most this long
// after its creation (the hospitals' rule: metadata is deleted after at most three months).
inline constexpr absl::Duration kMaxRoomLifetime = absl::Hours(24 * 90);

// ----- Times -----

// A timestamp as protobuf defines it: years 1 to 9999, nanos 0 to 999,999,999.
bool ValidTimestamp(const google::protobuf::Timestamp& timestamp);
absl::Time FromTimestamp(const google::protobuf::Timestamp& timestamp);
google::protobuf::Timestamp ToTimestamp(absl::Time time);

// ----- Room lifetime -----

// When a room ends: its expire_time, but never later than kMaxRoomLifetime after its creation
// (a record written before rooms had an expire_time ends then too).
absl::Time RoomEnd(const chorus::v1::Room& room);

// Whether a room closes for being idle at `now`: nobody in it since empty_since for longer than
// its idle_timeout (or `default_idle_timeout`). The idle clock starts with the first join: a room
// booked ahead waits for its meeting.
bool IdleExpired(const RoomRecord& room, absl::Time now, absl::Duration default_idle_timeout);

// ----- Rooms -----

// The room a platform creates at `now` from its description `in` (whose fields the caller
// checked): invite-only unless it asks for a PIN mode; at most 6 participants in a consultation
// and 100 in a meeting unless it says; open, empty and unlocked; ending at `end`; idle from
// `now` (but the idle clock only runs once it has been joined). `has_host_pin`/`has_guest_pin`:
// the caller keeps the PINs' hashes in the record.
RoomRecord NewRoom(const std::string& id, const chorus::v1::Room& in, bool has_host_pin,
                   bool has_guest_pin, absl::Time now, absl::Time end);

// A change of a room's settings (UpdateRoom), its values checked one by one by the caller.
struct RoomChange {
  // The fields of `in` that change (an update mask): "lobby_enabled", "admission",
  // "max_participants", "languages", "layout_policy", "idle_timeout", "floor_level_db",
  // "expire_time" or "ttl" (then `end` is set), "host_pin", "guest_pin" (then their hashes).
  std::vector<std::string> paths;
  chorus::v1::Room in;
  std::optional<absl::Time> end;
  std::string host_pin_hash;
  std::string guest_pin_hash;
};

// Applies the change as one: PINs only in PIN rooms (INVALID_ARGUMENT), no room smaller than its
// participants or 2 (INVALID_ARGUMENT), no new channels once its media started
// (FAILED_PRECONDITION); nothing changes when refused. A new end caps the pending invites.
absl::Status ChangeRoom(RoomRecord& room, const RoomChange& change);

// Locks or unlocks the room (a locked room refuses every join); the event when it changes.
void SetLocked(RoomRecord& room, bool locked, Events* events);

// ----- Names -----

// A display name: 1 to 64 printable characters, no control characters.
bool ValidDisplayName(const std::string& name);

// Whether another participant of the room (than the one named `participant_name`) is called
// `display_name`.
bool DisplayNameTaken(const RoomRecord& room, const std::string& participant_name,
                      const std::string& display_name);

// ----- Languages -----

// A BCP-47-looking tag: letters, digits and hyphens, 2 to 35 characters.
bool ValidLanguage(const std::string& tag);

// An interpreter's pair: two different tags, and when the room has channels, at least one of them
// a channel of the room (a simultaneous interpreter works between the floor and a channel).
// INVALID_ARGUMENT otherwise.
absl::Status CheckInterpreterPair(const RoomRecord& room, const chorus::v1::LanguagePair& pair);

// Whether the room's media has started (or may still run on its node after a restart): its
// channels can no longer change.
bool MediaStarted(const RoomRecord& room);

// ----- Invites -----

// Whether an invite without a consent reference would bring a third person into a consultation
// (two invites already pending or used): such an invite needs the patient's consent.
bool InviteNeedsConsent(const RoomRecord& room, const std::string& consent_reference);

// When an invite created at `now` for `ttl` expires: no invite outlives its room.
absl::Time InviteExpiry(const RoomRecord& room, absl::Time now, absl::Duration ttl);

// The room now ends at `end`: pending invites that would outlive it expire with it.
void CapInviteExpiries(RoomRecord& room, absl::Time end);

// Adds a pending invite `id` (its token kept only as `token_hash`) created at `now` for `ttl` from
// the platform's `in` (fields checked by the caller): an interpreter's needs a pair the room can
// use (INVALID_ARGUMENT), and one that would bring a third person into a consultation needs a
// consent reference (FAILED_PRECONDITION). Returns the invite as kept (named, PENDING, its
// expiry no later than the room's end); nothing changes when refused.
absl::StatusOr<chorus::v1::Invite> AddInvite(RoomRecord& room, const chorus::v1::Invite& in,
                                             const std::string& id, const std::string& token_hash,
                                             absl::Time now, absl::Duration ttl);

// Revokes the invite; false (and nothing changes) when it has been used.
bool RevokeInvite(RoomRecord::Invite& invite);

// ----- PINs -----

// How wrong PINs lock PIN joins out (RoomsOptions carries the configured values).
struct PinPolicy {
  // Wrong PINs within `window` from one client address that lock that address out for `lockout`.
  int attempts_per_source = 5;
  // Wrong PINs within `window` from anyone that lock every PIN join out for `lockout`.
  int attempts_per_room = 20;
  absl::Duration window = absl::Minutes(10);
  absl::Duration lockout = absl::Minutes(10);
};

// Whether the room is joined by PIN at all (HOST_PIN and SHARED_PIN rooms).
bool TakesPins(const RoomRecord& room);

// A lockout in force: PIN joins are refused until `until`, for the whole room or for the one
// client address.
struct PinLockout {
  absl::Time until;
  bool whole_room = false;
};

// The lockout a PIN join from `source` (the hash of the client's address; empty when the
// platform gave none) meets at `now`, if any; the room-wide one first.
std::optional<PinLockout> ActivePinLockout(const RoomRecord& room, const std::string& source,
                                           absl::Time now);

// What a wrong PIN locked.
struct WrongPinOutcome {
  bool source_locked = false;
  bool room_locked = false;
};

// Counts a wrong PIN from `source` at `now` (for the address when given, and always for the
// room) and locks out whichever count reached its limit within the window. Addresses with nothing
// left in the window are forgotten first, so at most attempts_per_room are remembered at a time.
WrongPinOutcome RecordWrongPin(RoomRecord& room, const std::string& source, absl::Time now,
                               const PinPolicy& policy);

// ----- Joining -----

// A join as the rules see it, once its credential has been checked as far as the transport can:
// an invite token (by its hash) or a PIN that matched one of the room's PIN hashes.
struct JoinRequest {
  // The SHA-256 of the invite token (invite joins); empty for PIN joins.
  std::string invite_token_hash;
  // PIN joins: the role of the PIN that matched (HOST or GUEST).
  chorus::v1::Role pin_role = chorus::v1::ROLE_UNSPECIFIED;
  // The name asked for; may be empty.
  std::string display_name;
};

enum class JoinVerdict { kAdmit, kWait, kRefuse };

// The admission decision for one join.
struct JoinDecision {
  JoinVerdict verdict = JoinVerdict::kRefuse;
  // kRefuse: why (published as JoinRejected). REJECT_REASON_UNSPECIFIED when the token is no
  // invite of this room: nothing is published (the caller may hold nothing of the room at all).
  chorus::v1::RejectReason reason = chorus::v1::REJECT_REASON_UNSPECIFIED;
  // The invite the token named (its id), when it is one of the room's.
  std::string invite_id;
  // The invite was pending but found past its expire_time: RecordRefusal marks it EXPIRED.
  bool invite_expired = false;
  // kAdmit and kWait: who joins. The display name is the invite's pseudonym, else the name asked
  // for; empty here means the next GuestNN (given by ReserveParticipant).
  chorus::v1::Role role = chorus::v1::ROLE_UNSPECIFIED;
  std::string display_name;
};

// ----- Telephone callers typing the PIN (JoinRoomRequest.keypad) -----

// Wrong PINs a keypad caller may type before it is ended.
inline constexpr int kKeypadAttempts = 3;

// Makes `member` (just reserved by ReserveParticipant after DecideJoin for a guest's PIN join:
// the room's lock and limit applied) a keypad caller: it stays pending (in no roster and no
// event), is not admitted, and its endpoint hears the prompt to enter the PIN in the room's
// prompt language. `source` is the SHA-256 of its client address (the per-address lockout).
void MakeKeypadCaller(const RoomRecord& room, RoomRecord::Member& member,
                      const std::string& source);

// A keypad caller typed a wrong PIN: counted; true when it has had its kKeypadAttempts (then it is
// to be ended), otherwise its endpoint is to hear that the PIN was wrong.
bool KeypadPinWrong(RoomRecord::Member& member);

// The event that ends a keypad caller's entry (its SIP call ends on it): join_rejected naming the
// caller, with `reason` (UNSPECIFIED: the room closed or its media node failed).
chorus::v1::RoomEvent KeypadCallerEnded(const RoomRecord& room, const std::string& participant_id,
                                        chorus::v1::RejectReason reason);

// A dial-out's progress: dial_out_progress naming the callee, with `state` (BUSY, NO_ANSWER,
// REJECTED, FAILED and CANCELLED end it: its SIP call ends on them).
chorus::v1::RoomEvent DialOutProgress(const RoomRecord& room, const std::string& participant_id,
                                      chorus::v1::DialOutState state);

// A keypad caller typed the PIN of `role`: the room decides again as for a PIN join of that
// role at `now` (the lock, the limit, consent, the lobby), the caller itself not counted. Admitted
// or waiting, it is no longer a keypad caller (its routing stops the prompt; ConfirmParticipant
// then announces it); refused, the decision says why and the caller is to be ended.
JoinDecision ConfirmKeypadCaller(RoomRecord& room, const std::string& participant_id,
                                 chorus::v1::Role role, absl::Time now);

// Decides a join to `room` at `now`, in this order: the invite (unknown; used; revoked; expired),
// the lock, the participant limit, the consent a consultation's third participant needs (only an
// invite with a consent reference carries it), then the lobby: a host is admitted; others wait
// when the room has a lobby, or admits on a host's arrival and no host is in yet.
JoinDecision DecideJoin(const RoomRecord& room, const JoinRequest& request, absl::Time now);

// The name of the invite the decision is about ("" for PIN joins and unknown tokens), for the
// JoinRejected event.
std::string DecisionInviteName(const RoomRecord& room, const JoinDecision& decision);

// Applies what a refusal changes in the room (an invite found expired is marked so).
void RecordRefusal(RoomRecord& room, const JoinDecision& decision);

// Applies an admit or wait decision: the invite is used by the participant, who is added to the
// room as pending (its media not yet set up) with its role, interpreter languages, a display
// name unique in the room (the next GuestNN when none; a clash gets "-" and four characters of
// the id), its state, and its routing (`offers_content`: its offer has a content stream).
// Returns the member added.
RoomRecord::Member& ReserveParticipant(RoomRecord& room, const JoinDecision& decision,
                                       const std::string& participant_id, bool offers_content,
                                       absl::Time now);

// Undoes the invite's part of ReserveParticipant after the participant's media could not be set
// up (the caller removes the participant): the invite is pending again.
void ReopenInvite(RoomRecord& room, const std::string& invite_id);

// The participant's media is set up: it is in the room (no longer pending), the room is active
// and has been joined. `answers_content`: the node's answer has a content stream; `webrtc`: the
// participant joined over WebRTC.
void ConfirmParticipant(RoomRecord& room, const std::string& participant_id, bool answers_content,
                        bool webrtc);

// Reservations made before `cutoff` that never became participants: the controller that made
// them stopped between reserving and confirming (a replica of several, killed in the middle of a
// join; the replicas share the live room, so nobody else would ever finish or undo it). Each is
// removed and its invite is pending again, so that the patient's link still works. Returns their
// ids (none were announced, so their going is no event).
std::vector<std::string> DropStaleReservations(RoomRecord& room, absl::Time cutoff, absl::Time now);
// Whether the room has a reservation made before `cutoff` (what DropStaleReservations drops).
bool HasStaleReservations(const RoomRecord& room, absl::Time cutoff);

// A participant's session taken up again (ResumeSession): when `given_hash` is the SHA-256 of its
// current session token (compared in constant time), that token is spent and `new_hash` becomes
// the current one. PERMISSION_DENIED otherwise (no such participant, a pending one, a wrong or
// spent token: not told apart).
absl::Status ResumeSession(RoomRecord& room, const std::string& participant_id,
                           const std::string& given_hash, const std::string& new_hash);

// Takes the participant out of the room's state (its media endpoint is the caller's to remove).
// An empty room is open again, and idle from `now`. Returns whether the participant had been
// announced (its media was set up), and so whether its leaving is an event; false when it was
// not in the room.
bool RemoveParticipant(RoomRecord& room, const std::string& participant_id, absl::Time now);

// ----- Lobby -----

// A host is in a room that admits on a host's arrival: every waiting participant is admitted.
// Returns their ids (in id order) for the caller to publish and apply.
std::vector<std::string> AdmitOnHostArrival(RoomRecord& room);

// ----- Participants in the call: lobby, names, booths, pins, content -----
// Each change below is made to `participant`, the member of `room` it names. A refused change
// changes nothing and says why (the canonical code the API returns); a change appends the events
// it causes to `events`, in the order the room's watchers see them (the caller numbers, stamps and
// publishes them).

// The host lets a waiting participant in. FAILED_PRECONDITION when it is not waiting.
absl::Status AdmitWaiting(chorus::v1::Participant& participant, Events* events);

// Mutes or unmutes (no event when nothing changes).
void SetMuted(chorus::v1::Participant& participant, bool muted, Events* events);

// ALREADY_EXISTS when another participant of the room has the name (checked valid by the caller).
absl::Status Rename(const RoomRecord& room, chorus::v1::Participant& participant,
                    const std::string& display_name, Events* events);

// The channel the participant hears ("" = the floor). INVALID_ARGUMENT when the room offers no
// such channel.
absl::Status SetListenLanguage(const RoomRecord& room, chorus::v1::Participant& participant,
                               const std::string& language, Events* events);

// The channel an interpreter speaks into ("" = the floor), one of its pair and of the room's.
// The first interpreter of a channel is on air; a second joins the booth on standby. Leaving a
// booth while on air puts the partner on air.
// Whether a participant of `role` with the interpreter languages `pair` may speak into `language`
// ("" = the floor): interpreters only, into one of their pair that the room offers.
absl::Status MaySpeakInto(const RoomRecord& room, chorus::v1::Role role,
                          const chorus::v1::LanguagePair& pair, const std::string& language);

// The id of the invite the participant joined with ("" when none: a PIN join).
std::string InviteOf(const RoomRecord& room, const std::string& participant_id);

absl::Status SetSpeakLanguage(RoomRecord& room, chorus::v1::Participant& participant,
                              const std::string& language, Events* events);

// A standby interpreter takes the booth over from the one on air.
absl::Status HandOverInterpretation(RoomRecord& room, chorus::v1::Participant& participant,
                                    Events* events);

// Starts or stops presenting: only with a content stream offered at the join, one presenter at a
// time.
absl::Status SetContentSharing(const RoomRecord& room, chorus::v1::Participant& participant,
                               bool enabled, Events* events);

// The member's WebRTC media was renegotiated, its answer with a content stream or not
// (`has_content`): a screen share that stopped ends its presentation. Returns whether the room's
// routings may have changed (RerouteAll is due).
bool MediaRenegotiated(RoomRecord::Member& member, bool has_content, Events* events);

// Pins another participant of the room in the participant's view ("" unpins). No event when
// nothing changes.
absl::Status PinParticipant(const RoomRecord& room, chorus::v1::Participant& participant,
                            const std::string& pinned, Events* events);

// The booth of `language` has nobody on air: its first standby interpreter goes on air.
void FillBooth(RoomRecord& room, const std::string& language, Events* events);

// After `leaving` left the room (RemoveParticipant): pins on it end, and its booth, if it was on
// air, goes to its partner. Returns whether routings may have changed (RerouteAll is due).
bool AfterDeparture(RoomRecord& room, const chorus::v1::Participant& leaving, Events* events);

// Whether the room ends now: a one-time room ends, with all its state, when its last participant
// leaves.
bool EndsWhenEmpty(const RoomRecord& room);

// ----- Media routing -----

// The level of the floor under a language channel, in dB: the room's floor_level_db, else -15.
double FloorGainDb(const chorus::v1::Room& room);

// Sets the member's whole media routing from its state and the room (a booth's standby
// interpreter is muted and hears its channel with the floor at full level).
void Reroute(const RoomRecord& room, RoomRecord::Member& member);

// Reroutes every announced member; returns those whose routing changed (and `always`), with the
// routing to send to the media node.
std::vector<std::pair<std::string, chorus::internal::v1::Routing>> RerouteAll(
    RoomRecord& room, const std::string& always);

// ----- A participant's own requests -----

// What a participant asks through a client that acts only as that participant (the browser
// signalling), besides joining: for itself, or, for a host, over its own room.
enum class OwnRequest {
  kLeave,        // anyone, waiting or admitted
  kRenegotiate,  // anyone: new media (a screen share, an ICE restart)
  kShare,        // admitted participants, for themselves
  kListen,
  kSpeak,
  kHandOver,
  kPin,
  kMuteSelf,  // admitted participants mute and unmute themselves (everyone sees it)
  kAdmit,     // admitted hosts, over participants of their own room
  kDeny,
  kRemove,
  kMute,
  kLock,
  kUnlock,
  kEnd,
};

// Whether a participant of `role`, admitted or still waiting, may make `request`: OK, or
// PERMISSION_DENIED saying why. A waiting participant learns and changes nothing of the room: it
// may only leave or renegotiate. Binding the request to the participant's own room is the
// caller's (it names no other room).
absl::Status MayRequest(chorus::v1::Role role, bool admitted, OwnRequest request);

}  // namespace chorus::controller::rules
