#pragma once

// Writing the SDP answer (RFC 3264, JSEP RFC 8829 section 5.3) to a browser offer that
// Negotiate() accepted. Chorus answers as an ICE-lite agent (RFC 8445 section 2.5) with host
// candidates only and gathering complete, as the DTLS server (a=setup:passive, RFC 8842), with
// every accepted m-section in one BUNDLE group (RFC 9143) and RTCP multiplexed (RFC 5761).
//
// Layout: session lines (o=- <id> <version> IN IP4 0.0.0.0, s=-, t=0 0, a=ice-lite,
// a=group:BUNDLE, a=msid-semantic), then one m-section per offered one, in the offer's order.
// An accepted section carries c=, a=mid, the local ICE credentials and fingerprint, a=setup,
// the direction, a=rtcp-mux, a=rtcp-rsize (when offered), the negotiated a=extmap ids, the codec's
// a=rtpmap/a=fmtp/a=rtcp-fb and its RTX, Chorus's SSRCs and msid when it sends, one a=candidate
// per local address and a=end-of-candidates. A rejected section is m=<media> 0 <proto> <first
// offered format> with c=IN IP4 0.0.0.0, a=mid, the ICE and DTLS lines (aiortc wants them in
// every m-section) and, for RTP, a=inactive and a=rtcp-mux; its mid leaves the BUNDLE group.
//
// Thread safety: pure functions over plain values, callable from any thread.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "pipeline/sdp/negotiation.h"
#include "pipeline/sdp/session_description.h"

namespace chorus::sdp {

// One local media address of Chorus (an IPv4 or IPv6 literal and a UDP port), written as a host
// candidate. The first is also the default address of c= and m=.
struct CandidateAddress {
  std::string ip;
  uint16_t port = 0;
};

// The SSRCs Chorus sends with; 0 means "not announced" (the browser then recognises the stream
// by its mid header extension). An RTX SSRC is announced only with its media SSRC and when RTX
// was negotiated.
struct LocalSsrcs {
  uint32_t audio = 0;
  uint32_t video = 0;  // camera section: the composed or forwarded video
  uint32_t video_rtx = 0;
  uint32_t content = 0;  // screen share section
  uint32_t content_rtx = 0;
};

struct AnswerParams {
  IceCredentials ice;                      // Chorus's, for this endpoint
  Sha256Fingerprint fingerprint_sha256{};  // of Chorus's DTLS certificate
  std::vector<CandidateAddress> candidates;
  LocalSsrcs ssrcs;
  std::string cname;           // RTCP CNAME (RFC 7022), visible ASCII
  std::string msid_stream_id;  // RFC 8830 ids: tokens of at most 64 characters
  std::string audio_track_id = "audio";
  std::string video_track_id = "video";
  std::string content_track_id = "content";
  uint64_t session_id = 0;  // o= sess-id, below 2^63 (RFC 8829 section 5.2.1)
  uint64_t session_version = 2;
};

// Whether `params` can be written into an answer: ICE credentials of RFC 8839 lengths and
// characters, 1 to 32 candidates with an IP literal and a non-zero port, CNAME and msid ids
// of SDP-safe characters, an RTX SSRC only with its media SSRC, a session id below 2^63.
// INVALID_ARGUMENT naming the field otherwise. Chorus's own values, so checked once where they
// are made.
absl::Status ValidateAnswerParams(const AnswerParams& params);

// The answer text, lines ending in CRLF. `negotiated` must come from Negotiate(offer, ...) and
// `params` must pass ValidateAnswerParams() (checked in debug builds).
std::string WriteAnswer(const Offer& offer, const Negotiated& negotiated,
                        const AnswerParams& params);

}  // namespace chorus::sdp
