#include "pipeline/sdp/parser.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "pipeline/sdp/fingerprint.h"
#include "pipeline/sdp/sdp_text.h"

namespace chorus::sdp {
namespace {

using internal::Append;
using internal::AsciiLower;
using internal::Cat;
using internal::EqualsIgnoreCase;
using internal::IsCandidateAddress;
using internal::IsHexDigit;
using internal::IsIceChars;
using internal::IsProtocol;
using internal::IsToken;
using internal::IsVisible;
using internal::ParseDecimal;
using internal::SplitFields;
using internal::StripSpaces;

constexpr uint64_t kMaxUint32 = 0xffffffffu;
constexpr uint64_t kMaxPayloadType = 127;
constexpr uint64_t kMaxPort = 65535;
constexpr uint64_t kMaxExtmapId = 255;
constexpr size_t kMinUfragChars = 4;  // RFC 8839 section 5.4
constexpr size_t kMaxUfragChars = 256;
constexpr size_t kMinPwdChars = 22;
constexpr size_t kMaxPwdChars = 256;
constexpr size_t kMaxMsidIdBytes = 64;  // RFC 8830 msid-id
constexpr size_t kMaxCnameBytes = 255;
constexpr size_t kMaxFoundationChars = 32;  // RFC 8839 foundation
constexpr uint64_t kMaxComponent = 256;
constexpr size_t kMaxFeedbackPerFormat = 16;
constexpr size_t kMaxHashFunctionBytes = 16;

enum class Role { kOffer, kAnswer };

absl::Status LineError(size_t line, std::string_view what) {
  return absl::InvalidArgumentError(Cat("line ", line, ": ", what));
}

absl::Status SectionError(size_t index, const MediaSection& section, std::string_view what) {
  return absl::InvalidArgumentError(
      Cat("m-section ", index + 1, " (line ", section.line, "): ", what));
}

std::optional<Direction> DirectionFromName(std::string_view name) {
  if (name == "sendrecv") return Direction::kSendRecv;
  if (name == "sendonly") return Direction::kSendOnly;
  if (name == "recvonly") return Direction::kRecvOnly;
  if (name == "inactive") return Direction::kInactive;
  return std::nullopt;
}

bool IsMid(std::string_view text) { return IsToken(text) && text.size() <= kMaxMidBytes; }
bool IsMsidId(std::string_view text) { return IsToken(text) && text.size() <= kMaxMsidIdBytes; }

// Hex pairs joined by ':' (RFC 8122 fingerprint), of any hash length up to SHA-512.
bool IsHexPairs(std::string_view text) {
  if (text.size() < 2 || text.size() > 64 * 3 - 1 || (text.size() + 1) % 3 != 0) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool colon_place = i % 3 == 2;
    if (colon_place ? text[i] != ':' : !IsHexDigit(text[i])) {
      return false;
    }
  }
  return true;
}

bool OnlyLineBreaks(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c == '\r' || c == '\n'; });
}

// Transport attributes that may sit at session level (defaults) or in an m-section.
struct TransportAttributes {
  std::optional<std::string> ufrag;
  std::optional<std::string> pwd;
  std::optional<Sha256Fingerprint> fingerprint;
  std::optional<SetupRole> setup;
  std::optional<Direction> direction;
};

// Parse state of one m-section that does not belong in MediaSection.
struct SectionState {
  TransportAttributes transport;
  std::array<bool, kMaxPayloadType + 1> has_rtpmap{};
  std::array<bool, kMaxPayloadType + 1> has_fmtp{};
  std::vector<std::string> wildcard_feedback;  // a=rtcp-fb:* values
};

void AddFeedback(std::vector<std::string>* list, std::string value) {
  if (list->size() >= kMaxFeedbackPerFormat) return;
  if (std::find(list->begin(), list->end(), value) != list->end()) return;
  list->push_back(std::move(value));
}

class Parser {
 public:
  explicit Parser(Role role) : role_(role) {}

  absl::StatusOr<SessionDescription> Parse(std::string_view sdp);

