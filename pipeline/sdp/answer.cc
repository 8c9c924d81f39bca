#include "pipeline/sdp/answer.h"

#include <arpa/inet.h>

#include <string_view>

#include "pipeline/base/check.h"
#include "pipeline/sdp/fingerprint.h"
#include "pipeline/sdp/sdp_text.h"

namespace chorus::sdp {
namespace {

using internal::Append;
using internal::Cat;

constexpr std::string_view kCrlf = "\r\n";
constexpr uint64_t kMaxSessionId = (uint64_t{1} << 63) - 1;
constexpr size_t kMaxCnameBytes = 255;
constexpr size_t kMaxMsidIdBytes = 64;
// RFC 8445 section 5.1.2.1: type preference 126 for host candidates, component 1. The local
// preference falls by one per address so that the first address is preferred and every priority
// differs (the first is 2130706431, what single-address servers announce).
constexpr uint32_t kHostTypePreference = 126;
constexpr uint32_t kMaxLocalPreference = 65535;
constexpr uint32_t kRtpComponent = 1;
constexpr size_t kMaxLocalCandidates = 32;

bool IsIpv6(std::string_view ip) { return ip.find(':') != std::string_view::npos; }

bool IsIpLiteral(const std::string& ip) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, ip.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, ip.c_str(), buffer) == 1;
}

bool IsMsidId(std::string_view id) { return internal::IsToken(id) && id.size() <= kMaxMsidIdBytes; }

bool IsIceValue(std::string_view value, size_t min_chars) {
  return value.size() >= min_chars && value.size() <= 256 && internal::IsIceChars(value);
}

void Line(std::string* out, std::string_view text) { Append(out, text, kCrlf); }

std::string AddressLine(std::string_view ip) {
  return Cat("c=IN ", IsIpv6(ip) ? "IP6 " : "IP4 ", ip);
}

void WriteFeedback(std::string* out, uint8_t payload_type, const RtcpFeedback& feedback) {
  const std::string prefix = Cat("a=rtcp-fb:", payload_type, " ");
  if (feedback.goog_remb) Line(out, prefix + "goog-remb");
  if (feedback.transport_cc) Line(out, prefix + "transport-cc");
  if (feedback.ccm_fir) Line(out, prefix + "ccm fir");
  if (feedback.nack) Line(out, prefix + "nack");
  if (feedback.nack_pli) Line(out, prefix + "nack pli");
}

void WriteExtensions(std::string* out, const MediaSection& offered, const ExtensionIds& ids) {
  // In the offer's order, with the offer's ids (RFC 8285 section 6).
  for (const HeaderExtension& extension : offered.header_extensions) {
    const bool used = (extension.uri == kAudioLevelUri && extension.id == ids.audio_level) ||
                      (extension.uri == kTransportCcUri && extension.id == ids.transport_cc) ||
                      (extension.uri == kMidUri && extension.id == ids.mid);
    if (used) Line(out, Cat("a=extmap:", extension.id, " ", extension.uri));
  }
}

void WriteCodec(std::string* out, const NegotiatedCodec& codec) {
  std::string rtpmap =
      Cat("a=rtpmap:", codec.payload_type, " ", codec.encoding_name, "/", codec.clock_rate_hz);
  if (codec.channels != 1) Append(&rtpmap, "/", codec.channels);
  Line(out, rtpmap);
  WriteFeedback(out, codec.payload_type, codec.feedback);
  if (!codec.parameters.empty()) {
    Line(out, Cat("a=fmtp:", codec.payload_type, " ", codec.parameters));
  }
  if (codec.rtx_payload_type) {
    Line(out, Cat("a=rtpmap:", *codec.rtx_payload_type, " rtx/", codec.clock_rate_hz));
    Line(out, Cat("a=fmtp:", *codec.rtx_payload_type, " apt=", codec.payload_type));
  }
}

struct SendingStream {
  uint32_t ssrc = 0;
  uint32_t rtx_ssrc = 0;
  const std::string* track_id = nullptr;
};

