#include "pipeline/sdp/parser.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sdp/fingerprint.h"
#include "tests/pipeline/sdp/sdp_test_util.h"

namespace chorus::sdp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MinimalOffer;
using testing::ReadFixture;
using testing::Replace;

std::string WithoutCarriageReturns(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '\r'), text.end());
  return text;
}

TEST(ParseOfferTest, ChromiumCameraOffer) {
  const absl::StatusOr<Offer> offer = ParseOffer(ReadFixture("chromium_camera"));
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->session_id, "3485545266576109391");
  EXPECT_THAT(offer->bundle_mids, ElementsAre("0", "1"));
  EXPECT_TRUE(offer->extmap_allow_mixed);
  EXPECT_FALSE(offer->ice_lite);
  EXPECT_EQ(offer->ice.ufrag, "ajmw");
  EXPECT_EQ(offer->ice.pwd, "rb6dTZ4AkJcNrpfahY3VG5Hr");
  EXPECT_EQ(FormatFingerprint(offer->fingerprint_sha256),
            "8D:39:28:3D:49:E3:41:4A:95:D9:9A:07:23:04:81:95:AF:37:13:CA:00:81:1A:3F:29:30:67:84:"
            "D4:A2:DF:58");
  EXPECT_EQ(offer->setup, SetupRole::kActPass);
  EXPECT_EQ(offer->tagged_section, 0u);
  ASSERT_EQ(offer->sections.size(), 2u);

  const MediaSection& audio = offer->sections[0];
  EXPECT_EQ(audio.kind, MediaKind::kAudio);
  EXPECT_EQ(audio.mid, "0");
  EXPECT_EQ(audio.port, 38043);
  EXPECT_EQ(audio.direction, Direction::kSendRecv);
  EXPECT_TRUE(audio.rtcp_mux);
  EXPECT_TRUE(audio.rtcp_rsize);
  ASSERT_EQ(audio.payload_formats.size(), 8u);
  const PayloadFormat& opus = audio.payload_formats[0];
  EXPECT_EQ(opus.payload_type, 111);
  EXPECT_EQ(opus.encoding_name, "opus");
  EXPECT_EQ(opus.clock_rate_hz, 48000u);
  EXPECT_EQ(opus.channels, 2u);
  EXPECT_EQ(opus.parameters, "minptime=10;useinbandfec=1");
  EXPECT_THAT(opus.feedback, ElementsAre("transport-cc"));
  ASSERT_EQ(audio.header_extensions.size(), 4u);
  EXPECT_EQ(audio.header_extensions[0].id, 1);
  EXPECT_EQ(audio.header_extensions[0].uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
  ASSERT_EQ(audio.ssrcs.size(), 1u);
  EXPECT_EQ(audio.ssrcs[0].ssrc, 2979389776u);
  EXPECT_EQ(audio.ssrcs[0].cname, "j/VogKHl64kuaPxD");
  EXPECT_EQ(audio.ssrcs[0].msid_track, "40e86a58-fa13-451d-a62c-a45eac1f0512");
  EXPECT_EQ(audio.msid_stream, "b3e34417-15ce-4b2f-8613-81ac4cf6d0d9");
  ASSERT_EQ(audio.candidates.size(), 4u);
  EXPECT_EQ(audio.candidates[0].address, "192.0.2.2");
  EXPECT_EQ(audio.candidates[0].port, 38043);
  EXPECT_EQ(audio.candidates[0].priority, 2122194687u);
  EXPECT_EQ(audio.candidates[0].transport, CandidateTransport::kUdp);
  EXPECT_EQ(audio.candidates[1].address, "fd00::2");
  EXPECT_EQ(audio.candidates[2].transport, CandidateTransport::kTcp);
  EXPECT_EQ(audio.candidates[2].type, CandidateType::kHost);

  const MediaSection& video = offer->sections[1];
  EXPECT_EQ(video.kind, MediaKind::kVideo);
  EXPECT_EQ(video.port, 9);
  EXPECT_EQ(video.payload_formats.size(), 23u);
  const PayloadFormat* vp8 = video.FindPayloadFormat(96);
  ASSERT_NE(vp8, nullptr);
  EXPECT_EQ(vp8->encoding_name, "VP8");
  EXPECT_THAT(vp8->feedback,
              ElementsAre("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"));
  const PayloadFormat* rtx = video.FindPayloadFormat(97);
  ASSERT_NE(rtx, nullptr);
  EXPECT_EQ(rtx->encoding_name, "rtx");
  EXPECT_EQ(rtx->parameters, "apt=96");
  EXPECT_EQ(video.header_extensions.size(), 11u);
  ASSERT_EQ(video.ssrc_groups.size(), 1u);
  EXPECT_EQ(video.ssrc_groups[0].semantics, "FID");
  EXPECT_THAT(video.ssrc_groups[0].ssrcs, ElementsAre(3368089712u, 4129544251u));
  EXPECT_TRUE(video.candidates.empty());
  ASSERT_TRUE(video.ice.has_value());
  EXPECT_EQ(video.ice->ufrag, "ajmw");
}

