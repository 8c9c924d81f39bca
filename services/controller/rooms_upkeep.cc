#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "pipeline/base/log.h"
#include "services/controller/rooms_service.h"

// RoomsService's background work, apart from its gRPC handlers: the sweep (rooms past their end
// or idle, joins a stopped controller left half done, restored calls whose node stayed silent),
// the retention purge, the speakers and media timeouts polled from the nodes, a failed node's
// rooms, and the reconciliation with every node after a (re)start. Each step is a locked section
// over the store like a handler's; media-node calls are made outside it.
namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;
namespace internal = chorus::internal::v1;
using rules::RoomEnd;

// A join reserves its participant, sets up its media (each call to the node waits at most 3 s),
// then confirms. A reservation this old was left by a controller that stopped in between.
constexpr absl::Duration kStaleReservation = absl::Minutes(2);
// A dial-out no SIP role took within this is failed (none is running, or none reaches us).
constexpr absl::Duration kUnclaimedDialOut = absl::Seconds(15);

}  // namespace

void RoomsService::Sweep() {
  std::vector<std::unique_ptr<Room>> closed;
  std::vector<std::pair<std::string, std::string>> unclaimed;  // dial-outs: room name, id
  {
    Locked lock(this);
    // Several controllers on one store: one of them at a time does the housekeeping.
    if (!store_->LeadsBackgroundWork()) return;
    const absl::Time now = options_.now();
    closed = TakeExpired(now);
    auto idle = [&](const Room& room) {
      return rules::IdleExpired(room, now, options_.default_idle_timeout);
    };
    std::vector<std::string> candidates;
    ForEachRoom([&](const Room& room) {
      if (idle(room)) candidates.push_back(room.id);
    });
    for (const std::string& id : candidates) {
      // Found again (a shared store locks it, and reads it again if it changed meanwhile).
      const Room* room = LoadRoom(id);
      if (room != nullptr && idle(*room)) closed.push_back(TakeRoom(id, CloseReason::kIdle));
    }
    // Joins a controller left half done (it died between reserving and confirming): their
    // participants go, their invites work again.
    const absl::Time stale = now - kStaleReservation;
    std::vector<std::string> reserved;
    ForEachRoom([&](const Room& room) {
      if (rules::HasStaleReservations(room, stale)) reserved.push_back(room.id);
    });
    for (const std::string& id : reserved) {
      Room* room = LoadRoom(id);  // as it is now; written back at the end
      if (room == nullptr) continue;
      // A telephone caller that typed no right PIN in time, or a dial-out still unanswered, is
      // told (its SIP call ends).
      for (const auto& [participant, member] : room->participants) {
        if (!member.pending || rules::FromTimestamp(member.participant.join_time()) >= stale) {
          continue;
        }
        if (member.routing.keypad()) {
          Publish(*room,
                  rules::KeypadCallerEnded(*room, participant, v1::REJECT_REASON_PIN_NOT_ENTERED));
        } else if (member.dial_out != v1::DIAL_OUT_STATE_UNSPECIFIED) {
          Publish(*room, rules::DialOutProgress(*room, participant, v1::DIAL_OUT_STATE_FAILED));
        }
      }
      const std::vector<std::string> dropped = rules::DropStaleReservations(*room, stale, now);
      if (!dropped.empty()) {
        base::Log(base::LogLevel::kWarning, "stale_reservations_dropped",
                  {{"room", id}, {"participants", static_cast<int64_t>(dropped.size())}});
      }
    }
    ForEachRoom([&](const Room& room) {
      for (const auto& [participant, member] : room.participants) {
        if (member.pending && member.dial_out == v1::DIAL_OUT_STATE_CALLING &&
            !member.dial_out_uri.empty() &&
            rules::FromTimestamp(member.participant.join_time()) < now - kUnclaimedDialOut) {
          unclaimed.emplace_back(room.room.name(), participant);
        }
      }
    });
    // Calls that came back from the store on a node that has not answered since the start: the
    // node is gone (or no longer configured); their participants may join again elsewhere.
    if (now - started_ >= options_.restore_wait) {
      std::vector<std::string> restored;
      ForEachRoom([&](const Room& room) {
        if (room.restored) restored.push_back(room.id);
      });
      for (const std::string& id : restored) {
        Room* room = LoadRoom(id);  // as it is now (another controller may have changed it)
        if (room == nullptr || !room->restored) continue;
        base::Log(base::LogLevel::kWarning, "restored_room_node_silent", {{"room", room->id}});
        LoseMedia(*room);
      }
    }
  }
  for (const auto& room : closed) EndRoomMedia(*room);
  for (const auto& [room_name, participant] : unclaimed) {
    if (join_flow_->EndDialOut(room_name, participant, v1::DIAL_OUT_STATE_FAILED)) {
      base::Log(base::LogLevel::kWarning, "dial_out_unclaimed", {});
    }
  }
  PollSpeakers();
}

