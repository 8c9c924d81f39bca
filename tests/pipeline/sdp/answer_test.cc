#include "pipeline/sdp/answer.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sdp/fingerprint.h"
#include "pipeline/sdp/negotiation.h"
#include "pipeline/sdp/parser.h"
#include "tests/pipeline/sdp/sdp_test_util.h"

namespace chorus::sdp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MinimalOffer;
using ::testing::Not;
using testing::ReadFixture;
using testing::Replace;
using testing::TestAnswerParams;

std::string AnswerTo(const std::string& sdp, const AnswerParams& params = TestAnswerParams()) {
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  EXPECT_TRUE(offer.ok()) << offer.status();
  if (!offer.ok()) return "";
  const absl::StatusOr<Negotiated> negotiated = Negotiate(*offer, LocalCapabilities{});
  EXPECT_TRUE(negotiated.ok()) << negotiated.status();
  if (!negotiated.ok()) return "";
  return WriteAnswer(*offer, *negotiated, params);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find("\r\n", start);
    EXPECT_NE(end, std::string::npos) << "every line ends in CRLF";
    if (end == std::string::npos) break;
    lines.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

constexpr char kFingerprintLine[] =
    "a=fingerprint:sha-256 A0:A1:A2:A3:A4:A5:A6:A7:A8:A9:AA:AB:AC:AD:AE:AF:B0:B1:B2:B3:B4:B5:B6:B7:"
    "B8:B9:BA:BB:BC:BD:BE:BF";

// The whole answer to the minimal offer, line by line: what a browser receives.
TEST(WriteAnswerTest, AnswerToTheMinimalOffer) {
  const std::vector<std::string> expected = {
      "v=0",
      "o=- 1234567890123456789 2 IN IP4 0.0.0.0",
      "s=-",
      "t=0 0",
      "a=ice-lite",
      "a=group:BUNDLE a v",
      "a=msid-semantic: WMS chorus",
      "m=audio 40000 UDP/TLS/RTP/SAVPF 111",
      "c=IN IP4 192.0.2.10",
      "a=mid:a",
      "a=ice-ufrag:ChoR",
      "a=ice-pwd:chorusChorusChorus0123+/",
      kFingerprintLine,
      "a=setup:passive",
      "a=sendrecv",
      "a=rtcp-mux",
      "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
      "a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:mid",
      "a=rtpmap:111 opus/48000/2",
      "a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1",
      "a=msid:chorus audio",
      "a=ssrc:1001 cname:chorus-mix",
      "a=ssrc:1001 msid:chorus audio",
      "a=candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host",
      "a=candidate:2 1 udp 2130706175 2001:db8::10 40000 typ host",
      "a=end-of-candidates",
      "m=video 40000 UDP/TLS/RTP/SAVPF 96 97",
      "c=IN IP4 192.0.2.10",
      "a=mid:v",
      "a=ice-ufrag:ChoR",
      "a=ice-pwd:chorusChorusChorus0123+/",
      kFingerprintLine,
      "a=setup:passive",
      "a=sendrecv",
      "a=rtcp-mux",
      "a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:mid",
      "a=rtpmap:96 VP8/90000",
      "a=rtcp-fb:96 nack",
      "a=rtcp-fb:96 nack pli",
      "a=rtpmap:97 rtx/90000",
      "a=fmtp:97 apt=96",
      "a=msid:chorus video",
      "a=ssrc-group:FID 1002 1003",
      "a=ssrc:1002 cname:chorus-mix",
      "a=ssrc:1002 msid:chorus video",
      "a=ssrc:1003 cname:chorus-mix",
      "a=ssrc:1003 msid:chorus video",
      "a=candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host",
      "a=candidate:2 1 udp 2130706175 2001:db8::10 40000 typ host",
      "a=end-of-candidates",
  };
  EXPECT_THAT(Lines(AnswerTo(MinimalOffer())), ::testing::ElementsAreArray(expected));
}

TEST(WriteAnswerTest, ChromiumAnswerCarriesWhatWasNegotiated) {
  const std::string answer = AnswerTo(ReadFixture("chromium_camera"));
  const std::vector<std::string> lines = Lines(answer);
  auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  EXPECT_TRUE(has("a=extmap-allow-mixed"));
  EXPECT_TRUE(has("m=audio 40000 UDP/TLS/RTP/SAVPF 111"));
  EXPECT_TRUE(has("a=rtcp-rsize"));
  EXPECT_TRUE(has("a=rtcp-fb:111 transport-cc"));
  EXPECT_TRUE(
      has("a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"));
  EXPECT_TRUE(has("a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid"));
  EXPECT_TRUE(has("m=video 40000 UDP/TLS/RTP/SAVPF 96 97"));
  EXPECT_TRUE(has("a=rtcp-fb:96 goog-remb"));
  EXPECT_TRUE(has("a=rtcp-fb:96 ccm fir"));
  // Nothing Chorus does not use: no abs-send-time, no other codecs, no trickle.
  EXPECT_THAT(answer, Not(HasSubstr("abs-send-time")));
  EXPECT_THAT(answer, Not(HasSubstr("H264")));
  EXPECT_THAT(answer, Not(HasSubstr("red/")));
  EXPECT_THAT(answer, Not(HasSubstr("trickle")));
  EXPECT_THAT(answer, Not(HasSubstr("actpass")));
  // Nothing of the browser's transport comes back.
  EXPECT_THAT(answer, Not(HasSubstr("ajmw")));
  EXPECT_THAT(answer, Not(HasSubstr("8D:39:28")));
}

TEST(WriteAnswerTest, AnswersParseBackAsAnswers) {
  for (const std::string& name : testing::FixtureNames()) {
    const absl::StatusOr<Offer> offer = ParseOffer(ReadFixture(name));
    ASSERT_TRUE(offer.ok()) << name;
    const absl::StatusOr<Negotiated> negotiated = Negotiate(*offer, LocalCapabilities{});
    ASSERT_TRUE(negotiated.ok()) << name;
    const AnswerParams params = TestAnswerParams();
    const std::string text = WriteAnswer(*offer, *negotiated, params);
    const absl::StatusOr<SessionDescription> answer = ParseAnswer(text);
    ASSERT_TRUE(answer.ok()) << name << ": " << answer.status() << "\n" << text;
    EXPECT_TRUE(answer->ice_lite);
    EXPECT_EQ(answer->setup, SetupRole::kPassive);
    EXPECT_EQ(answer->fingerprint_sha256, params.fingerprint_sha256);
    EXPECT_EQ(answer->ice.ufrag, params.ice.ufrag);
    EXPECT_EQ(answer->ice.pwd, params.ice.pwd);
    EXPECT_EQ(answer->bundle_mids, negotiated->bundle_mids);
    ASSERT_EQ(answer->sections.size(), offer->sections.size()) << name;
    for (size_t i = 0; i < offer->sections.size(); ++i) {
      const MediaSection& section = answer->sections[i];
      const NegotiatedSection& chosen = negotiated->sections[i];
      EXPECT_EQ(section.mid, offer->sections[i].mid);
      EXPECT_EQ(section.media, offer->sections[i].media);
      if (!chosen.accepted()) {
        EXPECT_EQ(section.port, 0) << name << " " << i;
        continue;
      }
      EXPECT_EQ(section.port, 40000);
      EXPECT_EQ(section.direction, chosen.direction);
      EXPECT_TRUE(section.rtcp_mux);
      EXPECT_EQ(section.rtcp_rsize, offer->sections[i].rtcp_rsize);
      ASSERT_FALSE(section.payload_formats.empty());
      const PayloadFormat& format = section.payload_formats[0];
      EXPECT_EQ(format.payload_type, chosen.codec->payload_type);
      EXPECT_EQ(format.encoding_name,
                offer->sections[i].FindPayloadFormat(format.payload_type)->encoding_name);
      EXPECT_EQ(section.payload_formats.size(), chosen.codec->rtx_payload_type ? 2u : 1u);
      EXPECT_EQ(section.candidates.size(), 2u);
      EXPECT_TRUE(section.end_of_candidates);
    }
  }
}

TEST(WriteAnswerTest, RejectedSectionsKeepTheirPlaceAndMid) {
  std::string sdp = Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE a d v");
  sdp = Replace(sdp, "m=video",
                "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\nc=IN IP4 0.0.0.0\na=mid:d\n"
                "a=sctp-port:5000\nm=video");
  sdp = Replace(sdp, "a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP9/90000");
  const std::string answer = AnswerTo(sdp);
  EXPECT_THAT(answer, HasSubstr("a=group:BUNDLE a\r\n"));
  const std::string transport =
      "a=ice-ufrag:ChoR\r\na=ice-pwd:chorusChorusChorus0123+/\r\n"
      "a=fingerprint:sha-256 A0:A1:A2:A3:A4:A5:A6:A7:A8:A9:AA:AB:AC:AD:AE:AF:B0:B1:B2:B3:B4:B5:B6:"
      "B7:B8:B9:BA:BB:BC:BD:BE:BF\r\na=setup:passive\r\n";
  EXPECT_THAT(answer, HasSubstr("m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                                "c=IN IP4 0.0.0.0\r\na=mid:d\r\n" +
                                transport + "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"));
  EXPECT_THAT(answer,
              HasSubstr("m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\n" +
                        transport + "a=inactive\r\na=rtcp-mux\r\n"));
  EXPECT_TRUE(answer.ends_with("a=rtcp-mux\r\n"));
  EXPECT_THAT(answer, Not(HasSubstr("VP9")));
  EXPECT_THAT(answer, Not(HasSubstr("a=ssrc:1002")));
}

TEST(WriteAnswerTest, DirectionDecidesWhetherChorusAnnouncesStreams) {
  const std::string recv_only =
      AnswerTo(Replace(MinimalOffer(), "a=mid:v\na=sendrecv", "a=mid:v\na=sendonly"));
  EXPECT_THAT(recv_only, HasSubstr("a=mid:v\r\na=ice-ufrag"));
  EXPECT_THAT(recv_only, HasSubstr("a=recvonly\r\n"));
  EXPECT_THAT(recv_only, Not(HasSubstr("a=ssrc:1002")));
  EXPECT_THAT(recv_only, Not(HasSubstr("a=msid:chorus video")));

  const std::string send_only =
      AnswerTo(Replace(MinimalOffer(), "a=mid:v\na=sendrecv", "a=mid:v\na=recvonly"));
  EXPECT_THAT(send_only, HasSubstr("a=sendonly\r\n"));
  EXPECT_THAT(send_only, HasSubstr("a=ssrc:1002 cname:chorus-mix\r\n"));
}

TEST(WriteAnswerTest, ScreenShareUsesTheContentSsrcs) {
  const std::string answer = AnswerTo(ReadFixture("chromium_screen"));
  EXPECT_THAT(answer, HasSubstr("a=ssrc-group:FID 1002 1003\r\n"));
  EXPECT_THAT(answer, HasSubstr("a=ssrc-group:FID 1004 1005\r\n"));
  EXPECT_THAT(answer, HasSubstr("a=msid:chorus content\r\n"));
  EXPECT_THAT(answer, HasSubstr("a=group:BUNDLE 0 1 2\r\n"));
}

TEST(WriteAnswerTest, UnannouncedSsrcsAndIpv6DefaultAddress) {
  AnswerParams params = TestAnswerParams();
  params.ssrcs = LocalSsrcs{};
  params.candidates = {{.ip = "2001:db8::1", .port = 5004}};
  const std::string answer = AnswerTo(MinimalOffer(), params);
  EXPECT_THAT(answer, HasSubstr("m=audio 5004 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP6 2001:db8::1\r\n"));
  EXPECT_THAT(answer, HasSubstr("a=msid:chorus audio\r\n"));
  EXPECT_THAT(answer, Not(HasSubstr("a=ssrc")));
  EXPECT_TRUE(ParseAnswer(answer).ok());
}

TEST(ValidateAnswerParamsTest, RefusesWhatWouldBreakTheAnswer) {
  EXPECT_TRUE(ValidateAnswerParams(TestAnswerParams()).ok());
  std::vector<AnswerParams> bad(9, TestAnswerParams());
  bad[0].ice.ufrag = "abc";
  bad[1].ice.pwd = "short";
  bad[2].ice.pwd = std::string(22, '-');
  bad[3].candidates.clear();
  bad[4].candidates[0].ip = "chorus.example";
  bad[5].candidates[1].port = 0;
  bad[6].cname = "two words";
  bad[7].msid_stream_id = "line\r\nbreak";
  bad[8].ssrcs.video = 0;  // RTX without its media SSRC
  for (const AnswerParams& params : bad) {
    EXPECT_EQ(ValidateAnswerParams(params).code(), absl::StatusCode::kInvalidArgument);
  }
  AnswerParams big_session = TestAnswerParams();
  big_session.session_id = uint64_t{1} << 63;
  EXPECT_FALSE(ValidateAnswerParams(big_session).ok());
}

}  // namespace
}  // namespace chorus::sdp
