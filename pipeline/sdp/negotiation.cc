#include "pipeline/sdp/negotiation.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "pipeline/sdp/sdp_text.h"

namespace chorus::sdp {
namespace {

using internal::Append;
using internal::EqualsIgnoreCase;
using internal::FmtpParameter;

constexpr uint32_t kOpusClockRateHz = 48000;  // RFC 7587 section 7: always 48000/2
constexpr uint32_t kOpusChannels = 2;
constexpr uint32_t kVideoClockRateHz = 90000;
constexpr uint16_t kMaxOneByteExtensionId = 14;  // RFC 8285 section 4.2
constexpr uint8_t kH264ConstrainedBaselineProfileIdc = 0x42;
constexpr uint8_t kH264ConstraintSet1 = 0x40;

std::optional<uint8_t> HexByte(std::string_view text) {
  if (text.size() != 2) return std::nullopt;
  uint8_t value = 0;
  for (char c : text) {
    if (!internal::IsHexDigit(c)) return std::nullopt;
    const int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    value = static_cast<uint8_t>(value << 4 | digit);
  }
  return value;
}

RtcpFeedback ChooseFeedback(const PayloadFormat& format, const RtcpFeedback& allowed) {
  RtcpFeedback chosen;
  for (const std::string& offered : format.feedback) {
    if (offered == "nack") chosen.nack = allowed.nack;
    if (offered == "nack pli") chosen.nack_pli = allowed.nack_pli;
    if (offered == "ccm fir") chosen.ccm_fir = allowed.ccm_fir;
    if (offered == "goog-remb") chosen.goog_remb = allowed.goog_remb;
    if (offered == "transport-cc") chosen.transport_cc = allowed.transport_cc;
  }
  return chosen;
}

// The RTX payload type (RFC 4588 section 8.6) whose apt= names `payload_type`, if offered.
std::optional<uint8_t> FindRtx(const MediaSection& section, uint8_t payload_type,
                               uint32_t clock_rate_hz) {
  for (const PayloadFormat& format : section.payload_formats) {
    if (!EqualsIgnoreCase(format.encoding_name, "rtx") || format.clock_rate_hz != clock_rate_hz) {
      continue;
    }
    const std::optional<std::string_view> apt = FmtpParameter(format.parameters, "apt");
    if (apt && internal::ParseDecimal(*apt, 127) == payload_type) return format.payload_type;
  }
  return std::nullopt;
}

NegotiatedCodec MakeCodec(Codec codec, const PayloadFormat& format, std::string parameters,
                          const RtcpFeedback& allowed) {
  return NegotiatedCodec{.codec = codec,
                         .payload_type = format.payload_type,
                         .encoding_name = format.encoding_name,
                         .clock_rate_hz = format.clock_rate_hz,
                         .channels = format.channels,
                         .parameters = std::move(parameters),
                         .feedback = ChooseFeedback(format, allowed)};
}

std::optional<NegotiatedCodec> ChooseAudioCodec(const MediaSection& section,
                                                const LocalCapabilities& capabilities) {
  for (const PayloadFormat& format : section.payload_formats) {
    if (EqualsIgnoreCase(format.encoding_name, "opus") &&
        format.clock_rate_hz == kOpusClockRateHz && format.channels == kOpusChannels) {
      return MakeCodec(Codec::kOpus, format, std::string(kOpusAnswerParameters),
                       capabilities.audio_feedback);
    }
  }
  return std::nullopt;
}

// The H.264 a=fmtp Chorus answers: the offer's profile-level-id (already checked to be six hex
// digits), packetization mode 1, and level asymmetry when the offer allows it (RFC 6184 8.1).
std::string H264AnswerParameters(std::string_view offered) {
  std::string parameters;
  const std::optional<std::string_view> asymmetry =
      FmtpParameter(offered, "level-asymmetry-allowed");
  if (asymmetry == "1") parameters = "level-asymmetry-allowed=1;";
  Append(&parameters,
         "packetization-mode=1;profile-level-id=", *FmtpParameter(offered, "profile-level-id"));
  return parameters;
}

std::optional<NegotiatedCodec> ChooseVideoCodec(const MediaSection& section,
                                                const LocalCapabilities& capabilities) {
  for (const PayloadFormat& format : section.payload_formats) {
    if (format.clock_rate_hz != kVideoClockRateHz) continue;
    std::optional<NegotiatedCodec> codec;
    if (capabilities.vp8 && EqualsIgnoreCase(format.encoding_name, "VP8")) {
      codec = MakeCodec(Codec::kVp8, format, "", capabilities.video_feedback);
    } else if (capabilities.h264 && EqualsIgnoreCase(format.encoding_name, "H264") &&
               internal::IsUsableH264(format.parameters, capabilities.max_h264_level_idc)) {
      codec = MakeCodec(Codec::kH264, format, H264AnswerParameters(format.parameters),
                        capabilities.video_feedback);
    }
    if (codec) {
      if (capabilities.rtx) {
        codec->rtx_payload_type = FindRtx(section, format.payload_type, kVideoClockRateHz);
      }
      return codec;
    }
  }
  return std::nullopt;
}

ExtensionIds ChooseExtensions(const MediaSection& section, const LocalCapabilities& capabilities) {
  ExtensionIds ids;
  for (const HeaderExtension& extension : section.header_extensions) {
    // Chorus writes the one-byte form only, and uses an extension in both directions.
    if (extension.id < 1 || extension.id > kMaxOneByteExtensionId ||
        extension.direction != Direction::kSendRecv) {
      continue;
    }
    const auto id = static_cast<uint8_t>(extension.id);
    if (extension.uri == kAudioLevelUri && section.kind == MediaKind::kAudio &&
        capabilities.audio_level_extension && ids.audio_level == 0) {
      ids.audio_level = id;
    } else if (extension.uri == kTransportCcUri && capabilities.transport_cc_extension &&
               ids.transport_cc == 0) {
      ids.transport_cc = id;
    } else if (extension.uri == kMidUri && capabilities.mid_extension && ids.mid == 0) {
      ids.mid = id;
    }
  }
  return ids;
}

Direction AnswerDirection(Direction offered) {
  switch (offered) {
    case Direction::kSendRecv:
      return Direction::kSendRecv;
    case Direction::kSendOnly:
      return Direction::kRecvOnly;
    case Direction::kRecvOnly:
      return Direction::kSendOnly;
    case Direction::kInactive:
      return Direction::kInactive;
  }
  return Direction::kInactive;
}

// The media SSRCs the offerer sends, each with its RTX SSRC; repair streams (the second SSRC of
// an FID or FEC-FR group, RFC 5576 section 4.2 / RFC 5956) are not streams of their own.
std::vector<RemoteStream> RemoteStreams(const MediaSection& section) {
  std::vector<RemoteStream> streams;
  if (section.direction != Direction::kSendRecv && section.direction != Direction::kSendOnly) {
    return streams;
  }
  auto is_repair = [&](uint32_t ssrc) {
    return std::any_of(section.ssrc_groups.begin(), section.ssrc_groups.end(),
                       [&](const SsrcGroup& group) {
                         return (group.semantics == "FID" || group.semantics == "FEC-FR") &&
                                group.ssrcs.size() == 2 && group.ssrcs[1] == ssrc;
                       });
  };
  for (const SsrcDescription& description : section.ssrcs) {
    if (is_repair(description.ssrc)) continue;
    RemoteStream stream{.ssrc = description.ssrc, .cname = description.cname};
    for (const SsrcGroup& group : section.ssrc_groups) {
      if (group.semantics == "FID" && group.ssrcs.size() == 2 &&
          group.ssrcs[0] == description.ssrc) {
        stream.rtx_ssrc = group.ssrcs[1];
        break;
      }
    }
    streams.push_back(std::move(stream));
  }
  return streams;
}

bool InBundle(const Offer& offer, const std::string& mid) {
  return std::find(offer.bundle_mids.begin(), offer.bundle_mids.end(), mid) !=
         offer.bundle_mids.end();
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kOpus:
      return "opus";
    case Codec::kVp8:
      return "VP8";
    case Codec::kH264:
      return "H264";
  }
  return "opus";
}

std::string_view SectionRoleName(SectionRole role) {
  switch (role) {
    case SectionRole::kRejected:
      return "rejected";
    case SectionRole::kAudio:
      return "audio";
    case SectionRole::kCamera:
      return "camera";
    case SectionRole::kScreenShare:
      return "screen share";
  }
  return "rejected";
}

namespace internal {

bool IsUsableH264(std::string_view parameters, uint8_t max_level_idc) {
  // RFC 6184 section 8.1: packetization-mode defaults to 0 (single NAL unit), which Chorus's
  // packetizer does not limit itself to; profile-level-id defaults to 420010 (baseline without
  // constraint_set1), which is not constrained baseline.
  if (FmtpParameter(parameters, "packetization-mode") != "1") return false;
  const std::optional<std::string_view> profile_level_id =
      FmtpParameter(parameters, "profile-level-id");
  if (!profile_level_id || profile_level_id->size() != 6) return false;
  const std::optional<uint8_t> profile_idc = HexByte(profile_level_id->substr(0, 2));
  const std::optional<uint8_t> profile_iop = HexByte(profile_level_id->substr(2, 2));
  const std::optional<uint8_t> level_idc = HexByte(profile_level_id->substr(4, 2));
  if (!profile_idc || !profile_iop || !level_idc) return false;
  // Constrained baseline: profile_idc 66 (0x42) with constraint_set1_flag (H.264 A.2.1.1).
  return *profile_idc == kH264ConstrainedBaselineProfileIdc &&
         (*profile_iop & kH264ConstraintSet1) != 0 && *level_idc != 0 &&
         *level_idc <= max_level_idc;
}

}  // namespace internal

absl::StatusOr<Negotiated> Negotiate(const Offer& offer, const LocalCapabilities& capabilities) {
  if (offer.setup != SetupRole::kActPass && offer.setup != SetupRole::kActive) {
    return absl::InvalidArgumentError("the offer must have a=setup:actpass or active");
  }
  Negotiated result;
  result.sections.resize(offer.sections.size());
  for (size_t i = 0; i < offer.sections.size(); ++i) {
    const MediaSection& section = offer.sections[i];
    NegotiatedSection& out = result.sections[i];
    out.mid = section.mid;
    out.kind = section.kind;
    if (section.rejected()) {
      out.rejection_reason = "rejected in the offer";
      continue;
    }
    if (!InBundle(offer, section.mid)) {
      out.rejection_reason = "not in the BUNDLE group";
      continue;
    }
    std::optional<NegotiatedCodec> codec;
    SectionRole role = SectionRole::kRejected;
    switch (section.kind) {
      case MediaKind::kUnsupported:
        out.rejection_reason = "unsupported media";
        continue;
      case MediaKind::kAudio:
        if (result.audio_section) {
          out.rejection_reason = "Chorus takes one audio section";
          continue;
        }
        codec = ChooseAudioCodec(section, capabilities);
        if (!codec) return absl::InvalidArgumentError("no common audio codec (Chorus needs Opus)");
        role = SectionRole::kAudio;
        break;
      case MediaKind::kVideo: {
        // a=content:slides (RFC 4796) or a video after the camera is the screen share.
        const bool screen_free = capabilities.screen_share && !result.screen_share_section;
        if (screen_free && (section.content == Content::kSlides || result.camera_section)) {
          role = SectionRole::kScreenShare;
        } else if (!result.camera_section) {
          role = SectionRole::kCamera;
        } else {
          out.rejection_reason = "Chorus takes two video sections (camera and screen share)";
          continue;
        }
        codec = ChooseVideoCodec(section, capabilities);
        if (!codec) {
          out.rejection_reason =
              "no common video codec (Chorus needs VP8 or H.264 constrained baseline)";
          continue;
        }
        break;
      }
    }

    out.role = role;
    if (role == SectionRole::kAudio) result.audio_section = i;
    if (role == SectionRole::kCamera) result.camera_section = i;
    if (role == SectionRole::kScreenShare) result.screen_share_section = i;
    out.extensions = ChooseExtensions(section, capabilities);
    // Transport-wide feedback needs the sequence numbers of the header extension.
    if (out.extensions.transport_cc == 0) codec->feedback.transport_cc = false;
    out.codec = std::move(codec);
    out.direction = AnswerDirection(section.direction);
    out.rtcp_rsize = section.rtcp_rsize;
    out.extmap_allow_mixed = section.extmap_allow_mixed && capabilities.extmap_allow_mixed;
    out.remote_streams = RemoteStreams(section);
  }

  for (const std::string& mid : offer.bundle_mids) {
    for (const NegotiatedSection& section : result.sections) {
      if (section.mid == mid && section.accepted()) result.bundle_mids.push_back(mid);
    }
  }
  if (result.bundle_mids.empty()) {
    return absl::InvalidArgumentError(
        "no m-section can be accepted (Chorus needs Opus audio or VP8 / H.264 video)");
  }

  // RFC 9143 section 7.3: the answerer's BUNDLE tag is the first accepted mid; the offerer then
  // uses the transport of that m-section. Bundle-only sections carry no transport of their own
  // and share the offer's tagged one.
  const auto tag =
      std::find_if(offer.sections.begin(), offer.sections.end(),
                   [&](const MediaSection& s) { return s.mid == result.bundle_mids[0]; });
  const MediaSection* transport_section = &*tag;
  if ((!tag->ice || !tag->fingerprint_sha256) && offer.tagged_section < offer.sections.size()) {
    transport_section = &offer.sections[offer.tagged_section];
  }
  result.remote_ice = transport_section->ice.value_or(offer.ice);
  result.remote_fingerprint_sha256 =
      transport_section->fingerprint_sha256.value_or(offer.fingerprint_sha256);
  result.remote_candidates = transport_section->candidates;
  result.extmap_allow_mixed = offer.extmap_allow_mixed && capabilities.extmap_allow_mixed;
  return result;
}

}  // namespace chorus::sdp
