#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "chorus/v1/media_node.pb.h"
#include "chorus/v1/rooms.pb.h"
#include "services/controller/controller_metrics.h"
#include "services/controller/media_client.h"
#include "services/controller/room_record.h"
#include "services/controller/room_rules.h"

namespace chorus::controller {

// The rooms as the join flow reads and changes them: one room at a time, each change one atomic
// section (RoomsService: under its mutex, saved to its RoomStore, committed with its events).
class RoomSections {
 public:
  virtual ~RoomSections() = default;

  // `room` is the room, or nullptr when there is none; `missing` then says why (NOT_FOUND, or
  // UNAVAILABLE when the store could not look). The events appended to `events` are published
  // in order (numbered, stamped, delivered to watchers) before the section ends.
  using Change = std::function<absl::Status(RoomRecord* room, const absl::Status& missing,
                                            rules::Events* events)>;
  // Runs `change` on the room named `room_name` ("rooms/{id}") in one section. Returns what
  // `change` returned when it is an error (what the section changed is still kept); otherwise
  // whether the store kept the section's changes (UNAVAILABLE when a shared store could not: then
  // nothing of them holds).
  virtual absl::Status Update(const std::string& room_name, const Change& change) = 0;
};

// The answer to a join whose invite or PIN is not valid: the same whatever was wrong, so that a
// caller learns nothing about which credential failed.
absl::Status JoinDenied();

// Puts the room on media node `node` (its index, and what finds it again after a restart).
void AssignNode(RoomRecord& room, size_t node, const MediaClient& media);
// The room is on no media node (its session is gone, or never came up).
void ClearNode(RoomRecord& room);
// Deletes a room's media session that nobody needs any more (its room ended, or a failed join
// left it empty); a failure other than NOT_FOUND is logged, nothing else can be done about it.
void ForgetSession(MediaClient& media, const std::string& room_id, int node);

// Whether `pin` is the PIN whose hash is `hash` (false for an empty hash). Slow by design
// (Argon2id): the flow calls it outside every section.
using PinMatcher = std::function<bool(const std::string& hash, const std::string& pin)>;

// One join, as the handler hands it over once the caller is authenticated and the request
// checked and converted.
struct JoinAttempt {
  std::string room_name;  // "rooms/{id}"
  // The credential and the name asked for: an invite token's hash, or (PIN joins) the role of the
  // PIN that matched, filled in by the flow from `pin`.
  rules::JoinRequest request;
  // PIN joins: the PIN given, and the SHA-256 of the client's address for the per-address
  // lockout (empty when the platform did not give it).
  std::optional<std::string> pin;
  std::string source;
  // A telephone caller who types the PIN on its keypad (no `pin`): reserved as a keypad caller
  // (rules::MakeKeypadCaller) and not confirmed; EnterKeypadPin takes it further.
  bool keypad = false;
  // A call Chorus places (DialOut): reserved and not confirmed, with no endpoint yet (the node
  // reserves Chorus's side when a SIP role claims the call, ClaimDialOut); announced by a
  // dial_out_progress CALLING event once the room's session is up. The SIP address to call, and
  // the channel the callee is to speak into once answered.
  bool dial_out = false;
  std::string dial_out_uri;
  std::string dial_out_speak_language;
  bool dial_out_video = false;
  // The offer as the media node takes it (the routing is filled in by the flow).
  chorus::internal::v1::Endpoint endpoint;
  // A fresh id for the participant, and the SHA-256 of its new session token.
  std::string participant_id;
  std::string session_token_hash;
};

struct Joined {
  chorus::v1::Participant participant;
  // The media node's answer (local streams, or a WebRTC answer SDP).
  chorus::internal::v1::Endpoint answer;
};

// Applies the admission decision of one join (room_rules.h) to the room and its media, in this
// order: a PIN is checked (refused during a lockout; a wrong one is counted, and may start one);
// the room is placed on a node when it has none; the participant is reserved in the room
// (and its invite used) and that is kept in the store before any media is set up; the room's
// session is created (or awaited, when another join is creating it); the participant's endpoint
// is added; then the participant is confirmed (joined, or waiting in the lobby) and announced.
// When a step fails, nothing of the join remains: the participant is dropped, its invite is
// pending again, and a session nobody is in is deleted.
//
// Names, tokens and PINs are not logged. Thread-safe when `rooms` and `media` are; several joins
// may run at once (each waits only for its own calls, and for a session another is creating).
class JoinFlow {
 public:
  // `rooms`, `media` and `metrics` (not owned; `metrics` may be null) must outlive the flow;
  // `now` is the rules' clock.
  JoinFlow(RoomSections* rooms, MediaClient* media, ControllerMetrics* metrics,
           std::function<absl::Time()> now, rules::PinPolicy pin_policy, PinMatcher pin_matches)
      : rooms_(rooms),
        media_(media),
        metrics_(metrics),
        now_(std::move(now)),
        pin_policy_(pin_policy),
        pin_matches_(std::move(pin_matches)) {}