 private:
  absl::Status ParseLine(size_t number, std::string_view line);
  absl::Status ParseOrigin(size_t number, std::string_view value);
  absl::Status ParseMediaLine(size_t number, std::string_view value);
  absl::Status ParseSessionAttribute(size_t number, std::string_view name, std::string_view value);
  absl::Status ParseMediaAttribute(size_t number, std::string_view name, std::string_view value);
  // Attributes allowed at both levels; sets *handled when `name` is one of them.
  absl::Status ParseTransportAttribute(size_t number, std::string_view name, std::string_view value,
                                       TransportAttributes* transport, bool* handled);
  absl::Status ParseGroup(size_t number, std::string_view value);
  absl::Status ParseMid(size_t number, std::string_view value);
  absl::Status ParseRtpmap(size_t number, std::string_view value);
  absl::Status ParseFmtp(size_t number, std::string_view value);
  absl::Status ParseRtcpFb(size_t number, std::string_view value);
  absl::Status ParseExtmap(size_t number, std::string_view value);
  absl::Status ParseSsrc(size_t number, std::string_view value);
  absl::Status ParseSsrcGroup(size_t number, std::string_view value);
  absl::Status ParseMsid(size_t number, std::string_view value);
  absl::Status ParseCandidate(size_t number, std::string_view value);
  absl::Status Finish();

  PayloadFormat* FindFormat(uint8_t payload_type) {
    for (PayloadFormat& format : description_.sections.back().payload_formats) {
      if (format.payload_type == payload_type) return &format;
    }
    return nullptr;
  }

  const Role role_;
  SessionDescription description_;
  TransportAttributes session_transport_;
  std::vector<SectionState> states_;  // parallel to description_.sections
  bool has_origin_ = false;
  bool has_session_name_ = false;
  bool has_bundle_ = false;
  size_t ssrc_lines_ = 0;
  size_t ssrc_group_lines_ = 0;
  size_t candidate_lines_ = 0;
};

absl::StatusOr<SessionDescription> Parser::Parse(std::string_view sdp) {
  if (sdp.size() > kMaxSdpBytes) {
    return absl::InvalidArgumentError(Cat("SDP larger than ", kMaxSdpBytes, " bytes"));
  }
  size_t position = 0;
  size_t number = 0;
  while (position < sdp.size()) {
    const size_t end = sdp.find('\n', position);
    std::string_view line = sdp.substr(
        position, end == std::string_view::npos ? std::string_view::npos : end - position);
    position = end == std::string_view::npos ? sdp.size() : end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) {
      return LineError(number, Cat("longer than ", kMaxLineBytes, " bytes"));
    }
    if (line.empty()) {
      if (number > 1 && OnlyLineBreaks(sdp.substr(position))) break;  // trailing line breaks
      return LineError(number, "empty line");
    }
    if (absl::Status status = ParseLine(number, line); !status.ok()) return status;
  }
  if (number == 0) return absl::InvalidArgumentError("empty SDP");
  if (absl::Status status = Finish(); !status.ok()) return status;
  return std::move(description_);
}

absl::Status Parser::ParseLine(size_t number, std::string_view line) {
  for (char c : line) {
    if (c == '\0' || c == '\r') return LineError(number, "NUL or CR inside the line");
  }
  if (line.size() < 2 || line[1] != '=') return LineError(number, "not <type>=<value>");
  const char type = line[0];
  const std::string_view value = line.substr(2);
  if (number == 1) {
    if (type != 'v' || value != "0") return LineError(number, "the SDP must start with v=0");
    return absl::OkStatus();
  }
  const bool in_media = !description_.sections.empty();
  switch (type) {
    case 'v':
      return LineError(number, "v= given twice");
    case 'o':
      if (in_media) return LineError(number, "o= after the first m= line");
      return ParseOrigin(number, value);
    case 's':
      if (in_media) return LineError(number, "s= after the first m= line");
      if (has_session_name_) return LineError(number, "s= given twice");
      has_session_name_ = true;
      return absl::OkStatus();
    case 't':
    case 'r':
    case 'z':
      if (in_media) return LineError(number, "timing line after the first m= line");
      return absl::OkStatus();
    case 'm':
      return ParseMediaLine(number, value);
    case 'a': {
      const size_t colon = value.find(':');
      const std::string_view name = value.substr(0, colon);
      const std::string_view attribute_value =
          colon == std::string_view::npos ? std::string_view() : value.substr(colon + 1);
      if (!IsToken(name)) return LineError(number, "malformed attribute name");
      return in_media ? ParseMediaAttribute(number, name, attribute_value)
                      : ParseSessionAttribute(number, name, attribute_value);
    }
    case 'c':  // Chorus uses ICE candidates, not connection data (RFC 8839 section 4.2.2)
    case 'b':
    case 'i':
    case 'u':
    case 'e':
    case 'p':
    case 'k':
      return absl::OkStatus();
    default:
      // RFC 8866 section 5: a description with a type letter the parser does not know is refused.
      return LineError(number, "unknown line type");
  }
}

