#include "tools/loadgen/webrtc_offer.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pipeline/sdp/parser.h"
#include "pipeline/sdp/session_description.h"

namespace chorus::loadgen {
namespace {

// RFC 8445 section 5.1.2.1 with the recommended type preference of a host candidate (126), one
// local address (local preference 65535), component 1.
constexpr uint32_t kHostCandidatePriority = (126u << 24) | (65535u << 8) | (256u - 1);

std::string Fingerprint(const std::array<uint8_t, 32>& sha256) {
  std::string text;
  text.reserve(95);
  for (size_t i = 0; i < sha256.size(); ++i) {
    absl::StrAppendFormat(&text, "%s%02X", i == 0 ? "" : ":", sha256[i]);
  }
  return text;
}

bool IsIpv4(const std::string& ip) {
  in_addr address{};
  return inet_pton(AF_INET, ip.c_str(), &address) == 1;
}

}  // namespace

std::string WriteWebRtcOffer(const WebRtcOfferParams& p) {
  std::string sdp;
  auto line = [&sdp](auto&&... parts) { absl::StrAppend(&sdp, parts..., "\r\n"); };
  const std::string msid = absl::StrCat("loadgen-", p.ssrc);
  line("v=0");
  line("o=- ", p.session_id, " 2 IN IP4 127.0.0.1");
  line("s=-");
  line("t=0 0");
  line("a=group:BUNDLE 0");
  line("a=msid-semantic: WMS ", msid);
  line("m=audio ", p.port, " UDP/TLS/RTP/SAVPF ", p.payload_type);
  line("c=IN IP4 ", p.ip);
  line("a=rtcp:9 IN IP4 0.0.0.0");
  line("a=candidate:1 1 udp ", kHostCandidatePriority, " ", p.ip, " ", p.port, " typ host");
  line("a=end-of-candidates");
  line("a=ice-ufrag:", p.ice_ufrag);
  line("a=ice-pwd:", p.ice_pwd);
  line("a=fingerprint:sha-256 ", Fingerprint(p.fingerprint_sha256));
  line("a=setup:actpass");
  line("a=mid:0");
  line("a=extmap:", p.audio_level_id, " urn:ietf:params:rtp-hdrext:ssrc-audio-level");
  line("a=sendrecv");
  line("a=msid:", msid, " audio");
  line("a=rtcp-mux");
  line("a=rtcp-rsize");
  line("a=rtpmap:", p.payload_type, " opus/48000/2");
  line("a=fmtp:", p.payload_type, " minptime=10;useinbandfec=1", p.dtx ? ";usedtx=1" : "");
  line("a=ssrc:", p.ssrc, " cname:", p.cname);
  line("a=ssrc:", p.ssrc, " msid:", msid, " audio");
  return sdp;
}

absl::StatusOr<WebRtcAnswerInfo> ReadWebRtcAnswer(std::string_view text) {
  auto answer = sdp::ParseAnswer(text);
  if (!answer.ok()) return answer.status();
  if (answer->sections.empty() || answer->tagged_section >= answer->sections.size()) {
    return absl::InvalidArgumentError("the answer has no bundled m-section");
  }
  if (answer->setup != sdp::SetupRole::kPassive) {
    return absl::InvalidArgumentError("the answer is not a=setup:passive");
  }
  const auto audio = std::find_if(
      answer->sections.begin(), answer->sections.end(),
      [](const sdp::MediaSection& s) { return s.kind == sdp::MediaKind::kAudio && !s.rejected(); });
  if (audio == answer->sections.end() || audio->payload_formats.empty()) {
    return absl::InvalidArgumentError("the answer rejects the audio");
  }
  WebRtcAnswerInfo info;
  info.ice_ufrag = answer->ice.ufrag;
  info.ice_pwd = answer->ice.pwd;
  info.fingerprint_sha256 = answer->fingerprint_sha256;
  info.payload_type = audio->payload_formats.front().payload_type;
  const sdp::MediaSection& tagged = answer->sections[answer->tagged_section];
  for (const sdp::Candidate& candidate : tagged.candidates) {
    if (candidate.transport == sdp::CandidateTransport::kUdp && candidate.component == 1 &&
        candidate.port != 0 && IsIpv4(candidate.address)) {
      info.ip = candidate.address;
      info.port = candidate.port;
      return info;
    }
  }
  return absl::InvalidArgumentError("the answer has no IPv4 UDP candidate");
}

}  // namespace chorus::loadgen
