// Offers from the network through the whole SDP path: parse, negotiate, write the answer. Every
// answer Chorus writes must parse back as an answer with the same m-sections. Two shapes of input:
// the bytes as an offer (and as an answer), and the bytes spliced into a valid offer in place of
// (or before) one of its lines, so that most runs get past the session header into the checks of
// sections, codecs and bundling.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/sdp/answer.h"
#include "pipeline/sdp/fingerprint.h"
#include "pipeline/sdp/negotiation.h"
#include "pipeline/sdp/parser.h"

namespace {

using namespace chorus::sdp;

// A valid offer in the shape browsers write: audio, camera video with RTX, a second video for a
// screen share, a data channel.
constexpr std::string_view kTemplateOffer =
    "v=0\r\n"
    "o=- 1 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1 2 3\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 126\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=candidate:1 1 udp 2122260223 10.0.0.1 50000 typ host\r\n"
    "a=candidate:2 1 udp 1686052607 192.0.2.1 50000 typ srflx raddr 10.0.0.1 rport 50000\r\n"
    "a=end-of-candidates\r\n"
    "a=ice-ufrag:Uf4x\r\n"
    "a=ice-pwd:0123456789abcdefghijkl\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=msid:s a\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:11 cname:c\r\n"
    "a=ssrc:11 msid:s a\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 108 109\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendrecv\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtcp-fb:* ccm fir\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:108 H264/90000\r\n"
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=rtpmap:109 rtx/90000\r\n"
    "a=fmtp:109 apt=108\r\n"
    "a=ssrc-group:FID 21 22\r\n"
    "a=ssrc:21 cname:c\r\n"
    "a=ssrc:22 cname:c\r\n"
    "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
    "a=bundle-only\r\n"
    "a=mid:2\r\n"
    "a=content:slides\r\n"
    "a=sendonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rid:h send\r\n"
    "a=simulcast:send h\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "a=mid:3\r\n"
    "a=sctp-port:5000\r\n";

AnswerParams LocalParams() {
  AnswerParams params;
  params.ice = IceCredentials{.ufrag = "ChoR", .pwd = "chorusChorusChorus0123"};
  params.candidates = {{.ip = "192.0.2.10", .port = 40000}, {.ip = "2001:db8::1", .port = 40000}};
  params.ssrcs = LocalSsrcs{.audio = 1, .video = 2, .video_rtx = 3, .content = 4, .content_rtx = 5};
  params.cname = "chorus";
  params.msid_stream_id = "chorus";
  return params;
}

void Run(std::string_view text) {
  static const AnswerParams params = LocalParams();
  const absl::StatusOr<Offer> offer = ParseOffer(text);
  if (!offer.ok()) {
    if (offer.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return;
  }
  const absl::StatusOr<Negotiated> negotiated = Negotiate(*offer, LocalCapabilities{});
  if (!negotiated.ok()) {
    if (negotiated.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return;
  }
  if (negotiated->sections.size() != offer->sections.size() || negotiated->bundle_mids.empty()) {
    std::abort();
  }
  const std::string answer = WriteAnswer(*offer, *negotiated, params);
  const absl::StatusOr<SessionDescription> parsed = ParseAnswer(answer);
  if (!parsed.ok() || parsed->sections.size() != offer->sections.size() ||
      parsed->bundle_mids != negotiated->bundle_mids || !parsed->ice_lite) {
    std::abort();
  }
  for (size_t i = 0; i < parsed->sections.size(); ++i) {
    if (parsed->sections[i].mid != offer->sections[i].mid ||
        (parsed->sections[i].port == 0) == negotiated->sections[i].accepted()) {
      std::abort();
    }
  }
}

std::vector<std::string_view> TemplateLines() {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < kTemplateOffer.size()) {
    const size_t end = kTemplateOffer.find("\r\n", start);
    lines.push_back(kTemplateOffer.substr(start, end + 2 - start));
    start = end + 2;
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Run(input);
  (void)ParseAnswer(input);

  if (size >= kSha256Bytes) {
    const std::span<const uint8_t, kSha256Bytes> bytes(data, kSha256Bytes);
    const absl::StatusOr<Sha256Fingerprint> again = ParseFingerprint(FormatFingerprint(bytes));
    if (!again.ok() || !std::equal(again->begin(), again->end(), bytes.begin())) std::abort();
  }
  (void)ParseFingerprint(input);

  if (size >= 2) {
    static const std::vector<std::string_view> lines = TemplateLines();
    const size_t at = data[0] % lines.size();
    const bool replace = data[1] & 1;
    std::string spliced;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i == at) {
        spliced.append(input.substr(2));
        spliced.append("\r\n");
        if (replace) continue;
      }
      spliced.append(lines[i]);
    }
    Run(spliced);
  }
  return 0;
}
