#pragma once

// Offer/answer negotiation (RFC 3264, JSEP RFC 8829 section 5.3) of a parsed browser offer against
// what Chorus can do: which m-sections Chorus accepts, in which role (the participant's audio,
// camera, screen share), with which codec, RTX, feedback and header extension ids, and what it
// knows of the remote side's transport and streams.
//
// Rules:
//   - Audio: Opus 48000/2 only (answered with minptime=10;useinbandfec=1). The first audio section
//     the offer does not reject is the participant's audio; without Opus in it the negotiation
//     fails ("no common audio codec (Chorus needs Opus)"). Further audio sections are rejected.
//   - Video: VP8 and H.264 (packetization-mode=1, constrained baseline: profile_idc 0x42 with
//     constraint_set1, level at most LocalCapabilities::max_h264_level_idc), whichever comes
//     first in the offer's order, with its RTX payload type (RFC 4588, apt=) when offered. The
//     first video section is the camera; a second one, or any with a=content:slides (RFC 4796),
//     the screen share; further ones are rejected. A section with no usable codec is rejected
//     whole (port 0), never half-accepted.
//   - rtcp-fb (nack, nack pli, ccm fir, goog-remb, transport-cc) and header extensions
//     (ssrc-audio-level for audio, transport-cc and sdes:mid for both) only where the offer has
//     them, with the offer's ids, one-byte ids (1-14) only.
//   - Application (data channel) and other kinds are rejected. If nothing can be accepted the
//     negotiation fails.
// Errors: INVALID_ARGUMENT with a message a signalling client can show; never quotes the offer.
//
// Thread safety: a pure function over plain values, callable from any thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/sdp/session_description.h"

namespace chorus::sdp {

// RTP header extension URIs Chorus negotiates.
inline constexpr std::string_view kAudioLevelUri = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
inline constexpr std::string_view kTransportCcUri =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
inline constexpr std::string_view kMidUri = "urn:ietf:params:rtp-hdrext:sdes:mid";

// The a=fmtp Chorus answers Opus with (RFC 7587): 10 ms packets allowed, in-band FEC wanted,
// discontinuous transmission preferred (a browser that falls silent sends a packet every 400 ms
// or so instead of every 20 ms: its silence costs the node and the participant's link next to
// nothing, and the jitter buffer takes the gaps as silence, not loss).
inline constexpr std::string_view kOpusAnswerParameters = "minptime=10;useinbandfec=1;usedtx=1";

enum class Codec { kOpus, kVp8, kH264 };
std::string_view CodecName(Codec codec);  // "opus", "VP8", "H264"

// RTCP feedback types (RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb,
// draft-holmer-rmcat-transport-wide-cc-extensions).
struct RtcpFeedback {
  bool nack = false;          // "nack": generic NACK
  bool nack_pli = false;      // "nack pli": picture loss indication
  bool ccm_fir = false;       // "ccm fir": full intra request
  bool goog_remb = false;     // "goog-remb"
  bool transport_cc = false;  // "transport-cc"
};

struct LocalCapabilities {
  bool vp8 = true;
  bool h264 = true;
  // H.264 levels up to this level_idc (0x1f: level 3.1, 1280x720 at 30 frames per second).
  uint8_t max_h264_level_idc = 0x1f;
  bool rtx = true;
  bool screen_share = true;
  RtcpFeedback audio_feedback{.transport_cc = true};
  RtcpFeedback video_feedback{
      .nack = true, .nack_pli = true, .ccm_fir = true, .goog_remb = true, .transport_cc = true};
  bool audio_level_extension = true;
  bool transport_cc_extension = true;
  bool mid_extension = true;
  // Whether Chorus reads two-byte RTP header extensions too (RFC 8285 section 6).
  bool extmap_allow_mixed = true;
};

struct NegotiatedCodec {
  Codec codec = Codec::kOpus;
  uint8_t payload_type = 0;   // the offer's
  std::string encoding_name;  // as the offer wrote it, for the answer's a=rtpmap
  uint32_t clock_rate_hz = 0;
  uint32_t channels = 1;
  // The answer's a=fmtp for this payload type; empty for none.
  std::string parameters;
  RtcpFeedback feedback;
  std::optional<uint8_t> rtx_payload_type;  // RFC 4588 payload type with apt=payload_type
};

// One-byte RTP header extension ids (RFC 8285) as the offer numbered them; 0 when not negotiated.
struct ExtensionIds {
  uint8_t audio_level = 0;
  uint8_t transport_cc = 0;
  uint8_t mid = 0;
};

enum class SectionRole { kRejected, kAudio, kCamera, kScreenShare };
std::string_view SectionRoleName(SectionRole role);

// A stream the remote side announced it sends (a=ssrc, RFC 5576), with its RTX stream (FID).
struct RemoteStream {
  uint32_t ssrc = 0;
  std::optional<uint32_t> rtx_ssrc;
  std::string cname;
};

struct NegotiatedSection {
  std::string mid;
  MediaKind kind = MediaKind::kUnsupported;
  SectionRole role = SectionRole::kRejected;
  // Why it was rejected ("no common codec", "unsupported media", ...); empty when accepted.
  std::string rejection_reason;
  // The answer's direction, from Chorus's point of view (offer sendonly -> recvonly, ...).
  Direction direction = Direction::kInactive;
  std::optional<NegotiatedCodec> codec;  // set exactly when accepted
  ExtensionIds extensions;
  bool rtcp_rsize = false;          // RFC 5506, when offered
  bool extmap_allow_mixed = false;  // media-level a=extmap-allow-mixed to answer
  // Streams the remote side sends in this section (empty when it only receives, or when it
  // announced none, e.g. with simulcast: then they are recognised by mid).
  std::vector<RemoteStream> remote_streams;

  bool accepted() const { return role != SectionRole::kRejected; }
};

struct Negotiated {
  // One per m-section of the offer, in the same order.
  std::vector<NegotiatedSection> sections;
  // Indexes into sections.
  std::optional<size_t> audio_section;
  std::optional<size_t> camera_section;
  std::optional<size_t> screen_share_section;
  // The answer's BUNDLE group: the accepted mids in the offer's group order; the first one is
  // the BUNDLE tag whose transport everything uses.
  std::vector<std::string> bundle_mids;
  // The remote side of the bundled transport: its ICE credentials and candidates and its DTLS
  // certificate fingerprint. Chorus is always the DTLS server (a=setup:passive).
  IceCredentials remote_ice;
  Sha256Fingerprint remote_fingerprint_sha256{};
  std::vector<Candidate> remote_candidates;
  bool extmap_allow_mixed = false;  // session-level a=extmap-allow-mixed to answer
};

absl::StatusOr<Negotiated> Negotiate(const Offer& offer, const LocalCapabilities& capabilities);

namespace internal {
// Whether an H.264 a=fmtp is one Chorus can send and receive: packetization-mode=1 and a
// constrained baseline profile-level-id (RFC 6184 section 8.1) at most `max_level_idc`.
bool IsUsableH264(std::string_view parameters, uint8_t max_level_idc);
}  // namespace internal

}  // namespace chorus::sdp
