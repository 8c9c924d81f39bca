#include "services/controller/join_flow.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pipeline/base/log.h"

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
namespace internal = chorus::internal::v1;

// The answer to a join the rules refused for `reason` (besides the JoinRejected event).
absl::Status Refused(v1::RejectReason reason) {
  switch (reason) {
    case v1::REJECT_REASON_ROOM_LOCKED:
      return absl::FailedPreconditionError("the room is locked");
    case v1::REJECT_REASON_ROOM_FULL:
      return absl::ResourceExhaustedError("the room is full");
    case v1::REJECT_REASON_CONSENT_REQUIRED:
      return absl::FailedPreconditionError(
          "a consultation takes a third participant only with the patient's consent: invite them "
          "with invite.consent_reference");
    default:
      return JoinDenied();  // an invite used, revoked or expired
  }
}

v1::RoomEvent ParticipantEvent(const v1::Participant& participant, bool waiting) {
  v1::RoomEvent event;
  if (waiting) {
    *event.mutable_participant_waiting()->mutable_participant() = participant;
  } else {
    *event.mutable_participant_joined()->mutable_participant() = participant;
  }
  return event;
}

// The dial-out `participant_id` of `room` while it is being placed (pending, not answered), or
// null.
RoomRecord::Member* PlacedDialOut(RoomRecord* room, const std::string& participant_id) {
  if (room == nullptr) return nullptr;
  auto it = room->participants.find(participant_id);
  if (it == room->participants.end() || !it->second.pending ||
      (it->second.dial_out != v1::DIAL_OUT_STATE_CALLING &&
       it->second.dial_out != v1::DIAL_OUT_STATE_RINGING)) {
    return nullptr;
  }
  return &it->second;
}

absl::Status NoDialOut() { return absl::NotFoundError("no dial-out of that name in progress"); }

}  // namespace

absl::Status JoinDenied() {
  // The same words whatever was wrong: a caller learns nothing about which credential failed.
  return absl::PermissionDeniedError("the invite or PIN is not valid for this room");
}

void AssignNode(RoomRecord& room, size_t node, const MediaClient& media) {
  room.node = static_cast<int>(node);
  room.node_address = media.NodeAddress(node);
  room.node_id = media.NodeId(node);
  room.restored = false;
  room.room.set_media_node(room.node_address);
}

void ClearNode(RoomRecord& room) {
  room.node = -1;
  room.node_address.clear();
  room.node_id.clear();
  room.restored = false;
  room.session_ready = false;
  room.room.clear_media_node();
}

void ForgetSession(MediaClient& media, const std::string& room_id, int node) {
  if (node < 0) return;
  absl::Status status = media.DeleteSession(static_cast<size_t>(node), room_id);
  if (!status.ok() && status.code() != absl::StatusCode::kNotFound) {
    base::Log(base::LogLevel::kWarning, "media_delete_failed",
              {{"room", room_id}, {"code", static_cast<int>(status.code())}});
  }
}