SendingStream StreamFor(SectionRole role, const AnswerParams& params) {
  switch (role) {
    case SectionRole::kAudio:
      return {params.ssrcs.audio, 0, &params.audio_track_id};
    case SectionRole::kCamera:
      return {params.ssrcs.video, params.ssrcs.video_rtx, &params.video_track_id};
    case SectionRole::kScreenShare:
      return {params.ssrcs.content, params.ssrcs.content_rtx, &params.content_track_id};
    case SectionRole::kRejected:
      break;
  }
  return {};
}

void WriteSending(std::string* out, const NegotiatedSection& section, const AnswerParams& params) {
  const SendingStream stream = StreamFor(section.role, params);
  const std::string msid = Cat(params.msid_stream_id, " ", *stream.track_id);
  Line(out, Cat("a=msid:", msid));
  if (stream.ssrc == 0) return;
  const bool rtx = stream.rtx_ssrc != 0 && section.codec->rtx_payload_type.has_value();
  if (rtx) Line(out, Cat("a=ssrc-group:FID ", stream.ssrc, " ", stream.rtx_ssrc));
  for (uint32_t ssrc : {stream.ssrc, rtx ? stream.rtx_ssrc : 0u}) {
    if (ssrc == 0) continue;
    Line(out, Cat("a=ssrc:", ssrc, " cname:", params.cname));
    Line(out, Cat("a=ssrc:", ssrc, " msid:", msid));
  }
}

void WriteCandidates(std::string* out, const AnswerParams& params) {
  for (size_t i = 0; i < params.candidates.size(); ++i) {
    const uint32_t local_preference = kMaxLocalPreference - static_cast<uint32_t>(i);
    const uint32_t priority =
        (kHostTypePreference << 24) | (local_preference << 8) | (256 - kRtpComponent);
    Line(out, Cat("a=candidate:", i + 1, " ", kRtpComponent, " udp ", priority, " ",
                  params.candidates[i].ip, " ", params.candidates[i].port, " typ host"));
  }
  Line(out, "a=end-of-candidates");
}

// The lines every m-section of the answer repeats: Chorus's ICE credentials and DTLS role.
void WriteTransport(std::string* out, const AnswerParams& params, const std::string& fingerprint) {
  Line(out, Cat("a=ice-ufrag:", params.ice.ufrag));
  Line(out, Cat("a=ice-pwd:", params.ice.pwd));
  Line(out, Cat("a=fingerprint:sha-256 ", fingerprint));
  Line(out, "a=setup:passive");
}

void WriteAccepted(std::string* out, const MediaSection& offered, const NegotiatedSection& section,
                   const AnswerParams& params, const std::string& fingerprint) {
  const NegotiatedCodec& codec = *section.codec;
  const CandidateAddress& default_address = params.candidates.front();
  std::string m_line = Cat("m=", offered.media, " ", default_address.port, " ", kRtpProfile, " ",
                           codec.payload_type);
  if (codec.rtx_payload_type) Append(&m_line, " ", *codec.rtx_payload_type);
  Line(out, m_line);
  Line(out, AddressLine(default_address.ip));
  Line(out, Cat("a=mid:", section.mid));
  WriteTransport(out, params, fingerprint);
  Line(out, Cat("a=", DirectionName(section.direction)));
  Line(out, "a=rtcp-mux");
  if (section.rtcp_rsize) Line(out, "a=rtcp-rsize");
  if (section.extmap_allow_mixed) Line(out, "a=extmap-allow-mixed");
  WriteExtensions(out, offered, section.extensions);
  WriteCodec(out, codec);
  if (section.direction == Direction::kSendRecv || section.direction == Direction::kSendOnly) {
    WriteSending(out, section, params);
  }
  WriteCandidates(out, params);
}

