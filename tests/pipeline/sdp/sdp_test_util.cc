#include "tests/pipeline/sdp/sdp_test_util.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace chorus::sdp::testing {

const std::vector<std::string>& FixtureNames() {
  static const std::vector<std::string> names = {
      "chromium_camera", "chromium_h264",           "chromium_screen", "chromium_screen_balanced",
      "firefox_camera",  "firefox_screen_balanced", "aiortc_camera",
  };
  return names;
}

std::string ReadFixture(std::string_view name) {
  const std::string path = std::string(CHORUS_SDP_TESTDATA_DIR) + "/" + std::string(name) + ".sdp";
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string MinimalOffer() {
  return "v=0\n"
         "o=- 4611731400430051336 2 IN IP4 127.0.0.1\n"
         "s=-\n"
         "t=0 0\n"
         "a=group:BUNDLE a v\n"
         "a=ice-ufrag:Ufr4\n"
         "a=ice-pwd:0123456789abcdefABCDEF\n"
         "a=fingerprint:sha-256 "
         "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
         "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\n"
         "a=setup:actpass\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\n"
         "c=IN IP4 0.0.0.0\n"
         "a=mid:a\n"
         "a=sendrecv\n"
         "a=rtcp-mux\n"
         "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"
         "a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:mid\n"
         "a=rtpmap:111 opus/48000/2\n"
         "a=fmtp:111 minptime=10;useinbandfec=1\n"
         "a=rtpmap:0 PCMU/8000\n"
         "a=ssrc:1111 cname:peer\n"
         "m=video 9 UDP/TLS/RTP/SAVPF 96 97\n"
         "c=IN IP4 0.0.0.0\n"
         "a=mid:v\n"
         "a=sendrecv\n"
         "a=rtcp-mux\n"
         "a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:mid\n"
         "a=rtpmap:96 VP8/90000\n"
         "a=rtcp-fb:96 nack\n"
         "a=rtcp-fb:96 nack pli\n"
         "a=rtpmap:97 rtx/90000\n"
         "a=fmtp:97 apt=96\n"
         "a=ssrc-group:FID 2222 3333\n"
         "a=ssrc:2222 cname:peer\n"
         "a=ssrc:3333 cname:peer\n";
}

std::string Replace(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) {
    std::fprintf(stderr, "Replace: text to replace not found\n");
    std::abort();
  }
  text.replace(at, from.size(), to);
  return text;
}

AnswerParams TestAnswerParams() {
  AnswerParams params;
  params.ice = IceCredentials{.ufrag = "ChoR", .pwd = "chorusChorusChorus0123+/"};
  for (size_t i = 0; i < params.fingerprint_sha256.size(); ++i) {
    params.fingerprint_sha256[i] = static_cast<uint8_t>(0xA0 + i);
  }
  params.candidates = {{.ip = "192.0.2.10", .port = 40000}, {.ip = "2001:db8::10", .port = 40000}};
  params.ssrcs = LocalSsrcs{
      .audio = 1001, .video = 1002, .video_rtx = 1003, .content = 1004, .content_rtx = 1005};
  params.cname = "chorus-mix";
  params.msid_stream_id = "chorus";
  params.session_id = 1234567890123456789u;
  return params;
}

}  // namespace chorus::sdp::testing