absl::StatusOr<v1::Role> JoinFlow::CheckPin(const std::string& room_name, const std::string& pin,
                                            const std::string& source) {
  std::string host_hash;
  std::string guest_hash;
  absl::Status checked = absl::OkStatus();
  (void)rooms_->Update(room_name, [&](RoomRecord* room, const absl::Status& missing,
                                      rules::Events* events) {
    if (room == nullptr) return checked = missing;
    if (!rules::TakesPins(*room)) return checked = JoinDenied();
    const absl::Time now = now_();
    if (std::optional<rules::PinLockout> lockout = rules::ActivePinLockout(*room, source, now)) {
      v1::RoomEvent event;
      event.mutable_join_rejected()->set_reason(v1::REJECT_REASON_PIN_LOCKOUT);
      events->push_back(std::move(event));
      return checked = absl::ResourceExhaustedError(
                 absl::StrCat("too many wrong PINs ",
                              lockout->whole_room ? "for this room" : "from this client address",
                              ": PIN joins are refused for another ",
                              absl::ToInt64Seconds(lockout->until - now) + 1, " s"));
    }
    host_hash = room->host_pin_hash;
    guest_hash = room->guest_pin_hash;
    return absl::OkStatus();
  });
  if (!checked.ok()) return checked;
  // Outside any section: hashing is slow by design.
  if (pin_matches_(host_hash, pin)) return v1::ROLE_HOST;
  if (pin_matches_(guest_hash, pin)) return v1::ROLE_GUEST;
  absl::Status wrong = JoinDenied();
  (void)rooms_->Update(room_name, [&](RoomRecord* room, const absl::Status& missing,
                                      rules::Events* events) {
    if (room == nullptr) return wrong = missing;
    auto lock_out = [&](const char* scope) {
      v1::RoomEvent lockout;
      lockout.mutable_join_rejected()->set_reason(v1::REJECT_REASON_PIN_LOCKOUT);
      events->push_back(std::move(lockout));
      base::Log(base::LogLevel::kWarning, "pin_lockout", {{"room", room->id}, {"scope", scope}});
    };
    v1::RoomEvent event;
    event.mutable_join_rejected()->set_reason(v1::REJECT_REASON_WRONG_PIN);
    events->push_back(std::move(event));
    const rules::WrongPinOutcome outcome =
        rules::RecordWrongPin(*room, source, now_(), pin_policy_);
    if (outcome.source_locked) lock_out("source");
    if (outcome.room_locked) lock_out("room");
    return absl::OkStatus();
  });
  return wrong;
}

