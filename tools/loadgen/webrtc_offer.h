#pragma once

// The SDP a simulated WebRTC participant offers, and what it reads from Chorus's answer.
//
// The offer is what a browser writes for one microphone track once ICE gathering is done (JSEP,
// RFC 8829, unified plan): one audio m-section (UDP/TLS/RTP/SAVPF, Opus 48000/2, the RFC 6464
// audio level extension), bundled alone (a=group:BUNDLE), rtcp-mux, the participant's ICE
// credentials and one host candidate (the socket it sends from), the SHA-256 fingerprint of its
// DTLS certificate with a=setup:actpass, and its SSRC (RFC 5576 a=ssrc with a CNAME and msid) so
// that the server can route its packets by SSRC.
//
// Thread safety: pure functions over plain values, any thread. Set-up cost only.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chorus::loadgen {

struct WebRtcOfferParams {
  uint64_t session_id = 1;  // o= sess-id, below 2^63
  std::string ice_ufrag;    // RFC 8839 ice-chars, 4..256
  std::string ice_pwd;      // 22..256
  std::array<uint8_t, 32> fingerprint_sha256{};
  uint32_t ssrc = 0;
  std::string cname;  // RTCP CNAME, a token
  uint8_t payload_type = 111;
  uint8_t audio_level_id = 1;  // one-byte RFC 8285 id, 1..14
  bool dtx = false;            // a=fmtp usedtx=1 (RFC 7587), as a browser with DTX on offers
  // The host candidate: the participant's socket (IPv4 literal) and port.
  std::string ip;
  uint16_t port = 0;
};

// The offer text, lines ending in CRLF.
std::string WriteWebRtcOffer(const WebRtcOfferParams& params);

// What the participant needs from the answer: the server's ICE credentials, its certificate's
// fingerprint, and where to send (the first IPv4 UDP host candidate of the bundled transport).
struct WebRtcAnswerInfo {
  std::string ice_ufrag;
  std::string ice_pwd;
  std::array<uint8_t, 32> fingerprint_sha256{};
  std::string ip;
  uint16_t port = 0;
  uint8_t payload_type = 0;  // the audio section's first payload type (the codec chosen)
};

// Parses the answer with pipeline/sdp (ParseAnswer). INVALID_ARGUMENT when it is malformed,
// rejects the audio section, is not a=setup:passive (the participant is the DTLS client), or has
// no IPv4 UDP candidate.
absl::StatusOr<WebRtcAnswerInfo> ReadWebRtcAnswer(std::string_view sdp);

}  // namespace chorus::loadgen
