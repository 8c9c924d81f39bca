#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "chorus/v1/rooms.pb.h"

// A SIP caller's session description and Chorus's answer to it. The caller's SDP is parsed by
// sofia-sip's SDP parser (a well-kept implementation, as the rest of the SIP stack); only the
// answer is written here. Audio only: a room system's video and content come later.
namespace chorus::sip {

// What a caller's offer asks for, in the public API's terms.
struct CallerOffer {
  // One audio stream: the codecs Chorus may send, best first (telephone-event is kept apart),
  // where the caller receives, and the key it sends with.
  chorus::v1::RtpOffer rtp;
  // The tag of the a=crypto line taken (the answer repeats it).
  unsigned crypto_tag = 0;
  // RFC 4733 telephone events: their payload type, or -1 when not offered.
  int telephone_event_pt = -1;
  int telephone_event_rate = 8000;
  // The caller multiplexes RTCP on the RTP port (RFC 5761).
  bool rtcp_mux = false;
  // What the caller does with the audio: sends (1) and receives (2); 0 inactive, 1 sendonly (a
  // call on hold), 3 sendrecv. The answer mirrors it.
  int mode = 3;
};

// The offer of an INVITE. INVALID_ARGUMENT when it does not parse or has no usable audio stream;
// FAILED_PRECONDITION (answered 488 Not Acceptable Here) when its audio is plain RTP and
// `allow_plain_rtp` is false, or when it offers no SDES key Chorus speaks. Messages never quote
// the offer.
absl::StatusOr<CallerOffer> ParseCallerOffer(std::string_view sdp, bool allow_plain_rtp);

// The SDP answer for the node's `answer` to `offer`: Chorus's address, port, codec and key, the
// caller's crypto tag, telephone events when offered, RTCP on the same port, the direction that
// mirrors the offer's. `session_id`: the o= line's id (unique per call); `version`: its version
// (one more for each new answer in the call).
std::string AnswerSdp(const chorus::v1::RtpAnswer& answer, const CallerOffer& offer,
                      uint64_t session_id, uint64_t version = 1);

// The SDP offer of a call Chorus places (DialOut): Chorus's audio stream as the node reserved it
// (`claim.audio`: address, port, SDES key) with every codec of `claim.codecs`, RTCP on the same
// port, sendrecv. The callee's answer is read with ParseCallerOffer (it has the same form).
std::string OfferSdp(const chorus::v1::ClaimDialOutResponse& claim, uint64_t session_id);

}  // namespace chorus::sip