absl::StatusOr<Joined> JoinFlow::Join(JoinAttempt attempt, v1::RejectReason* rejected) {
  const std::string& name = attempt.room_name;
  // A keypad caller is reserved as a guest's PIN join would be (its role comes with its PIN).
  if (attempt.keypad) attempt.request.pin_role = v1::ROLE_GUEST;
  if (attempt.pin.has_value()) {
    absl::StatusOr<v1::Role> role = CheckPin(name, *attempt.pin, attempt.source);
    if (!role.ok()) return role.status();
    attempt.request.pin_role = *role;
  }
  // Placement may ask the media nodes for their load (calls): made outside any section, and
  // only when the room has no node yet.
  bool needs_node = false;
  absl::Status found = absl::OkStatus();
  (void)rooms_->Update(name, [&](RoomRecord* room, const absl::Status& missing, rules::Events*) {
    if (room == nullptr) return found = missing;
    if (room->restored) {
      // Its call may still run on its node: placing the room elsewhere would split it.
      return found = absl::UnavailableError(
                 "the room's media node has not answered since the controller started; join "
                 "again in a few seconds");
    }
    needs_node = room->node < 0;
    return absl::OkStatus();
  });
  if (!found.ok()) return found;
  absl::StatusOr<size_t> placement =
      absl::UnavailableError("the room lost its media node while joining; join again");
  if (needs_node) placement = media_->PlaceRoom();

  // 1. Reserve the participant, and keep the reservation (and the invite it used) before any
  // media is set up.
  std::string room_id;
  int node = -1;
  bool create_session = false;
  v1::LayoutPolicy layout_policy;
  std::vector<std::string> room_languages;
  std::string invite_id;
  v1::Participant keypad_participant;
  absl::Status decided = absl::OkStatus();
  absl::Status reserved = rooms_->Update(
      name, [&](RoomRecord* room, const absl::Status& missing, rules::Events* events) {
        if (room == nullptr) return decided = missing;
        if (room->node < 0 && !placement.ok()) {
          // Refused before anything is reserved or consumed (the invite stays usable).
          return decided =
                     absl::Status(placement.status().code() == absl::StatusCode::kResourceExhausted
                                      ? absl::StatusCode::kResourceExhausted
                                      : absl::StatusCode::kUnavailable,
                                  placement.status().message());
        }
        const rules::JoinDecision decision = rules::DecideJoin(*room, attempt.request, now_());
        if (decision.verdict == rules::JoinVerdict::kRefuse) {
          if (decision.reason == v1::REJECT_REASON_UNSPECIFIED) {
            if (metrics_ != nullptr) metrics_->CountUnknownInvite();
            return decided = JoinDenied();
          }
          rules::RecordRefusal(*room, decision);
          // The caller learns the reason too: only a holder of the invite's token gets this far
          // with an invite, and a PIN join learns no more than its message says.
          *rejected = decision.reason;
          v1::RoomEvent event;
          event.mutable_join_rejected()->set_reason(decision.reason);
          event.mutable_join_rejected()->set_invite(rules::DecisionInviteName(*room, decision));
          events->push_back(std::move(event));
          if (decision.reason == v1::REJECT_REASON_INVITE_ALREADY_USED) {
            base::Log(base::LogLevel::kWarning, "invite_reused", {{"room", room->id}});
          }
          return decided = Refused(decision.reason);
        }
        invite_id = decision.invite_id;
        // A callee's channel is checked before anything is reserved (the invite stays usable).
        if (attempt.dial_out && !attempt.dial_out_speak_language.empty()) {
          const v1::LanguagePair pair =
              invite_id.empty() ? v1::LanguagePair()
                                : room->invites.at(invite_id).invite.interpreter_languages();
          absl::Status allowed =
              rules::MaySpeakInto(*room, decision.role, pair, attempt.dial_out_speak_language);
          if (!allowed.ok()) return decided = allowed;
        }
        bool offers_content = false;
        for (const internal::RemoteStream& stream : attempt.endpoint.remote_streams()) {
          offers_content |= stream.kind() == internal::MEDIA_KIND_CONTENT;
        }
        RoomRecord::Member& member = rules::ReserveParticipant(
            *room, decision, attempt.participant_id, offers_content, now_());
        member.session_token_hash = attempt.session_token_hash;
        if (attempt.keypad) {
          rules::MakeKeypadCaller(*room, member, attempt.source);
          keypad_participant = member.participant;
        }
        if (attempt.dial_out) {
          member.dial_out = v1::DIAL_OUT_STATE_CALLING;
          member.dial_out_uri = attempt.dial_out_uri;
          member.dial_out_speak_language = attempt.dial_out_speak_language;
          member.dial_out_video = attempt.dial_out_video;
          keypad_participant = member.participant;
        }
        *attempt.endpoint.mutable_routing() = member.routing;
        room_id = room->id;
        if (room->node < 0) {
          AssignNode(*room, *placement, *media_);
          create_session = true;
        }
        node = room->node;
        room_languages.assign(room->room.languages().begin(), room->room.languages().end());
        layout_policy = room->room.layout_policy();
        return absl::OkStatus();
      });
  if (!decided.ok()) return decided;
  if (!reserved.ok()) return reserved;  // the store did not keep the reservation

  const std::string& participant_id = attempt.participant_id;
  // 2. The room's session.
  if (create_session) {
    absl::Status created =
        media_->CreateSession(static_cast<size_t>(node), room_id, room_languages);
    if (!created.ok()) {
      (void)rooms_->Update(name, [&](RoomRecord* room, const absl::Status&, rules::Events*) {
        if (room != nullptr && room->node == node) ClearNode(*room);
        return absl::OkStatus();
      });
      return RollBack(name, room_id, participant_id, invite_id, node, created);
    }
    (void)rooms_->Update(name, [&](RoomRecord* room, const absl::Status&, rules::Events*) {
      if (room != nullptr && room->node == node) room->session_ready = true;
      return absl::OkStatus();
    });
    (void)media_->SetLayout(static_cast<size_t>(node), room_id, layout_policy);
  } else {
    // Another join of the same moment, through this controller or another one of a shared
    // store, may still be creating the session: look again every 20 ms, for at most 10 s.
    bool ready = false;
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    for (bool settled = false; !settled && absl::Now() < give_up;) {
      (void)rooms_->Update(name, [&](RoomRecord* room, const absl::Status&, rules::Events*) {
        settled = room == nullptr || room->node != node || room->session_ready;
        ready = room != nullptr && room->node == node && room->session_ready;
        return absl::OkStatus();
      });
      if (!settled) absl::SleepFor(absl::Milliseconds(20));
    }
    if (!ready) {
      return RollBack(
          name, room_id, participant_id, invite_id, node,
          absl::UnavailableError("the room's media session could not be set up; join again"));
    }
  }

  // A dial-out's endpoint comes when a SIP role claims the call: announced, for one to take it.
  if (attempt.dial_out) {
    absl::Status announced = absl::OkStatus();
    (void)rooms_->Update(name, [&](RoomRecord* room, const absl::Status&, rules::Events* events) {
      if (PlacedDialOut(room, participant_id) == nullptr) {
        return announced = absl::FailedPreconditionError("the room was closed while dialling");
      }
      events->push_back(rules::DialOutProgress(*room, participant_id, v1::DIAL_OUT_STATE_CALLING));
      return absl::OkStatus();
    });
    if (!announced.ok()) return announced;
    base::Log(base::LogLevel::kInfo, "dial_out", {{"room", room_id}});
    return Joined{std::move(keypad_participant), {}};
  }

  // 3. The participant's endpoint.
  absl::StatusOr<internal::Endpoint> added =
      media_->AddEndpoint(static_cast<size_t>(node), room_id, participant_id, attempt.endpoint);
  if (!added.ok()) {
    return RollBack(name, room_id, participant_id, invite_id, node, added.status());
  }

  // A keypad caller stays reserved while it types its PIN (EnterKeypadPin).
  if (attempt.keypad) {
    base::Log(base::LogLevel::kInfo, "keypad_caller", {{"room", room_id}});
    return Joined{std::move(keypad_participant), *std::move(added)};
  }

  // 4. Confirmed: the participant is in (or waiting), and announced.
  Joined joined;
  std::vector<std::pair<std::string, internal::Routing>> updates;
  absl::Status confirmed = absl::OkStatus();
  (void)rooms_->Update(name, [&](RoomRecord* room, const absl::Status&, rules::Events* events) {
    if (room == nullptr || !room->participants.contains(participant_id)) {
      return confirmed = absl::FailedPreconditionError("the room was closed while joining");
    }
    bool answers_content = false;
    for (const internal::LocalStream& stream : added->local_streams()) {
      answers_content |= stream.kind() == internal::MEDIA_KIND_CONTENT;
    }
    rules::ConfirmParticipant(*room, participant_id, answers_content,
                              !added->webrtc_answer_sdp().empty());
    Announce(*room, participant_id, "api", events, &updates);
    joined.participant = room->participants.at(participant_id).participant;
    return absl::OkStatus();
  });
  if (!confirmed.ok()) return confirmed;
  for (const auto& [id, routing] : updates) {
    (void)media_->UpdateRouting(static_cast<size_t>(node), room_id, id, routing,
                                {"routing.admitted"});
  }
  joined.answer = *std::move(added);
  return joined;
}