std::vector<std::unique_ptr<RoomsService::Room>> RoomsService::TakeExpired(absl::Time now) {
  std::vector<std::string> expired;
  ForEachRoom([&](const Room& room) {
    if (now >= RoomEnd(room.room)) expired.push_back(room.id);
  });
  std::vector<std::unique_ptr<Room>> closed;
  for (const std::string& id : expired) {
    const Room* room = LoadRoom(id);  // as it is now (another controller may have changed it)
    if (room != nullptr && now >= RoomEnd(room->room)) {
      closed.push_back(TakeRoom(id, CloseReason::kExpired));
    }
  }
  return closed;
}

int RoomsService::Purge() {
  std::vector<std::unique_ptr<Room>> closed;
  absl::StatusOr<int> deleted = 0;
  {
    Locked lock(this);
    if (!store_->LeadsBackgroundWork()) return 0;
    closed = TakeExpired(options_.now());
    PutBack();  // the store purges what it does not hold
    deleted = store_->Purge();
  }
  for (const auto& room : closed) EndRoomMedia(*room);
  if (!deleted.ok()) {
    base::Log(base::LogLevel::kError, "retention_purge_failed",
              {{"rooms_closed", static_cast<int64_t>(closed.size())},
               {"error", std::string(deleted.status().message())}});
  } else if (!closed.empty() || *deleted > 0) {
    base::Log(base::LogLevel::kInfo, "retention_purge",
              {{"rooms_closed", static_cast<int64_t>(closed.size())},
               {"stored_rooms_deleted", static_cast<int64_t>(*deleted)}});
  }
  return static_cast<int>(closed.size());
}

void RoomsService::PollSpeakers() {
  if (media_ == nullptr) return;
  std::vector<std::pair<std::string, int>> active;
  {
    Locked lock(this);
    if (!store_->LeadsBackgroundWork()) return;
    ForEachRoom([&](const Room& room) {
      if (room.node >= 0 && !room.participants.empty()) active.emplace_back(room.id, room.node);
    });
  }
  for (const auto& [id, node] : active) {
    absl::StatusOr<internal::SessionStats> stats =
        client_->GetSessionStats(static_cast<size_t>(node), id);
    if (!stats.ok()) continue;
    std::vector<Departure> departures;
    std::vector<std::string> unknown;
    std::vector<std::pair<std::string, std::string>> pins;  // keypad callers' PINs: id, PIN
    {
      Locked lock(this);
      Room* found = LoadRoom(id);
      if (found == nullptr) continue;
      Room& room = *found;
      std::set<std::string> speaking;
      for (const auto& [language, list] : stats->speakers()) {
        std::vector<std::string> names;
        for (const std::string& endpoint : list.endpoints()) {
          const std::string participant = endpoint.substr(endpoint.rfind('/') + 1);
          if (!room.participants.contains(participant)) continue;
          names.push_back(room.ParticipantName(participant));
          speaking.insert(participant);
        }
        if (room.speakers[language] == names) continue;
        room.speakers[language] = names;
        v1::RoomEvent event;
        event.mutable_speakers_changed()->set_language(language);
        for (const std::string& name : names)
          event.mutable_speakers_changed()->add_participants(name);
        Publish(room, std::move(event));
      }
      for (auto& [participant, member] : room.participants) {
        member.participant.set_speaking(speaking.contains(participant));
      }
      // Nothing reaches a room's media that is not in its roster: an endpoint of the session that
      // belongs to no participant (pending joins included) is removed. And a participant whose
      // media stopped for the media timeout leaves.
      std::vector<std::string> silent;
      for (const internal::EndpointStats& endpoint : stats->endpoints()) {
        const std::string participant =
            endpoint.endpoint().substr(endpoint.endpoint().rfind('/') + 1);
        auto member = room.participants.find(participant);
        if (member != room.participants.end() && member->second.pending &&
            member->second.routing.keypad()) {
          std::optional<std::string> pin =
              TakeKeypadKeys(room.ParticipantName(participant), endpoint.keypad_digits(),
                             endpoint.keypad_presses());
          if (pin.has_value()) pins.emplace_back(participant, *std::move(pin));
        }
        if (member == room.participants.end()) {
          unknown.push_back(endpoint.endpoint());
        } else if (!member->second.pending &&
                   absl::Seconds(endpoint.seconds_since_media()) > options_.media_timeout) {
          silent.push_back(participant);
        }
      }
      for (const std::string& participant : silent) {
        base::Log(base::LogLevel::kInfo, "participant_media_timeout",
                  {{"room", id}, {"participant", participant}});
        departures.push_back(Depart(room, participant, v1::LEAVE_REASON_MEDIA_TIMEOUT));
        if (departures.back().closed) break;  // a one-time room ended with it
      }
    }
    for (Departure& departure : departures) Apply(departure);
    RemoveUnknownEndpoints(id, node, unknown);
    // Outside every section: a PIN is checked slowly by design.
    for (const auto& [participant, pin] : pins) {
      (void)join_flow_->EnterKeypadPin(absl::StrCat(kRoomsPrefix, id), participant, pin);
    }
  }
  ForgetKeypadKeys();
}

