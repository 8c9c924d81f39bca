#pragma once

// A WebRTC session description as Chorus reads it: the subset of SDP (RFC 8866) that JSEP
// (RFC 8829) offers carry in unified plan, with BUNDLE (RFC 9143), rtcp-mux (RFC 5761),
// reduced-size RTCP (RFC 5506), RTP header extensions (RFC 8285), ICE (RFC 8839) and DTLS-SRTP
// (RFC 8842, RFC 8122) attributes. Parsed by ParseOffer()/ParseAnswer() (parser.h); nothing here
// refers back to the text it came from, so a description outlives its input.
//
// Thread safety: plain values; distinct objects may be used on distinct threads.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::sdp {

// Limits on untrusted descriptions; a description over any of them is refused as a whole.
inline constexpr size_t kMaxSdpBytes = 64 * 1024;
inline constexpr size_t kMaxLineBytes = 4096;
inline constexpr size_t kMaxMediaSections = 16;
inline constexpr size_t kMaxPayloadTypesPerSection = 64;
inline constexpr size_t kMaxExtmapsPerSection = 32;
inline constexpr size_t kMaxSsrcLines = 256;
inline constexpr size_t kMaxSsrcGroupLines = 64;
inline constexpr size_t kMaxCandidates = 256;
inline constexpr size_t kMaxMidBytes = 32;
// RFC 8842 section 5: DTLS-SRTP endpoints must offer a SHA-256 fingerprint; it is the only one
// Chorus checks the peer's certificate against.
inline constexpr size_t kSha256Bytes = 32;

using Sha256Fingerprint = std::array<uint8_t, kSha256Bytes>;

// The transport profile JSEP uses for RTP over DTLS-SRTP (RFC 8829 section 5.1.2). Audio and video
// sections with any other profile are treated as unsupported.
inline constexpr std::string_view kRtpProfile = "UDP/TLS/RTP/SAVPF";

enum class MediaKind {
  kAudio,
  kVideo,
  // Any other media (m=application data channels, m=text, ...) or audio/video over a profile other
  // than kRtpProfile. Kept so that the answer can reject it with port 0 in its place.
  kUnsupported,
};

// RFC 8866 section 6.7, from the sender's point of view of whoever wrote the description.
enum class Direction { kSendRecv, kSendOnly, kRecvOnly, kInactive };

// RFC 4145 a=setup (DTLS role, RFC 8842 section 5.2).
enum class SetupRole { kActPass, kActive, kPassive, kHoldConn };

// RFC 4796 a=content. kSlides marks a screen share.
enum class Content { kNone, kMain, kSlides, kOther };

enum class CandidateType { kHost, kServerReflexive, kPeerReflexive, kRelay };
enum class CandidateTransport { kUdp, kTcp };

std::string_view DirectionName(Direction direction);  // "sendrecv", ...
std::string_view MediaKindName(MediaKind kind);       // "audio", "video", "unsupported"

struct IceCredentials {
  std::string ufrag;  // RFC 8839: 4 to 256 ice-chars
  std::string pwd;    // RFC 8839: 22 to 256 ice-chars
};

// One payload type of an RTP m-section with what a=rtpmap, a=fmtp and a=rtcp-fb said about it.
struct PayloadFormat {
  uint8_t payload_type = 0;
  // From a=rtpmap as written ("opus", "VP8", "H264", "rtx"); empty when the payload type has no
  // a=rtpmap line (static payload types may omit it).
  std::string encoding_name;
  uint32_t clock_rate_hz = 0;  // 0 without a=rtpmap
  uint32_t channels = 1;       // the optional third rtpmap field
  // The a=fmtp parameters as written ("minptime=10;useinbandfec=1"), empty when none.
  std::string parameters;
  // a=rtcp-fb values for this payload type and for "*", lower case, one space between type and
  // parameter, without duplicates: "nack", "nack pli", "ccm fir", "goog-remb", "transport-cc".
  std::vector<std::string> feedback;
};