JoinFlow::KeypadOutcome JoinFlow::EnterKeypadPin(const std::string& room_name,
                                                 const std::string& participant_id,
                                                 const std::string& pin) {
  // The caller's address (hashed) for the per-address lockout, and that it is still typing.
  std::string source;
  bool typing = false;
  (void)rooms_->Update(room_name, [&](RoomRecord* room, const absl::Status&, rules::Events*) {
    if (room == nullptr) return absl::OkStatus();
    auto it = room->participants.find(participant_id);
    typing = it != room->participants.end() && it->second.pending && it->second.routing.keypad();
    if (typing) source = it->second.keypad_source;
    return absl::OkStatus();
  });
  if (!typing) return KeypadOutcome::kEnded;
  absl::StatusOr<v1::Role> role = CheckPin(room_name, pin, source);
  if (!role.ok() && role.status().code() == absl::StatusCode::kUnavailable) {
    return KeypadOutcome::kWrong;  // the store did not answer: the caller types again
  }
  std::string room_id;
  int node = -1;
  KeypadOutcome outcome = KeypadOutcome::kEnded;
  internal::Routing routing;
  std::vector<std::pair<std::string, internal::Routing>> admitted_on_arrival;
  (void)rooms_->Update(
      room_name, [&](RoomRecord* room, const absl::Status&, rules::Events* events) {
        if (room == nullptr) return absl::OkStatus();
        auto it = room->participants.find(participant_id);
        if (it == room->participants.end() || !it->second.pending || !it->second.routing.keypad()) {
          return absl::OkStatus();
        }
        room_id = room->id;
        node = room->node;
        auto end = [&](v1::RejectReason reason) {
          rules::RemoveParticipant(*room, participant_id, now_());
          events->push_back(rules::KeypadCallerEnded(*room, participant_id, reason));
          base::Log(base::LogLevel::kInfo, "keypad_caller_ended",
                    {{"room", room->id}, {"reason", v1::RejectReason_Name(reason)}});
          outcome = KeypadOutcome::kEnded;
        };
        if (!role.ok()) {
          if (role.status().code() == absl::StatusCode::kResourceExhausted) {
            end(v1::REJECT_REASON_PIN_LOCKOUT);
          } else if (rules::KeypadPinWrong(it->second)) {
            end(v1::REJECT_REASON_WRONG_PIN);
          } else {
            routing = it->second.routing;
            outcome = KeypadOutcome::kWrong;
          }
          return absl::OkStatus();
        }
        const rules::JoinDecision decision =
            rules::ConfirmKeypadCaller(*room, participant_id, *role, now_());
        if (decision.verdict == rules::JoinVerdict::kRefuse) {
          end(decision.reason);
          return absl::OkStatus();
        }
        rules::ConfirmParticipant(*room, participant_id, false, false);
        Announce(*room, participant_id, "keypad", events, &admitted_on_arrival);
        routing = room->participants.at(participant_id).routing;
        outcome = KeypadOutcome::kJoined;
        return absl::OkStatus();
      });
  if (node < 0) return outcome;
  if (outcome == KeypadOutcome::kEnded) {
    (void)media_->RemoveEndpoint(static_cast<size_t>(node), room_id, participant_id);
    return outcome;
  }
  // The whole routing: a prompt set again is played again.
  (void)media_->UpdateRouting(static_cast<size_t>(node), room_id, participant_id, routing,
                              {"routing"});
  for (const auto& [id, admitted] : admitted_on_arrival) {
    (void)media_->UpdateRouting(static_cast<size_t>(node), room_id, id, admitted,
                                {"routing.admitted"});
  }
  return outcome;
}