std::optional<std::string> RoomsService::TakeKeypadKeys(const std::string& participant,
                                                        const std::string& digits,
                                                        uint64_t presses) {
  KeypadKeys& keys = keypad_keys_[participant];
  keys.seen_this_poll = true;
  // The node keeps the last keys pressed; those after the ones taken before are new (all of
  // them, the first time).
  const uint64_t fresh = presses - std::min(presses, keys.presses);
  keys.presses = presses;
  std::optional<std::string> pin;
  const size_t from = digits.size() - static_cast<size_t>(std::min<uint64_t>(digits.size(), fresh));
  for (size_t i = from; i < digits.size(); ++i) {
    std::optional<std::string> entered = keys.entry.Press(digits[i]);
    if (entered.has_value()) pin = std::move(entered);  // the last complete entry of this poll
  }
  return pin;
}

void RoomsService::ForgetKeypadKeys() {
  // Callers no longer typing (joined, ended, or on a room no longer polled) are forgotten.
  for (auto it = keypad_keys_.begin(); it != keypad_keys_.end();) {
    if (!it->second.seen_this_poll) {
      it = keypad_keys_.erase(it);
    } else {
      it->second.seen_this_poll = false;
      ++it;
    }
  }
}

void RoomsService::RemoveUnknownEndpoints(const std::string& room_id, int node,
                                          const std::vector<std::string>& endpoints) {
  if (media_ == nullptr || node < 0) return;
  for (const std::string& endpoint : endpoints) {
    if (client_->RemoveEndpointNamed(static_cast<size_t>(node), endpoint).ok()) {
      unknown_endpoints_removed_.fetch_add(1);
      base::Log(base::LogLevel::kWarning, "unknown_endpoint_removed", {{"room", room_id}});
    }
  }
}

void RoomsService::OnNodeFailed(size_t node) {
  Locked lock(this);
  std::vector<std::string> on_node;
  ForEachRoom([&](const Room& room) {
    if (room.node == static_cast<int>(node)) on_node.push_back(room.id);
  });
  for (const std::string& id : on_node) {
    Room* room = LoadRoom(id);  // as it is now (another controller may have changed it)
    if (room == nullptr || room->node != static_cast<int>(node)) continue;
    LoseMedia(*room);
  }
}

void RoomsService::LoseMedia(Room& room) {
  v1::RoomEvent event;
  event.mutable_media_node_failed()->set_media_node(room.room.media_node());
  Publish(room, std::move(event));
  std::vector<std::string> ids = room.participant_order;
  for (const std::string& participant : ids) {
    DropParticipant(room, participant, v1::LEAVE_REASON_NODE_FAILED);
  }
  ClearNode(room);
  base::Log(base::LogLevel::kWarning, "room_media_lost", {{"room", room.id}});
}

size_t RoomsService::ReconcileNodes() {
  if (media_ == nullptr) return 0;
  // The nodes' ids come with their load reports: a room is found again by its node's id when
  // the node's address changed.
  media_->RefreshNow();
  size_t answered = 0;
  const size_t count = media_->size();
  for (size_t node = 0; node < count; ++node) answered += ReconcileNode(node) ? 1 : 0;
  return answered;
}

