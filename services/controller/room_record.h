#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "chorus/v1/media_node.pb.h"
#include "chorus/v1/rooms.pb.h"

namespace chorus::controller {

inline constexpr char kRoomsPrefix[] = "rooms/";

// Everything the controller knows about one room: its public description, PIN hashes, invites
// (token hashes only), participants with their routing, the PIN-lockout window, recent events
// for resuming watchers, and which media node carries it. Plain data: the rules that read and
// change it live in room_rules.h. Watch streams are not part of it (they belong to the process
// serving them).
struct RoomRecord {
  std::string id;
  chorus::v1::Room room;
  std::string host_pin_hash;
  std::string guest_pin_hash;
  struct Invite {
    chorus::v1::Invite invite;
    std::string token_hash;
  };
  std::map<std::string, Invite> invites;  // by invite id
  std::vector<std::string> invite_order;
  struct Member {
    chorus::v1::Participant participant;
    chorus::internal::v1::Routing routing;
    bool pending = true;             // reserved, media not yet set up
    bool has_content = false;        // offered a content stream (screen sharing)
    bool webrtc = false;             // joined over WebRTC (UpdateMedia renegotiates it)
    std::string session_token_hash;  // SHA-256 of its session token (ResumeSession)
    // A telephone caller typing the PIN (pending, routing.keypad): its wrong PINs so far, and
    // the SHA-256 of its client address for the per-address lockout.
    int keypad_attempts = 0;
    std::string keypad_source;
    // A callee of DialOut (pending until answered): how its call goes (UNSPECIFIED: not a
    // dial-out), the channel it speaks into once answered, and the SIP address to call (until a
    // SIP role claims the call; then cleared).
    chorus::v1::DialOutState dial_out = chorus::v1::DIAL_OUT_STATE_UNSPECIFIED;
    std::string dial_out_speak_language;
    std::string dial_out_uri;
    bool dial_out_video = false;  // video offered too
  };
  std::map<std::string, Member> participants;  // by participant id
  std::vector<std::string> participant_order;
  int next_guest = 1;
  int64_t next_sequence = 1;
  std::deque<chorus::v1::RoomEvent> history;
  // Wrong PINs from anyone (the room-wide limit), and per client address (by SHA-256 of the
  // address the platform passed; never the address itself).
  std::deque<absl::Time> wrong_pins;
  absl::Time pin_locked_until = absl::InfinitePast();
  struct PinSource {
    std::deque<absl::Time> wrong_pins;
    absl::Time locked_until = absl::InfinitePast();
  };
  std::map<std::string, PinSource> pin_sources;
  int node = -1;  // media node index in this process's MediaNodes; -1 until the first join
  // The same node by what outlives the process (kept with the participants): its address and
  // the node id of its load reports. Set and cleared with `node`.
  std::string node_address;
  std::string node_id;
  // The participants and the node came back from the store and the node has not been asked yet
  // whether it still runs their media (RoomsService reconciles; `node` is -1 until then).
  bool restored = false;
  bool session_ready = false;
  bool ever_joined = false;
  // Since when nobody is in the room (creation, or the last participant leaving). The idle
  // timeout counts from it only once the room has been joined (ever_joined).
  absl::Time empty_since;
  // The speakers last reported per channel ("" = the floor), as participant names.
  std::map<std::string, std::vector<std::string>> speakers;

  bool lobby() const;
  bool host_present() const;
  // Waiting participants are admitted when a host is in (AdmissionPolicy HOST_ARRIVES, or its
  // default for HOST_PIN rooms without an explicit lobby).
  bool admits_on_host_arrival() const;
  std::string ParticipantName(const std::string& participant) const {
    return absl::StrCat(kRoomsPrefix, id, "/participants/", participant);
  }
};

}  // namespace chorus::controller