absl::Status Parser::ParseOrigin(size_t number, std::string_view value) {
  if (has_origin_) return LineError(number, "o= given twice");
  has_origin_ = true;
  const std::vector<std::string_view> fields = SplitFields(value);
  if (fields.size() != 6) return LineError(number, "o=: needs six fields");
  if (!ParseDecimal(fields[1], UINT64_MAX) || !ParseDecimal(fields[2], UINT64_MAX)) {
    return LineError(number, "o=: session id or version is not a number");
  }
  description_.session_id = std::string(fields[1]);
  return absl::OkStatus();
}

absl::Status Parser::ParseMediaLine(size_t number, std::string_view value) {
  if (description_.sections.size() == kMaxMediaSections) {
    return LineError(number, Cat("more than ", kMaxMediaSections, " m-sections"));
  }
  const std::vector<std::string_view> fields = SplitFields(value);
  if (fields.size() < 4) return LineError(number, "m=: needs media, port, proto and a format");
  if (!IsToken(fields[0])) return LineError(number, "m=: media is not a token");
  if (fields[1].find('/') != std::string_view::npos) {
    return LineError(number, "m=: port counts are not supported");
  }
  const std::optional<uint64_t> port = ParseDecimal(fields[1], kMaxPort);
  if (!port) return LineError(number, "m=: port out of range (0-65535)");
  if (!IsProtocol(fields[2])) return LineError(number, "m=: malformed proto");
  if (fields.size() - 3 > kMaxPayloadTypesPerSection) {
    return LineError(number, Cat("m=: more than ", kMaxPayloadTypesPerSection, " formats"));
  }

  MediaSection section;
  section.line = number;
  section.media = std::string(fields[0]);
  section.port = static_cast<uint16_t>(*port);
  section.protocol = std::string(fields[2]);
  if (section.protocol == kRtpProfile && section.media == "audio") {
    section.kind = MediaKind::kAudio;
  } else if (section.protocol == kRtpProfile && section.media == "video") {
    section.kind = MediaKind::kVideo;
  }
  const bool rtp = section.protocol.find("RTP/") != std::string::npos;
  std::array<bool, kMaxPayloadType + 1> listed{};
  for (size_t i = 3; i < fields.size(); ++i) {
    if (rtp) {
      const std::optional<uint64_t> payload_type = ParseDecimal(fields[i], kMaxPayloadType);
      if (!payload_type) return LineError(number, "m=: payload type out of range (0-127)");
      if (listed[*payload_type]) return LineError(number, "m=: payload type listed twice");
      listed[*payload_type] = true;
      if (section.kind != MediaKind::kUnsupported) {
        section.payload_formats.push_back(
            PayloadFormat{.payload_type = static_cast<uint8_t>(*payload_type)});
      }
    } else if (!IsToken(fields[i])) {
      return LineError(number, "m=: format is not a token");
    }
    section.formats.emplace_back(fields[i]);
  }
  description_.sections.push_back(std::move(section));
  states_.emplace_back();
  return absl::OkStatus();
}

absl::Status Parser::ParseTransportAttribute(size_t number, std::string_view name,
                                             std::string_view value, TransportAttributes* transport,
                                             bool* handled) {
  *handled = true;
  if (name == "ice-ufrag") {
    if (value.size() < kMinUfragChars || value.size() > kMaxUfragChars || !IsIceChars(value)) {
      return LineError(number, "a=ice-ufrag: not 4 to 256 ice-chars (RFC 8839)");
    }
    transport->ufrag = std::string(value);
    return absl::OkStatus();
  }
  if (name == "ice-pwd") {
    if (value.size() < kMinPwdChars || value.size() > kMaxPwdChars || !IsIceChars(value)) {
      return LineError(number, "a=ice-pwd: not 22 to 256 ice-chars (RFC 8839)");
    }
    transport->pwd = std::string(value);
    return absl::OkStatus();
  }
  if (name == "fingerprint") {
    // RFC 8122 section 5: hash-func SP fingerprint. Several lines may be given; the first
    // sha-256 one is used.
    const std::vector<std::string_view> fields = SplitFields(value);
    if (fields.size() != 2 || !IsToken(fields[0]) || fields[0].size() > kMaxHashFunctionBytes) {
      return LineError(number, "a=fingerprint: needs a hash function and hex pairs");
    }
    if (EqualsIgnoreCase(fields[0], "sha-256")) {
      const absl::StatusOr<Sha256Fingerprint> fingerprint = ParseFingerprint(fields[1]);
      if (!fingerprint.ok()) return LineError(number, "a=fingerprint: not sha-256 hex pairs");
      if (!transport->fingerprint) transport->fingerprint = *fingerprint;
    } else if (!IsHexPairs(fields[1])) {
      return LineError(number, "a=fingerprint: not hex pairs");
    }
    return absl::OkStatus();
  }
  if (name == "setup") {
    if (value == "actpass") {
      transport->setup = SetupRole::kActPass;
    } else if (value == "active") {
      transport->setup = SetupRole::kActive;
    } else if (value == "passive") {
      transport->setup = SetupRole::kPassive;
    } else if (value == "holdconn") {
      transport->setup = SetupRole::kHoldConn;
    } else {
      return LineError(number, "a=setup: unknown role");
    }
    return absl::OkStatus();
  }
  if (const std::optional<Direction> direction = DirectionFromName(name)) {
    if (!value.empty()) return LineError(number, "a=<direction>: takes no value");
    transport->direction = *direction;
    return absl::OkStatus();
  }
  *handled = false;
  return absl::OkStatus();
}