void JoinFlow::Announce(RoomRecord& room, const std::string& participant_id, const std::string& how,
                        rules::Events* events,
                        std::vector<std::pair<std::string, internal::Routing>>* admitted) {
  const RoomRecord::Member& member = room.participants.at(participant_id);
  if (metrics_ != nullptr) metrics_->CountJoin(member.participant.role());
  if (auto invite = room.invites.find(rules::InviteOf(room, participant_id));
      invite != room.invites.end() && !invite->second.invite.consent_reference().empty()) {
    v1::RoomEvent consent;
    consent.mutable_consent_recorded()->set_participant(member.participant.name());
    consent.mutable_consent_recorded()->set_invite(invite->second.invite.name());
    events->push_back(std::move(consent));
  }
  const bool waiting = member.participant.state() == v1::PARTICIPANT_STATE_WAITING;
  events->push_back(ParticipantEvent(member.participant, waiting));
  base::Log(base::LogLevel::kInfo, "participant_joined",
            {{"room", room.id},
             {"participant", participant_id},
             {"role", v1::Role_Name(member.participant.role())},
             {"waiting", waiting},
             {"via", how}});
  // A host's arrival admits the waiting room (HOST_PIN rooms without a lobby).
  for (const std::string& id : rules::AdmitOnHostArrival(room)) {
    const v1::Participant& participant = room.participants.at(id).participant;
    if (metrics_ != nullptr) {
      metrics_->ObserveLobbyWait(now_() - rules::FromTimestamp(participant.join_time()));
    }
    v1::RoomEvent event;
    *event.mutable_participant_admitted()->mutable_participant() = participant;
    events->push_back(std::move(event));
    admitted->emplace_back(id, room.participants.at(id).routing);
  }
}