bool RoomsService::ReconcileNode(size_t node) {
  if (media_ == nullptr || node >= media_->size()) return false;
  absl::StatusOr<internal::ListSessionsResponse> listed = client_->ListSessions(node);
  if (!listed.ok()) {
    base::Log(
        base::LogLevel::kWarning, "reconcile_failed",
        {{"node", media_->address(node)}, {"code", static_cast<int>(listed.status().code())}});
    return false;
  }
  const std::string address = media_->address(node);
  const std::string node_id = media_->node_id(node);
  // The node's sessions by room id (a session is named after its room).
  std::map<std::string, const internal::SessionListing*> sessions;
  for (const internal::SessionListing& listing : listed->sessions()) {
    const std::string& name = listing.session().name();
    if (absl::StartsWith(name, "sessions/")) sessions[name.substr(9)] = &listing;
  }
  struct Resend {
    std::string room_id;
    std::string participant;
    internal::Routing routing;
  };
  std::vector<Resend> resend;
  std::vector<std::pair<std::string, v1::LayoutPolicy>> layouts;
  std::vector<Departure> departures;
  std::vector<std::pair<std::string, std::vector<std::string>>> unknown;  // by room
  std::vector<std::string> orphans;
  int64_t restored_rooms = 0;
  int64_t lost_rooms = 0;
  {
    Locked lock(this);
    // 1. The calls that came back from the store and belong on this node.
    auto here = [&](const Room& room) {
      return room.restored && media_->Locate(room.node_address, room.node_id) == node;
    };
    std::vector<std::string> restored;
    ForEachRoom([&](const Room& room) {
      if (here(room)) restored.push_back(room.id);
    });
    for (const std::string& id : restored) {
      Room* room = LoadRoom(id);  // as it is now (another controller may have changed it)
      if (room == nullptr || !here(*room)) continue;
      auto session = sessions.find(room->id);
      if (session == sessions.end()) {
        // The node no longer runs the call (it restarted too, or it is the media node of a
        // `chorusd all` that stopped).
        ++lost_rooms;
        LoseMedia(*room);
        continue;
      }
      AssignNode(*room, node, *client_);
      room->session_ready = true;
      ++restored_rooms;
      layouts.emplace_back(room->id, room->room.layout_policy());
      std::map<std::string, const internal::Endpoint*> endpoints;
      for (const internal::Endpoint& endpoint : session->second->endpoints()) {
        endpoints[endpoint.name().substr(endpoint.name().rfind('/') + 1)] = &endpoint;
      }
      std::vector<std::string> gone;
      for (const std::string& id : room->participant_order) {
        auto endpoint = endpoints.find(id);
        if (endpoint == endpoints.end()) {
          gone.push_back(id);
        } else if (endpoint->second->routing().SerializeAsString() !=
                   room->participants.at(id).routing.SerializeAsString()) {
          // A change the old controller kept but did not get to send.
          resend.push_back({room->id, id, room->participants.at(id).routing});
        }
      }
      base::Log(base::LogLevel::kInfo, "room_call_restored",
                {{"room", room->id},
                 {"participants", static_cast<int64_t>(room->participants.size() - gone.size())},
                 {"participants_lost", static_cast<int64_t>(gone.size())}});
      for (const std::string& id : gone) {
        departures.push_back(Depart(*room, id, v1::LEAVE_REASON_NODE_FAILED));
        if (departures.back().closed) break;  // a one-time room ended with it
      }
    }
    // 2. What runs on the node that nobody owns: sessions of no room on this node, endpoints of
    // no participant (a join that was setting up its media when the old controller stopped).
    for (const auto& [room_id, listing] : sessions) {
      Room* room = LoadRoom(room_id);
      if (room == nullptr || room->node != static_cast<int>(node)) {
        orphans.push_back(room_id);
        continue;
      }
      std::vector<std::string> strangers;
      for (const internal::Endpoint& endpoint : listing->endpoints()) {
        const std::string id = endpoint.name().substr(endpoint.name().rfind('/') + 1);
        if (!room->participants.contains(id)) strangers.push_back(endpoint.name());
      }
      if (!strangers.empty()) unknown.emplace_back(room_id, std::move(strangers));
    }
  }
  for (Departure& departure : departures) Apply(departure);
  for (const auto& [room_id, policy] : layouts) {
    (void)ApplyLayout(room_id, static_cast<int>(node), policy);
  }
  for (const Resend& r : resend) {
    (void)ApplyRouting(r.room_id, static_cast<int>(node), r.participant, r.routing, {"routing"});
  }
  for (const auto& [room_id, endpoints] : unknown) {
    RemoveUnknownEndpoints(room_id, static_cast<int>(node), endpoints);
  }
  for (const std::string& session : orphans) {
    if (client_->DeleteSession(node, session).ok()) {
      orphan_sessions_deleted_.fetch_add(1);
      // No name of the session: it belongs to no room this controller knows.
      base::Log(base::LogLevel::kWarning, "orphan_session_deleted", {{"node", address}});
    }
  }
  base::Log(base::LogLevel::kInfo, "media_node_reconciled",
            {{"node", address},
             {"node_id", node_id},
             {"sessions", static_cast<int64_t>(sessions.size())},
             {"calls_restored", restored_rooms},
             {"calls_lost", lost_rooms},
             {"orphan_sessions", static_cast<int64_t>(orphans.size())}});
  return true;
}

}  // namespace chorus::controller