void WriteRejected(std::string* out, const MediaSection& offered, const AnswerParams& params,
                   const std::string& fingerprint) {
  // RFC 3264 section 6: port zero, the offered media and proto, at least one format; RFC 9143
  // section 7.3.3: a rejected m-section keeps its mid and leaves the BUNDLE group. The transport
  // lines are not needed by browsers, but aiortc reads ICE credentials, a DTLS role and, for RTP,
  // rtcp-mux in every m-section of an answer, rejected ones included, and refuses it without.
  const std::string_view format =
      offered.formats.empty() ? std::string_view("0") : std::string_view(offered.formats.front());
  Line(out, Cat("m=", offered.media, " 0 ", offered.protocol, " ", format));
  Line(out, "c=IN IP4 0.0.0.0");
  Line(out, Cat("a=mid:", offered.mid));
  WriteTransport(out, params, fingerprint);
  if (offered.protocol.find("RTP/") != std::string::npos) {
    Line(out, "a=inactive");
    Line(out, "a=rtcp-mux");
  }
}

}  // namespace

absl::Status ValidateAnswerParams(const AnswerParams& params) {
  if (!IsIceValue(params.ice.ufrag, 4)) {
    return absl::InvalidArgumentError("answer: ICE ufrag must be 4 to 256 ice-chars (RFC 8839)");
  }
  if (!IsIceValue(params.ice.pwd, 22)) {
    return absl::InvalidArgumentError("answer: ICE pwd must be 22 to 256 ice-chars (RFC 8839)");
  }
  if (params.candidates.empty() || params.candidates.size() > kMaxLocalCandidates) {
    return absl::InvalidArgumentError("answer: 1 to 32 candidate addresses are needed");
  }
  for (const CandidateAddress& candidate : params.candidates) {
    if (!IsIpLiteral(candidate.ip) || candidate.port == 0) {
      return absl::InvalidArgumentError(
          "answer: candidates need an IPv4 or IPv6 literal and a non-zero port");
    }
  }
  if (!internal::IsVisible(params.cname) || params.cname.size() > kMaxCnameBytes) {
    return absl::InvalidArgumentError("answer: CNAME must be 1 to 255 visible ASCII characters");
  }
  if (!IsMsidId(params.msid_stream_id) || !IsMsidId(params.audio_track_id) ||
      !IsMsidId(params.video_track_id) || !IsMsidId(params.content_track_id)) {
    return absl::InvalidArgumentError("answer: msid ids must be tokens of at most 64 characters");
  }
  if ((params.ssrcs.video_rtx != 0 && params.ssrcs.video == 0) ||
      (params.ssrcs.content_rtx != 0 && params.ssrcs.content == 0)) {
    return absl::InvalidArgumentError("answer: an RTX SSRC needs its media SSRC");
  }
  if (params.session_id > kMaxSessionId || params.session_version > kMaxSessionId) {
    return absl::InvalidArgumentError("answer: session id and version must be below 2^63");
  }
  return absl::OkStatus();
}

std::string WriteAnswer(const Offer& offer, const Negotiated& negotiated,
                        const AnswerParams& params) {
  CHORUS_DCHECK(ValidateAnswerParams(params).ok());
  CHORUS_CHECK(negotiated.sections.size() == offer.sections.size());
  CHORUS_CHECK(!params.candidates.empty());
  const std::string fingerprint = FormatFingerprint(params.fingerprint_sha256);

  std::string out;
  Line(&out, "v=0");
  Line(&out, Cat("o=- ", params.session_id, " ", params.session_version, " IN IP4 0.0.0.0"));
  Line(&out, "s=-");
  Line(&out, "t=0 0");
  Line(&out, "a=ice-lite");
  std::string group = "a=group:BUNDLE";
  for (const std::string& mid : negotiated.bundle_mids) Append(&group, " ", mid);
  Line(&out, group);
  if (negotiated.extmap_allow_mixed) Line(&out, "a=extmap-allow-mixed");
  Line(&out, Cat("a=msid-semantic: WMS ", params.msid_stream_id));
  for (size_t i = 0; i < offer.sections.size(); ++i) {
    const NegotiatedSection& section = negotiated.sections[i];
    if (section.accepted() && section.codec) {
      WriteAccepted(&out, offer.sections[i], section, params, fingerprint);
    } else {
      WriteRejected(&out, offer.sections[i], params, fingerprint);
    }
  }
  return out;
}

}  // namespace chorus::sdp