absl::StatusOr<JoinFlow::DialOutClaim> JoinFlow::ClaimDialOut(const std::string& room_name,
                                                              const std::string& participant_id,
                                                              internal::Transport transport) {
  DialOutClaim claim;
  std::string room_id;
  int node = -1;
  bool video = false;
  absl::Status claimed = NoDialOut();
  (void)rooms_->Update(room_name, [&](RoomRecord* room, const absl::Status&, rules::Events*) {
    RoomRecord::Member* member = PlacedDialOut(room, participant_id);
    if (member == nullptr || member->dial_out_uri.empty() || room->node < 0) {
      return absl::OkStatus();
    }
    // Taken once: the address is not kept past this.
    claim.sip_uri = std::move(member->dial_out_uri);
    member->dial_out_uri.clear();
    claim.display_name = member->participant.display_name();
    video = member->dial_out_video;
    room_id = room->id;
    node = room->node;
    return claimed = absl::OkStatus();
  });
  if (!claimed.ok()) return claimed;
  internal::Endpoint offer;
  offer.set_transport(transport);
  offer.set_offer_first(true);
  offer.set_offer_video(video);
  absl::StatusOr<internal::Endpoint> reserved =
      media_->AddEndpoint(static_cast<size_t>(node), room_id, participant_id, offer);
  if (!reserved.ok()) {
    EndDialOut(room_name, participant_id, v1::DIAL_OUT_STATE_FAILED);
    return reserved.status();
  }
  claim.offer = *std::move(reserved);
  return claim;
}

absl::Status JoinFlow::DialOutRinging(const std::string& room_name,
                                      const std::string& participant_id) {
  absl::Status found = NoDialOut();
  (void)rooms_->Update(room_name, [&](RoomRecord* room, const absl::Status&,
                                      rules::Events* events) {
    RoomRecord::Member* member = PlacedDialOut(room, participant_id);
    if (member == nullptr || !member->dial_out_uri.empty()) return absl::OkStatus();
    if (member->dial_out != v1::DIAL_OUT_STATE_RINGING) {
      member->dial_out = v1::DIAL_OUT_STATE_RINGING;
      events->push_back(rules::DialOutProgress(*room, participant_id, v1::DIAL_OUT_STATE_RINGING));
    }
    return found = absl::OkStatus();
  });
  return found;
}