TEST(ParseOfferTest, FirefoxOfferWithSessionLevelAttributesAndBundleOnlyVideo) {
  const absl::StatusOr<Offer> offer = ParseOffer(ReadFixture("firefox_camera"));
  ASSERT_TRUE(offer.ok()) << offer.status();
  ASSERT_EQ(offer->sections.size(), 2u);
  // Fingerprint at session level, ICE credentials in each section.
  EXPECT_EQ(FormatFingerprint(offer->fingerprint_sha256).substr(0, 5), "D4:BD");
  EXPECT_EQ(offer->ice.ufrag, "2fbf8b34");
  const MediaSection& audio = offer->sections[0];
  EXPECT_TRUE(audio.extmap_allow_mixed);
  EXPECT_EQ(audio.candidates.size(), 8u);  // components 1 and 2, UDP and TCP, IPv4 and IPv6
  EXPECT_EQ(audio.candidates[4].component, 2u);
  ASSERT_EQ(audio.header_extensions.size(), 4u);
  EXPECT_EQ(audio.header_extensions[1].direction, Direction::kRecvOnly);
  EXPECT_EQ(audio.msid_stream, "{e957b56c-a8e8-4052-b4af-59e5420738bd}");
  const MediaSection& video = offer->sections[1];
  EXPECT_EQ(video.port, 0);
  EXPECT_TRUE(video.bundle_only);
  EXPECT_FALSE(video.rejected());
  EXPECT_EQ(video.FindPayloadFormat(120)->parameters, "max-fs=12288;max-fr=60");
  ASSERT_EQ(video.ssrcs.size(), 2u);
}

TEST(ParseOfferTest, AiortcOfferTakesTheTransportOfTheBundleTag) {
  // aiortc gives each section its own ICE credentials; the BUNDLE tag (mid 0) is what counts.
  const absl::StatusOr<Offer> offer = ParseOffer(ReadFixture("aiortc_camera"));
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->ice.ufrag, "gCwP");
  EXPECT_EQ(offer->ice.pwd, "SCXOQLFdwWLQZLFpVHIqtD");
  EXPECT_EQ(offer->sections[1].ice->ufrag, "5hJC");
  EXPECT_TRUE(offer->sections[0].end_of_candidates);
  EXPECT_FALSE(offer->sections[0].rtcp_rsize);
}

TEST(ParseOfferTest, EveryFixtureParsesWithLfLineEndingsToo) {
  for (const std::string& name : testing::FixtureNames()) {
    const std::string crlf = ReadFixture(name);
    ASSERT_NE(crlf.find("\r\n"), std::string::npos) << name;
    const absl::StatusOr<Offer> a = ParseOffer(crlf);
    const absl::StatusOr<Offer> b = ParseOffer(WithoutCarriageReturns(crlf));
    ASSERT_TRUE(a.ok()) << name << ": " << a.status();
    ASSERT_TRUE(b.ok()) << name << ": " << b.status();
    EXPECT_EQ(a->sections.size(), b->sections.size());
    EXPECT_EQ(a->ice.pwd, b->ice.pwd);
    EXPECT_EQ(a->fingerprint_sha256, b->fingerprint_sha256);
  }
}

TEST(ParseOfferTest, MinimalOfferAndItsDefaults) {
  const absl::StatusOr<Offer> offer = ParseOffer(MinimalOffer());
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->sections[0].ice->ufrag, "Ufr4");  // inherited from the session level
  EXPECT_EQ(offer->sections[1].setup, SetupRole::kActPass);
  EXPECT_EQ(offer->sections[0].content, Content::kNone);
  EXPECT_EQ(offer->sections[0].FindPayloadFormat(0)->encoding_name, "PCMU");
  EXPECT_EQ(offer->sections[0].FindPayloadFormat(0)->channels, 1u);
  EXPECT_EQ(offer->sections[0].FindPayloadFormat(5), nullptr);
}

