#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "chorus/v1/rooms.pb.h"

// A SIP caller's session description and Chorus's answer to it. The caller's SDP is parsed by
// sofia-sip's SDP parser (a well-kept implementation, as the rest of the SIP stack); only the
// answer is written here. Audio, a room system's camera (VP8, H.264) and, once it presents, its
// content stream (received only); other streams are declined (port 0).
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
  // A room system's camera (rtp's second stream, when taken): its crypto tag, RTCP multiplexing
  // and direction, as for the audio.
  unsigned video_crypto_tag = 0;
  bool video_rtcp_mux = false;
  int video_mode = 3;
  // A room system presenting: the first content stream (RFC 4796 a=content other than "main")
  // it only sends (sendonly: a sendrecv content line is a capability, offered in every INVITE),
  // of the audio's transport, with a codec and key Chorus takes;
  // kind MEDIA_KIND_CONTENT, or UNSPECIFIED when there is none. It is not in `rtp`: Chorus takes
  // it in a re-INVITE (the call goes on, its content starts: the line is then marked taken), and
  // declines it in the INVITE that starts the call. Its index in `lines`, its crypto tag and
  // RTCP multiplexing.
  chorus::v1::StreamOffer content;
  int content_line = -1;
  unsigned content_crypto_tag = 0;
  bool content_rtcp_mux = false;
  // Every m= line of the offer in its order, and what Chorus took of it (UNSPECIFIED: declined
  // in the answer with port 0: content, BFCP, a second camera, a codec Chorus does not speak).
  struct Line {
    std::string media;
    std::string proto;
    std::string formats;
    chorus::v1::MediaKind taken = chorus::v1::MEDIA_KIND_UNSPECIFIED;
  };
  std::vector<Line> lines;
};

// The offer of an INVITE. INVALID_ARGUMENT when it does not parse or has no usable audio stream;
// FAILED_PRECONDITION (answered 488 Not Acceptable Here) when its audio is plain RTP and
// `allow_plain_rtp` is false, or when it offers no SDES key Chorus speaks. Messages never quote
// the offer.
absl::StatusOr<CallerOffer> ParseCallerOffer(std::string_view sdp, bool allow_plain_rtp);

// The SDP answer for the node's `answer` to `offer`: Chorus's address, port, codec and key, the
// caller's crypto tag, telephone events when offered, RTCP on the same port, the direction that
// mirrors the offer's; the content line, when taken (and answered), received only. `session_id`:
// the o= line's id (unique per call); `version`: its version (one more for each new answer in the
// call).
std::string AnswerSdp(const chorus::v1::RtpAnswer& answer, const CallerOffer& offer,
                      uint64_t session_id, uint64_t version = 1);

// The SDP offer of a call Chorus places (DialOut): Chorus's audio stream as the node reserved it
// (`claim.audio`: address, port, SDES key) with every codec of `claim.codecs`, and its video
// stream when it has one (`claim.video`, `claim.video_codecs`, with RTCP feedback), each with
// RTCP on the same port, sendrecv. The callee's answer is read with ParseCallerOffer (it has the
// same form).
std::string OfferSdp(const chorus::v1::ClaimDialOutResponse& claim, uint64_t session_id);

}  // namespace chorus::sip