absl::Status Parser::ParseSessionAttribute(size_t number, std::string_view name,
                                           std::string_view value) {
  bool handled = false;
  if (absl::Status status =
          ParseTransportAttribute(number, name, value, &session_transport_, &handled);
      !status.ok() || handled) {
    return status;
  }
  if (name == "group") return ParseGroup(number, value);
  if (name == "ice-lite") {
    description_.ice_lite = true;
  } else if (name == "extmap-allow-mixed") {
    description_.extmap_allow_mixed = true;
  }
  return absl::OkStatus();  // other session attributes (msid-semantic, ice-options, ...) unused
}

absl::Status Parser::ParseGroup(size_t number, std::string_view value) {
  const std::vector<std::string_view> fields = SplitFields(value);
  if (fields.empty() || !IsToken(fields[0])) return LineError(number, "a=group: no semantics");
  if (!EqualsIgnoreCase(fields[0], "BUNDLE")) return absl::OkStatus();  // LS, ... unused
  if (has_bundle_) return LineError(number, "a=group:BUNDLE: more than one BUNDLE group");
  has_bundle_ = true;
  if (fields.size() - 1 > kMaxMediaSections) {
    return LineError(number, "a=group:BUNDLE: more mids than m-sections allowed");
  }
  for (size_t i = 1; i < fields.size(); ++i) {
    if (!IsMid(fields[i])) return LineError(number, "a=group:BUNDLE: malformed mid");
    if (std::find(description_.bundle_mids.begin(), description_.bundle_mids.end(), fields[i]) !=
        description_.bundle_mids.end()) {
      return LineError(number, "a=group:BUNDLE: mid listed twice");
    }
    description_.bundle_mids.emplace_back(fields[i]);
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseMediaAttribute(size_t number, std::string_view name,
                                         std::string_view value) {
  MediaSection& section = description_.sections.back();
  SectionState& state = states_.back();
  bool handled = false;
  if (absl::Status status =
          ParseTransportAttribute(number, name, value, &state.transport, &handled);
      !status.ok() || handled) {
    return status;
  }
  if (name == "mid") return ParseMid(number, value);
  if (name == "rtcp-mux" || name == "rtcp-mux-only") {
    section.rtcp_mux = true;
  } else if (name == "rtcp-rsize") {
    section.rtcp_rsize = true;
  } else if (name == "bundle-only") {
    section.bundle_only = true;
  } else if (name == "extmap-allow-mixed") {
    section.extmap_allow_mixed = true;
  } else if (name == "end-of-candidates") {
    section.end_of_candidates = true;
  } else if (name == "candidate") {
    return ParseCandidate(number, value);
  } else if (name == "msid") {
    return ParseMsid(number, value);
  } else if (name == "content") {
    // RFC 4796: a comma-separated list; "slides" anywhere marks a screen share.
    Content content = Content::kOther;
    size_t start = 0;
    while (start <= value.size()) {
      size_t end = value.find(',', start);
      if (end == std::string_view::npos) end = value.size();
      const std::string_view item = value.substr(start, end - start);
      if (!IsToken(item)) return LineError(number, "a=content: malformed");
      if (item == "slides") {
        content = Content::kSlides;
      } else if (item == "main" && content == Content::kOther) {
        content = Content::kMain;
      }
      start = end + 1;
    }
    section.content = content;
  } else if (name == "rid") {
    ++section.rid_count;
  } else if (name == "simulcast") {
    section.has_simulcast = true;
  } else if (section.kind != MediaKind::kUnsupported) {
    // Payload-level attributes matter only for the audio and video Chorus may accept; an
    // unsupported section is rejected whole, whatever its formats say.
    if (name == "rtpmap") return ParseRtpmap(number, value);
    if (name == "fmtp") return ParseFmtp(number, value);
    if (name == "rtcp-fb") return ParseRtcpFb(number, value);
    if (name == "extmap") return ParseExtmap(number, value);
    if (name == "ssrc") return ParseSsrc(number, value);
    if (name == "ssrc-group") return ParseSsrcGroup(number, value);
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseMid(size_t number, std::string_view value) {
  MediaSection& section = description_.sections.back();
  if (!IsMid(value)) return LineError(number, "a=mid: not a token of at most 32 characters");
  if (!section.mid.empty()) return LineError(number, "a=mid: given twice in one m-section");
  for (const MediaSection& other : description_.sections) {
    if (other.mid == value) return LineError(number, "a=mid: used by another m-section");
  }
  section.mid = std::string(value);
  return absl::OkStatus();
}

absl::Status Parser::ParseRtpmap(size_t number, std::string_view value) {
  // RFC 8866 section 6.6: <payload type> <encoding name>/<clock rate>[/<parameters>]
  const std::vector<std::string_view> fields = SplitFields(value);
  if (fields.size() != 2) return LineError(number, "a=rtpmap: needs a payload type and encoding");
  const std::optional<uint64_t> payload_type = ParseDecimal(fields[0], kMaxPayloadType);
  if (!payload_type) return LineError(number, "a=rtpmap: payload type out of range (0-127)");
  const std::string_view encoding = fields[1];
  const size_t slash = encoding.find('/');
  if (slash == std::string_view::npos) return LineError(number, "a=rtpmap: no clock rate");
  const std::string_view encoding_name = encoding.substr(0, slash);
  std::string_view rest = encoding.substr(slash + 1);
  const size_t second_slash = rest.find('/');
  const std::string_view clock_text = rest.substr(0, second_slash);
  const std::string_view channels_text =
      second_slash == std::string_view::npos ? std::string_view() : rest.substr(second_slash + 1);
  if (!IsToken(encoding_name)) return LineError(number, "a=rtpmap: malformed encoding name");
  const std::optional<uint64_t> clock_rate = ParseDecimal(clock_text, kMaxUint32);
  if (!clock_rate || *clock_rate == 0) {
    return LineError(number, "a=rtpmap: clock rate out of range");
  }
  std::optional<uint64_t> channels = 1;
  if (second_slash != std::string_view::npos) channels = ParseDecimal(channels_text, 255);
  if (!channels || *channels == 0) return LineError(number, "a=rtpmap: channels out of range");

  SectionState& state = states_.back();
  PayloadFormat* format = FindFormat(static_cast<uint8_t>(*payload_type));
  if (format == nullptr) return absl::OkStatus();  // not on the m= line: nothing refers to it
  if (state.has_rtpmap[*payload_type]) {
    return LineError(number, "a=rtpmap: payload type mapped twice");
  }
  state.has_rtpmap[*payload_type] = true;
  format->encoding_name = std::string(encoding_name);
  format->clock_rate_hz = static_cast<uint32_t>(*clock_rate);
  format->channels = static_cast<uint32_t>(*channels);
  return absl::OkStatus();
}

absl::Status Parser::ParseFmtp(size_t number, std::string_view value) {
  // RFC 8866 section 6.15: <format> <format specific parameters>
  const size_t space = value.find(' ');
  const std::optional<uint64_t> payload_type =
      ParseDecimal(value.substr(0, space), kMaxPayloadType);
  if (!payload_type) return LineError(number, "a=fmtp: payload type out of range (0-127)");
  const std::string_view parameters =
      space == std::string_view::npos ? std::string_view() : StripSpaces(value.substr(space + 1));
  SectionState& state = states_.back();
  PayloadFormat* format = FindFormat(static_cast<uint8_t>(*payload_type));
  if (format == nullptr) return absl::OkStatus();
  if (state.has_fmtp[*payload_type]) return LineError(number, "a=fmtp: payload type given twice");
  state.has_fmtp[*payload_type] = true;
  format->parameters = std::string(parameters);
  return absl::OkStatus();
}

absl::Status Parser::ParseRtcpFb(size_t number, std::string_view value) {
  // RFC 4585 section 4.2: <payload type or *> <type> [<parameter> ...]
  const std::vector<std::string_view> fields = SplitFields(value);
  if (fields.size() < 2) return LineError(number, "a=rtcp-fb: needs a payload type and a type");
  if (!IsToken(fields[1]) || (fields.size() > 2 && !IsToken(fields[2]))) {
    return LineError(number, "a=rtcp-fb: malformed type");
  }
  std::string feedback = AsciiLower(fields[1]);
  if (fields.size() > 2) Append(&feedback, " ", AsciiLower(fields[2]));
  if (fields[0] == "*") {
    AddFeedback(&states_.back().wildcard_feedback, std::move(feedback));
    return absl::OkStatus();
  }
  const std::optional<uint64_t> payload_type = ParseDecimal(fields[0], kMaxPayloadType);
  if (!payload_type) return LineError(number, "a=rtcp-fb: payload type out of range (0-127)");
  if (PayloadFormat* format = FindFormat(static_cast<uint8_t>(*payload_type))) {
    AddFeedback(&format->feedback, std::move(feedback));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseExtmap(size_t number, std::string_view value) {
  // RFC 8285 section 7: <id>[/<direction>] <URI> [<extension attributes>]
  MediaSection& section = description_.sections.back();
  const std::vector<std::string_view> fields = SplitFields(value);
  if (fields.size() < 2) return LineError(number, "a=extmap: needs an id and a URI");
  const size_t slash = fields[0].find('/');
  const std::optional<uint64_t> id = ParseDecimal(fields[0].substr(0, slash), kMaxExtmapId);
  if (!id || *id == 0) return LineError(number, "a=extmap: id out of range (1-255)");
  Direction direction = Direction::kSendRecv;
  if (slash != std::string_view::npos) {
    const std::optional<Direction> parsed = DirectionFromName(fields[0].substr(slash + 1));
    if (!parsed) return LineError(number, "a=extmap: unknown direction");
    direction = *parsed;
  }
  if (!IsVisible(fields[1])) return LineError(number, "a=extmap: malformed URI");
  if (section.header_extensions.size() == kMaxExtmapsPerSection) {
    return LineError(number,
                     Cat("more than ", kMaxExtmapsPerSection, " a=extmap in one m-section"));
  }
  for (const HeaderExtension& extension : section.header_extensions) {
    if (extension.id == *id) return LineError(number, "a=extmap: id used twice in one m-section");
  }
  section.header_extensions.push_back(HeaderExtension{
      .id = static_cast<uint16_t>(*id), .uri = std::string(fields[1]), .direction = direction});
  return absl::OkStatus();
}

absl::Status Parser::ParseSsrc(size_t number, std::string_view value) {
  // RFC 5576 section 4.1: <ssrc> <attribute>[:<value>]
  if (++ssrc_lines_ > kMaxSsrcLines) {
    return LineError(number, Cat("more than ", kMaxSsrcLines, " a=ssrc lines"));
  }
  const size_t space = value.find(' ');
  if (space == std::string_view::npos) {
    return LineError(number, "a=ssrc: needs an SSRC and an attribute");
  }
  const std::optional<uint64_t> ssrc = ParseDecimal(value.substr(0, space), kMaxUint32);
  if (!ssrc) return LineError(number, "a=ssrc: SSRC out of range");
  const std::string_view attribute = value.substr(space + 1);
  const size_t colon = attribute.find(':');
  const std::string_view name = attribute.substr(0, colon);
  const std::string_view attribute_value =
      colon == std::string_view::npos ? std::string_view() : attribute.substr(colon + 1);
  if (!IsToken(name)) return LineError(number, "a=ssrc: malformed attribute");

  std::vector<SsrcDescription>& ssrcs = description_.sections.back().ssrcs;
  auto it = std::find_if(ssrcs.begin(), ssrcs.end(),
                         [&](const SsrcDescription& entry) { return entry.ssrc == *ssrc; });
  if (it == ssrcs.end()) {
    ssrcs.push_back(SsrcDescription{.ssrc = static_cast<uint32_t>(*ssrc)});
    it = ssrcs.end() - 1;
  }
  if (name == "cname") {
    if (!IsVisible(attribute_value) || attribute_value.size() > kMaxCnameBytes) {
      return LineError(number, "a=ssrc: malformed cname");
    }
    if (it->cname.empty()) it->cname = std::string(attribute_value);
  } else if (name == "msid") {
    const std::vector<std::string_view> ids = SplitFields(attribute_value);
    if (ids.empty() || ids.size() > 2 || !IsMsidId(ids[0]) ||
        (ids.size() == 2 && !IsMsidId(ids[1]))) {
      return LineError(number, "a=ssrc: malformed msid");
    }
    it->msid_stream = std::string(ids[0]);
    it->msid_track = ids.size() == 2 ? std::string(ids[1]) : std::string();
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseSsrcGroup(size_t number, std::string_view value) {
  // RFC 5576 section 4.2: <semantics> <ssrc> ...
  if (++ssrc_group_lines_ > kMaxSsrcGroupLines) {
    return LineError(number, Cat("more than ", kMaxSsrcGroupLines, " a=ssrc-group lines"));
  }
  const std::vector<std::string_view> fields = SplitFields(value);
  if (fields.size() < 2 || !IsToken(fields[0])) {
    return LineError(number, "a=ssrc-group: needs semantics and SSRCs");
  }
  SsrcGroup group{.semantics = std::string(fields[0])};
  for (size_t i = 1; i < fields.size(); ++i) {
    const std::optional<uint64_t> ssrc = ParseDecimal(fields[i], kMaxUint32);
    if (!ssrc) return LineError(number, "a=ssrc-group: SSRC out of range");
    group.ssrcs.push_back(static_cast<uint32_t>(*ssrc));
  }
  if (group.semantics == "FID" && group.ssrcs.size() != 2) {
    return LineError(number, "a=ssrc-group:FID needs two SSRCs");
  }
  description_.sections.back().ssrc_groups.push_back(std::move(group));
  return absl::OkStatus();
}

absl::Status Parser::ParseMsid(size_t number, std::string_view value) {
  // RFC 8830 section 2: <stream id> [<track id>]
  MediaSection& section = description_.sections.back();
  const std::vector<std::string_view> ids = SplitFields(value);
  if (ids.empty() || ids.size() > 2 || !IsMsidId(ids[0]) ||
      (ids.size() == 2 && !IsMsidId(ids[1]))) {
    return LineError(number, "a=msid: malformed");
  }
  if (section.msid_stream.empty()) {
    section.msid_stream = std::string(ids[0]);
    section.msid_track = ids.size() == 2 ? std::string(ids[1]) : std::string();
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseCandidate(size_t number, std::string_view value) {
  // RFC 8839 section 5.1: <foundation> <component> <transport> <priority> <address> <port>
  // typ <type> [raddr <address>] [rport <port>] *(<extension name> <extension value>)
  if (++candidate_lines_ > kMaxCandidates) {
    return LineError(number, Cat("more than ", kMaxCandidates, " a=candidate lines"));
  }
  const std::vector<std::string_view> fields = SplitFields(value);
  if (fields.size() < 8) return LineError(number, "a=candidate: too few fields");
  if (fields[0].size() > kMaxFoundationChars || !IsIceChars(fields[0])) {
    return LineError(number, "a=candidate: malformed foundation");
  }
  const std::optional<uint64_t> component = ParseDecimal(fields[1], kMaxComponent);
  if (!component || *component == 0) {
    return LineError(number, "a=candidate: component out of range (1-256)");
  }
  const std::optional<uint64_t> priority = ParseDecimal(fields[3], kMaxUint32);
  if (!priority || *priority == 0) return LineError(number, "a=candidate: priority out of range");
  if (!IsCandidateAddress(fields[4])) return LineError(number, "a=candidate: malformed address");
  const std::optional<uint64_t> port = ParseDecimal(fields[5], kMaxPort);
  if (!port) return LineError(number, "a=candidate: port out of range (0-65535)");
  if (fields[6] != "typ") return LineError(number, "a=candidate: no typ");
  Candidate candidate{.foundation = std::string(fields[0]),
                      .component = static_cast<uint32_t>(*component),
                      .priority = static_cast<uint32_t>(*priority),
                      .address = std::string(fields[4]),
                      .port = static_cast<uint16_t>(*port)};
  if (fields[7] == "host") {
    candidate.type = CandidateType::kHost;
  } else if (fields[7] == "srflx") {
    candidate.type = CandidateType::kServerReflexive;
  } else if (fields[7] == "prflx") {
    candidate.type = CandidateType::kPeerReflexive;
  } else if (fields[7] == "relay") {
    candidate.type = CandidateType::kRelay;
  } else {
    return LineError(number, "a=candidate: unknown type");
  }
  if (EqualsIgnoreCase(fields[2], "udp")) {
    candidate.transport = CandidateTransport::kUdp;
  } else if (EqualsIgnoreCase(fields[2], "tcp")) {
    candidate.transport = CandidateTransport::kTcp;
  } else if (IsToken(fields[2])) {
    return absl::OkStatus();  // a transport extension (RFC 8839 section 5.1): skipped
  } else {
    return LineError(number, "a=candidate: malformed transport");
  }
  description_.sections.back().candidates.push_back(std::move(candidate));
  return absl::OkStatus();
}

absl::Status Parser::Finish() {
  if (!has_origin_) return absl::InvalidArgumentError("no o= line");
  if (!has_session_name_) return absl::InvalidArgumentError("no s= line");
  std::vector<MediaSection>& sections = description_.sections;
  if (sections.empty()) return absl::InvalidArgumentError("no m= line");

  for (size_t i = 0; i < sections.size(); ++i) {
    MediaSection& section = sections[i];
    const TransportAttributes& own = states_[i].transport;
    if (section.mid.empty()) return SectionError(i, section, "no a=mid");
    const std::optional<std::string>& ufrag = own.ufrag ? own.ufrag : session_transport_.ufrag;
    const std::optional<std::string>& pwd = own.pwd ? own.pwd : session_transport_.pwd;
    if (ufrag && pwd) section.ice = IceCredentials{.ufrag = *ufrag, .pwd = *pwd};
    section.fingerprint_sha256 = own.fingerprint ? own.fingerprint : session_transport_.fingerprint;
    section.setup = own.setup ? own.setup : session_transport_.setup;
    section.direction =
        own.direction.value_or(session_transport_.direction.value_or(Direction::kSendRecv));
    for (PayloadFormat& format : section.payload_formats) {
      for (const std::string& feedback : states_[i].wildcard_feedback) {
        AddFeedback(&format.feedback, feedback);
      }
    }
  }

  // RFC 9143: Chorus runs every m-section over one transport, so all of them must be bundled.
  if (!has_bundle_ || description_.bundle_mids.empty()) {
    return absl::InvalidArgumentError("no a=group:BUNDLE (Chorus needs BUNDLE, RFC 9143)");
  }
  std::optional<size_t> tagged;
  for (const std::string& mid : description_.bundle_mids) {
    auto it = std::find_if(sections.begin(), sections.end(),
                           [&](const MediaSection& section) { return section.mid == mid; });
    if (it == sections.end()) {
      return absl::InvalidArgumentError("a=group:BUNDLE names a mid that no m-section has");
    }
    if (!tagged && !it->rejected()) tagged = static_cast<size_t>(it - sections.begin());
  }
  for (size_t i = 0; i < sections.size(); ++i) {
    const MediaSection& section = sections[i];
    if (section.rejected()) continue;
    if (std::find(description_.bundle_mids.begin(), description_.bundle_mids.end(), section.mid) ==
        description_.bundle_mids.end()) {
      return SectionError(i, section,
                          "not in the BUNDLE group (Chorus needs every m-section in it)");
    }
    if (section.kind != MediaKind::kUnsupported && !section.rtcp_mux) {
      return SectionError(i, section, "no a=rtcp-mux (Chorus needs RTCP multiplexing, RFC 5761)");
    }
  }
  if (!tagged) return absl::InvalidArgumentError("every bundled m-section is rejected");

  const MediaSection& tag = sections[*tagged];
  if (!tag.ice) {
    return SectionError(*tagged, tag, "no a=ice-ufrag and a=ice-pwd (session or media level)");
  }
  if (!tag.fingerprint_sha256) {
    return SectionError(*tagged, tag, "no a=fingerprint with sha-256 (RFC 8842)");
  }
  if (!tag.setup) return SectionError(*tagged, tag, "no a=setup (RFC 8842)");
  switch (*tag.setup) {
    case SetupRole::kActPass:
      if (role_ == Role::kAnswer) {
        return SectionError(*tagged, tag, "a=setup:actpass is not allowed in an answer");
      }
      break;
    case SetupRole::kActive:
      break;
    case SetupRole::kPassive:
      if (role_ == Role::kOffer) {
        return SectionError(*tagged, tag,
                            "a=setup:passive would make Chorus the DTLS client; offer actpass "
                            "or active");
      }
      break;
    case SetupRole::kHoldConn:
      return SectionError(*tagged, tag, "a=setup:holdconn is not supported");
  }
  if (role_ == Role::kOffer && description_.ice_lite) {
    return absl::InvalidArgumentError(
        "the offer is ICE-lite; Chorus is ICE-lite too and needs a full ICE agent (RFC 8445)");
  }
  description_.tagged_section = *tagged;
  description_.ice = *tag.ice;
  description_.fingerprint_sha256 = *tag.fingerprint_sha256;
  description_.setup = *tag.setup;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Offer> ParseOffer(std::string_view sdp) { return Parser(Role::kOffer).Parse(sdp); }

absl::StatusOr<SessionDescription> ParseAnswer(std::string_view sdp) {
  return Parser(Role::kAnswer).Parse(sdp);
}

}  // namespace chorus::sdp