absl::StatusOr<JoinFlow::DialOutAnswered> JoinFlow::AnswerDialOut(const std::string& room_name,
                                                                  const std::string& participant_id,
                                                                  internal::Endpoint answer) {
  std::string room_id;
  int node = -1;
  absl::Status found = NoDialOut();
  (void)rooms_->Update(room_name, [&](RoomRecord* room, const absl::Status&, rules::Events*) {
    RoomRecord::Member* member = PlacedDialOut(room, participant_id);
    if (member == nullptr || !member->dial_out_uri.empty() || room->node < 0) {
      return absl::OkStatus();
    }
    *answer.mutable_routing() = member->routing;
    room_id = room->id;
    node = room->node;
    return found = absl::OkStatus();
  });
  if (!found.ok()) return found;
  absl::StatusOr<internal::Endpoint> added =
      media_->AddEndpoint(static_cast<size_t>(node), room_id, participant_id, answer);
  if (!added.ok()) {
    EndDialOut(room_name, participant_id, v1::DIAL_OUT_STATE_FAILED);
    return added.status();
  }
  DialOutAnswered answered;
  std::vector<std::pair<std::string, internal::Routing>> updates;
  absl::Status confirmed = NoDialOut();
  (void)rooms_->Update(room_name, [&](RoomRecord* room, const absl::Status&,
                                      rules::Events* events) {
    RoomRecord::Member* member = PlacedDialOut(room, participant_id);
    if (member == nullptr) return absl::OkStatus();
    member->dial_out = v1::DIAL_OUT_STATE_ANSWERED;
    answered.speak_language = std::move(member->dial_out_speak_language);
    member->dial_out_speak_language.clear();
    events->push_back(rules::DialOutProgress(*room, participant_id, v1::DIAL_OUT_STATE_ANSWERED));
    rules::ConfirmParticipant(*room, participant_id, false, false);
    Announce(*room, participant_id, "dial_out", events, &updates);
    answered.participant = room->participants.at(participant_id).participant;
    return confirmed = absl::OkStatus();
  });
  if (!confirmed.ok()) {
    // Ended meanwhile (removed, the room closed): its endpoint goes too.
    (void)media_->RemoveEndpoint(static_cast<size_t>(node), room_id, participant_id);
    return confirmed;
  }
  for (const auto& [id, routing] : updates) {
    (void)media_->UpdateRouting(static_cast<size_t>(node), room_id, id, routing,
                                {"routing.admitted"});
  }
  return answered;
}

bool JoinFlow::EndDialOut(const std::string& room_name, const std::string& participant_id,
                          v1::DialOutState state) {
  std::string room_id;
  std::string invite_id;
  int node = -1;
  bool ended = false;
  (void)rooms_->Update(room_name,
                       [&](RoomRecord* room, const absl::Status&, rules::Events* events) {
                         if (PlacedDialOut(room, participant_id) == nullptr)
                           return absl::OkStatus();
                         invite_id = rules::InviteOf(*room, participant_id);
                         events->push_back(rules::DialOutProgress(*room, participant_id, state));
                         base::Log(base::LogLevel::kInfo, "dial_out_ended",
                                   {{"room", room->id}, {"state", v1::DialOutState_Name(state)}});
                         room_id = room->id;
                         node = room->node;
                         ended = true;
                         return absl::OkStatus();
                       });
  if (!ended) return false;
  if (node >= 0) (void)media_->RemoveEndpoint(static_cast<size_t>(node), room_id, participant_id);
  (void)RollBack(room_name, room_id, participant_id, invite_id, node, absl::OkStatus());
  return true;
}

absl::Status JoinFlow::RollBack(const std::string& room_name, const std::string& room_id,
                                const std::string& participant_id, const std::string& invite_id,
                                int node, absl::Status failure) {
  // A failed join leaves nothing behind: not the participant, not a used invite, and not a
  // media session that nobody is in (which would hold a drain and freeze the room's languages).
  bool forget_session = false;
  (void)rooms_->Update(
      room_name, [&](RoomRecord* room, const absl::Status&, rules::Events* events) {
        if (room == nullptr) return absl::OkStatus();
        if (rules::RemoveParticipant(*room, participant_id, now_())) {
          v1::RoomEvent left;
          left.mutable_participant_left()->set_participant(room->ParticipantName(participant_id));
          left.mutable_participant_left()->set_reason(v1::LEAVE_REASON_UNSPECIFIED);
          events->push_back(std::move(left));
        }
        if (!invite_id.empty()) rules::ReopenInvite(*room, invite_id);
        if (room->participants.empty() && room->node == node && room->node >= 0) {
          ClearNode(*room);
          forget_session = true;
        }
        return absl::OkStatus();
      });
  if (forget_session) ForgetSession(*media_, room_id, node);
  return failure;
}

}  // namespace chorus::controller