  // The participant as it joined, and the node's answer; or why not, with the code the API
  // answers (PERMISSION_DENIED, FAILED_PRECONDITION, RESOURCE_EXHAUSTED for a refusal; NOT_FOUND;
  // UNAVAILABLE when the store or the media failed, or the node's own code; RESOURCE_EXHAUSTED
  // during a PIN lockout, with how long it lasts). A refusal the
  // room's watchers are told about (JoinRejected) sets `*rejected` to its reason.
  absl::StatusOr<Joined> Join(JoinAttempt attempt, chorus::v1::RejectReason* rejected);

  // A keypad caller typed `pin` (the keys before '#'). Checked like a PIN join's (refused during
  // a lockout; a wrong one counts toward it). Right: the caller becomes a participant of the
  // PIN's role, announced, and its endpoint stops prompting and joins the room's media (or its
  // lobby). Wrong: its endpoint hears so and asks again, or, at the caller's third wrong PIN or in
  // a lockout, the caller is ended (a join_rejected event names it) and its endpoint removed.
  enum class KeypadOutcome { kJoined, kWrong, kEnded };
  KeypadOutcome EnterKeypadPin(const std::string& room_name, const std::string& participant_id,
                               const std::string& pin);

  // A SIP role takes a dial-out to place (once): the address to call, the callee's display name,
  // and Chorus's side of the call reserved on the room's node (`transport`: SRTP, or plain RTP
  // where the node allows it). NOT_FOUND when there is no such dial-out waiting to be placed;
  // when the node cannot reserve, the dial-out fails (FAILED) and its error is returned.
  struct DialOutClaim {
    std::string sip_uri;
    std::string display_name;
    chorus::internal::v1::Endpoint offer;
  };
  absl::StatusOr<DialOutClaim> ClaimDialOut(const std::string& room_name,
                                            const std::string& participant_id,
                                            chorus::internal::v1::Transport transport);
  // The callee's phone rings. NOT_FOUND when no such dial-out is being placed.
  absl::Status DialOutRinging(const std::string& room_name, const std::string& participant_id);
  // The callee answered with `answer` (its remote_streams): its endpoint takes the reservation,
  // and it is a participant like any invite's (joined or waiting, announced after an ANSWERED
  // dial_out_progress event). Returns the participant and the channel it is to speak into (the
  // caller sets it). NOT_FOUND; the node's error (the dial-out then fails).
  struct DialOutAnswered {
    chorus::v1::Participant participant;
    std::string speak_language;
  };
  absl::StatusOr<DialOutAnswered> AnswerDialOut(const std::string& room_name,
                                                const std::string& participant_id,
                                                chorus::internal::v1::Endpoint answer);
  // Ends a dial-out not yet answered with `state` (BUSY, NO_ANSWER, REJECTED, FAILED, CANCELLED):
  // announced, its participant dropped, its invite usable again, Chorus's side released. False
  // when there is no such dial-out.
  bool EndDialOut(const std::string& room_name, const std::string& participant_id,
                  chorus::v1::DialOutState state);

 private:
  // The role of the room's PIN that `pin` is; PERMISSION_DENIED when none (counted), or
  // RESOURCE_EXHAUSTED during a lockout.
  absl::StatusOr<chorus::v1::Role> CheckPin(const std::string& room_name, const std::string& pin,
                                            const std::string& source);
  // What follows a participant's confirmation (ConfirmParticipant) in its section: counted, its
  // invite's consent recorded, announced (joined or waiting), logged, and the waiting room
  // admitted when it is a host arriving (those admitted go to `admitted`).
  void Announce(RoomRecord& room, const std::string& participant_id, const std::string& how,
                rules::Events* events,
                std::vector<std::pair<std::string, chorus::internal::v1::Routing>>* admitted);
  // Undoes the reservation after `failure` (see the class comment); returns `failure`.
  absl::Status RollBack(const std::string& room_name, const std::string& room_id,
                        const std::string& participant_id, const std::string& invite_id, int node,
                        absl::Status failure);

  RoomSections* const rooms_;         // not owned
  MediaClient* const media_;          // not owned
  ControllerMetrics* const metrics_;  // not owned
  const std::function<absl::Time()> now_;
  const rules::PinPolicy pin_policy_;
  const PinMatcher pin_matches_;
};

}  // namespace chorus::controller
