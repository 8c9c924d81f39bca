#pragma once

// Parsing of complete WebRTC session descriptions (RFC 8866 syntax, RFC 8829 JSEP usage, unified
// plan) as browsers and other WebRTC stacks write them once ICE gathering is finished.
//
// Untrusted input: the text comes from a browser through the signalling channel. Limits
// (session_description.h): 64 KiB in all, 4096 bytes per line, 16 m-sections, 64 payload types
// and 32 a=extmap per m-section, 256 a=ssrc, 64 a=ssrc-group and 256 a=candidate lines. Lines end
// in CRLF or LF. Unknown attributes are skipped; an unknown line type refuses the description
// (RFC 8866 section 5).
//
// Errors are INVALID_ARGUMENT with a short message naming the problem and where it is
// ("line 12: a=fingerprint: not sha-256 hex pairs", "m-section 2 (line 40): no a=mid"). Messages
// never quote the input.
//
// Thread safety: free functions without shared state, callable from any thread. Cost: one pass
// over the text; allocation bounded by the limits above.

#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/sdp/session_description.h"

namespace chorus::sdp {

// Parses an offer Chorus is to answer. Besides the syntax it requires what Chorus needs of an
// offer:
//   - v=0 first, o= and s= once, at least one m= line;
//   - a=mid on every m-section (unique, a token of at most 32 characters);
//   - one a=group:BUNDLE (RFC 9143) naming every m-section that is not rejected (port 0 without
//     a=bundle-only), and only mids that exist;
//   - for the BUNDLE-tag section (the first mid of the group that is not rejected), at session or
//     media level: a=ice-ufrag and a=ice-pwd (RFC 8839 lengths and characters), a=fingerprint
//     with a sha-256 value (RFC 8842; other hash functions may be present and are not used), and
//     a=setup:actpass or active (passive would make Chorus the DTLS client);
//   - a=rtcp-mux on every audio and video section that is not rejected (RFC 5761);
//   - not a=ice-lite (Chorus is ICE-lite itself, RFC 8445 section 2.5).
absl::StatusOr<Offer> ParseOffer(std::string_view sdp);

// The same syntax and limits for an answer (one Chorus wrote, checked by its tests, or a peer's
// answer to an offer Chorus makes): a=setup must be active or passive, a=ice-lite is allowed.
absl::StatusOr<SessionDescription> ParseAnswer(std::string_view sdp);

}  // namespace chorus::sdp