// RFC 8285 a=extmap. Ids 1-14 fit the one-byte header form Chorus uses; 15-255 are parsed only.
struct HeaderExtension {
  uint16_t id = 0;
  std::string uri;
  // The optional "/direction" after the id; kSendRecv when absent.
  Direction direction = Direction::kSendRecv;
};

// What the a=ssrc lines (RFC 5576) said about one SSRC.
struct SsrcDescription {
  uint32_t ssrc = 0;
  std::string cname;
  std::string msid_stream;  // from "msid:<stream> <track>"
  std::string msid_track;
};

// RFC 5576 a=ssrc-group; "FID" pairs a media SSRC with its RTX SSRC (RFC 4588).
struct SsrcGroup {
  std::string semantics;
  std::vector<uint32_t> ssrcs;
};

// RFC 8839 a=candidate, the fields an ICE agent needs. Extensions after the type are skipped.
struct Candidate {
  std::string foundation;
  uint32_t component = 1;
  CandidateTransport transport = CandidateTransport::kUdp;
  uint32_t priority = 0;
  // An IPv4 or IPv6 literal, or a host name (browsers hide host addresses behind mDNS names).
  std::string address;
  uint16_t port = 0;
  CandidateType type = CandidateType::kHost;
};

struct MediaSection {
  size_t line = 0;  // line number of the m= line, for messages
  MediaKind kind = MediaKind::kUnsupported;
  std::string media;                 // the m= media token as written ("audio", "application")
  uint16_t port = 0;                 // 0: rejected, unless bundle_only
  std::string protocol;              // "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ...
  std::vector<std::string> formats;  // the m= format tokens as written, in order

  std::string mid;  // RFC 9143 identification tag, required on every section
  Direction direction = Direction::kSendRecv;
  bool rtcp_mux = false;
  bool rtcp_rsize = false;
  bool bundle_only = false;  // RFC 9143 section 6: port 0 yet part of the BUNDLE group
  bool extmap_allow_mixed = false;
  Content content = Content::kNone;
  // RFC 8851 / RFC 8853: noted only; Chorus answers without simulcast, so the browser sends one
  // encoding.
  bool has_simulcast = false;
  size_t rid_count = 0;

  // Audio and video sections only (empty for kUnsupported): one entry per m= payload type, in
  // the m= line's order (the offerer's preference).
  std::vector<PayloadFormat> payload_formats;
  std::vector<HeaderExtension> header_extensions;
  std::vector<SsrcDescription> ssrcs;  // in order of first appearance
  std::vector<SsrcGroup> ssrc_groups;
  std::string msid_stream;  // RFC 8830 a=msid
  std::string msid_track;

  // Transport attributes, from this section or else from the session level.
  std::optional<IceCredentials> ice;
  std::optional<Sha256Fingerprint> fingerprint_sha256;
  std::optional<SetupRole> setup;
  std::vector<Candidate> candidates;
  bool end_of_candidates = false;

  // Port 0 without a=bundle-only: the writer rejected or stopped this section.
  bool rejected() const { return port == 0 && !bundle_only; }
  // nullptr when `payload_type` is not on the m= line.
  const PayloadFormat* FindPayloadFormat(uint8_t payload_type) const;
};

struct SessionDescription {
  std::string session_id;  // the o= line's sess-id (digits)
  bool ice_lite = false;
  bool extmap_allow_mixed = false;       // session-level a=extmap-allow-mixed
  std::vector<std::string> bundle_mids;  // the a=group:BUNDLE line, in its order
  std::vector<MediaSection> sections;    // in m= order

  // The BUNDLE transport: the attributes of the writer's BUNDLE-tag section (the first mid of the
  // group that is not rejected), RFC 9143 section 7.2.
  size_t tagged_section = 0;  // index into sections
  IceCredentials ice;
  Sha256Fingerprint fingerprint_sha256{};
  SetupRole setup = SetupRole::kActPass;
};

// What Chorus answers (parser.h: ParseOffer) is a remote offer.
using Offer = SessionDescription;

}  // namespace chorus::sdp