TEST(ParseOfferTest, ContentSimulcastWildcardFeedbackAndSessionDirection) {
  std::string sdp = Replace(MinimalOffer(), "a=setup:actpass\n", "a=setup:actpass\na=recvonly\n");
  sdp = Replace(sdp, "a=mid:a\na=sendrecv\n", "a=mid:a\n");
  sdp = Replace(sdp, "a=mid:v\n",
                "a=mid:v\na=content:alt,slides\na=rid:h send\na=rid:l send\n"
                "a=simulcast:send h;l\na=rtcp-fb:* ccm fir\na=rtcp-fb:* nack\n");
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->sections[0].direction, Direction::kRecvOnly);  // the session's default
  EXPECT_EQ(offer->sections[1].direction, Direction::kSendRecv);  // its own line wins
  const MediaSection& video = offer->sections[1];
  EXPECT_EQ(video.content, Content::kSlides);
  EXPECT_TRUE(video.has_simulcast);
  EXPECT_EQ(video.rid_count, 2u);
  EXPECT_THAT(video.FindPayloadFormat(96)->feedback, ElementsAre("nack", "nack pli", "ccm fir"));
  EXPECT_THAT(video.FindPayloadFormat(97)->feedback, ElementsAre("ccm fir", "nack"));
}

TEST(ParseOfferTest, UnsupportedSectionsAreKeptWithTheirFormats) {
  std::string sdp = Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE a v d");
  sdp +=
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
      "c=IN IP4 0.0.0.0\n"
      "a=mid:d\n"
      "a=sctp-port:5000\n"
      "a=fmtp:webrtc-datachannel whatever\n"
      "m=audio 0 RTP/AVP 0\n"
      "a=mid:old\n";
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  ASSERT_TRUE(offer.ok()) << offer.status();
  ASSERT_EQ(offer->sections.size(), 4u);
  EXPECT_EQ(offer->sections[2].kind, MediaKind::kUnsupported);
  EXPECT_EQ(offer->sections[2].media, "application");
  EXPECT_EQ(offer->sections[2].protocol, "UDP/DTLS/SCTP");
  EXPECT_THAT(offer->sections[2].formats, ElementsAre("webrtc-datachannel"));
  EXPECT_TRUE(offer->sections[2].payload_formats.empty());
  EXPECT_EQ(offer->sections[3].kind, MediaKind::kUnsupported);  // not the WebRTC profile
  EXPECT_TRUE(offer->sections[3].rejected());
}

TEST(ParseOfferTest, TransportOfTheFirstBundledSectionNotRejected) {
  // The first mid of the group names a rejected section: the next one is the tag.
  std::string sdp = Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE x a v");
  sdp = Replace(sdp, "m=audio 9 ", "m=audio 0 UDP/TLS/RTP/SAVPF 0\na=mid:x\nm=audio 9 ");
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->tagged_section, 1u);
}

TEST(ParseOfferTest, OnlySha256IsUsedAmongSeveralFingerprints) {
  const std::string sdp =
      Replace(MinimalOffer(), "a=fingerprint:sha-256",
              "a=fingerprint:sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33\n"
              "a=fingerprint:SHA-256");
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->fingerprint_sha256[1], 0x11);
}

TEST(ParseAnswerTest, AcceptsPassiveAndIceLiteAndRefusesActpass) {
  std::string answer = Replace(MinimalOffer(), "a=setup:actpass", "a=setup:passive");
  answer = Replace(answer, "s=-\n", "s=-\na=ice-lite\n");
  const absl::StatusOr<SessionDescription> parsed = ParseAnswer(answer);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->ice_lite);
  EXPECT_EQ(parsed->setup, SetupRole::kPassive);

  const absl::StatusOr<SessionDescription> actpass = ParseAnswer(MinimalOffer());
  ASSERT_FALSE(actpass.ok());
  EXPECT_THAT(std::string(actpass.status().message()), HasSubstr("actpass"));
  // The same ice-lite description is refused as an offer: two lite agents never connect.
  const absl::StatusOr<Offer> lite_offer =
      ParseOffer(Replace(MinimalOffer(), "s=-\n", "s=-\na=ice-lite\n"));
  ASSERT_FALSE(lite_offer.ok());
  EXPECT_THAT(std::string(lite_offer.status().message()), HasSubstr("ICE-lite"));
}

}  // namespace
}  // namespace chorus::sdp
