#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chorus/v1/rooms.pb.h"
#include "prometheus/registry.h"

// The SIP role (`chorusd sip`): signalling only. A SIP call to a room's dial-in id becomes a join
// through the controller's public API, as any platform would make it; the caller's media then
// flows to and from the media node as for any RTP endpoint. The SIP stack is sofia-sip (Debian's
// libsofia-sip-ua: a complete, long-used RFC 3261 stack with its own SDP parser and TLS
// transport), so no SIP or SDP is parsed here.
namespace chorus::sip {

// What the gateway asks of the controller: a platform's calls.
class Rooms {
 public:
  virtual ~Rooms() = default;
  virtual absl::StatusOr<chorus::v1::JoinRoomResponse> Join(
      const chorus::v1::JoinRoomRequest& request) = 0;
  // "rooms/{room}/participants/{participant}" leaves.
  virtual absl::Status Leave(const std::string& participant) = 0;
  // A room system asked for a keyframe of the video it receives (SIP INFO, RFC 5168).
  virtual absl::Status RequestKeyframe(const std::string& participant) = 0;
  // A room system's streams as they are now (a re-INVITE): its content stream starts or stops;
  // every stream's answer.
  virtual absl::StatusOr<chorus::v1::RtpAnswer> UpdateMedia(const std::string& participant,
                                                            const chorus::v1::RtpOffer& offer) = 0;
  // Shows the participant's content large (it presents) or stops.
  virtual absl::Status SetContentSharing(const std::string& participant, bool enabled) = 0;
  // A keypad caller's PIN, typed as SIP INFO key presses up to '#'.
  virtual absl::Status SubmitKeypadPin(const std::string& participant, const std::string& pin) = 0;
  // A call to place (DialOut), taken once: the SIP address and Chorus's side of the call.
  virtual absl::StatusOr<chorus::v1::ClaimDialOutResponse> ClaimDialOut(
      const std::string& participant, chorus::v1::Transport transport) = 0;
  // How a call this role places goes: RINGING, ANSWERED (with the callee's media), or its end.
  virtual absl::Status ReportDialOut(const std::string& participant, chorus::v1::DialOutState state,
                                     const chorus::v1::RtpOffer& answer) = 0;
  // Whether the participant is in its room (joined or waiting); false when the controller says
  // NOT_FOUND, true otherwise (an error is no proof it left).
  virtual bool InRoom(const std::string& participant) = 0;
  // Calls `left` with the name of every participant that leaves any room (removed by a host,
  // denied, the room closed, its media node failed...), and `dial_out` with every dial-out's
  // progress (CALLING: one to place), from now on, until StopWatching(); reconnects and resumes
  // where it was when the stream breaks. When it cannot resume (the controller restarted with a
  // store that keeps no events, or lost the resume point), events may have been missed: it calls
  // `lost` and goes on from then. All run on a thread of the watch.
  virtual void WatchDepartures(
      std::function<void(const std::string& participant)> left,
      std::function<void(const std::string& participant, chorus::v1::DialOutState state)> dial_out,
      std::function<void()> lost) = 0;
  virtual void StopWatching() = 0;
};

struct GatewayOptions {
  // Where SIP is taken: "sip:<address>:<port>" (UDP and TCP); empty: none.
  std::string listen_url;
  // SIP over TLS: "sips:<address>:<port>" and a folder holding agent.pem (certificate chain and
  // key) and cafile.pem (sofia-sip's layout); empty: none.
  std::string tls_listen_url;
  std::string tls_certificate_dir;
  // Plain RTP is refused (488) unless this is set (development only).
  bool allow_plain_rtp = false;
  // At most this many calls at once, and this many new ones per second (more get 503 with
  // Retry-After): a flood of INVITEs never takes the controller or the other calls down.
  int max_calls = 200;
  int max_new_calls_per_second = 20;
  // Where calls may come from: IPv4 or IPv6 networks ("10.1.2.0/24", "2001:db8::/32", or an
  // address alone), the hospital's SBCs. Empty: from anywhere (every room still needs its PIN).
  // A call from elsewhere gets 403.
  std::vector<std::string> trusted_peers;
  // Calls Chorus places (DialOut) go through this proxy (the hospital's trunk or SBC:
  // "sip:sbc.example.org:5061;transport=tls"); empty: straight to the address called. From
  // shows `from_uri` ("sip:chorus@<listener>" when empty), display name "Chorus".
  std::string outbound_proxy;
  std::string from_uri;
  // A call placed that is not answered within this many seconds is cancelled (NO_ANSWER).
  int ring_timeout_seconds = 60;
  // What Chorus answers a trunk or SBC that asks calls placed for digest authentication (401,
  // 407): the user name and password it gave Chorus (empty: none; such a call then fails).
  // Never logged.
  std::string trunk_user;
  std::string trunk_password;
  // Where the gateway's metrics go (chorus_sip_calls, chorus_sip_calls_total{result}); may be
  // null.
  std::shared_ptr<prometheus::Registry> registry;
};

// How the dial string's user part names a room: "<dial_in_id>*<pin>" (digits; the PIN as a room
// system's directory entry or a phone's dial string carries it). An empty `pin` when none was
// given.
struct DialString {
  std::string dial_in_id;
  std::string pin;
};
// INVALID_ARGUMENT when the user part is not digits, or the PIN is not 4 to 12 digits.
absl::StatusOr<DialString> ParseDialString(const std::string& user);

// A set of IPv4 and IPv6 networks (GatewayOptions::trusted_peers).
class PeerList {
 public:
  // INVALID_ARGUMENT naming the entry (its position) that is not an address or a network.
  static absl::StatusOr<PeerList> Parse(const std::vector<std::string>& networks);
  bool empty() const { return networks_.empty(); }
  // Whether `address` (an IP address as text) is in one of the networks.
  bool Contains(const std::string& address) const;

 private:
  struct Network {
    int family = 0;
    unsigned char bytes[16] = {};
    int prefix = 0;
  };
  std::vector<Network> networks_;
};

class SipGateway {
 public:
  // Opens the listeners and starts the stack's thread. `rooms` must outlive the gateway.
  static absl::StatusOr<std::unique_ptr<SipGateway>> Start(const GatewayOptions& options,
                                                           Rooms* rooms);
  virtual ~SipGateway() = default;
  // Calls in progress (answered and not ended).
  virtual int calls() const = 0;
  // Ends every call with BYE (its participant leaves) and stops the stack.
  virtual void Shutdown() = 0;
};

}  // namespace chorus::sip
