#include "pipeline/sdp/negotiation.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/sdp/fingerprint.h"
#include "pipeline/sdp/parser.h"
#include "tests/pipeline/sdp/sdp_test_util.h"

namespace chorus::sdp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MinimalOffer;
using testing::ReadFixture;
using testing::Replace;

Negotiated NegotiateText(const std::string& sdp, const LocalCapabilities& capabilities = {}) {
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  EXPECT_TRUE(offer.ok()) << offer.status();
  if (!offer.ok()) return {};
  absl::StatusOr<Negotiated> negotiated = Negotiate(*offer, capabilities);
  EXPECT_TRUE(negotiated.ok()) << negotiated.status();
  return negotiated.ok() ? *std::move(negotiated) : Negotiated{};
}

absl::Status NegotiationError(const std::string& sdp) {
  const absl::StatusOr<Offer> offer = ParseOffer(sdp);
  if (!offer.ok()) return offer.status();
  return Negotiate(*offer, LocalCapabilities{}).status();
}

// An offer with the minimal audio section and, instead of its video section, `video_formats` on
// the m= line followed by `video_lines`.
std::string OfferWithVideo(const std::string& video_formats, const std::string& video_lines) {
  std::string sdp = MinimalOffer();
  sdp = sdp.substr(0, sdp.find("m=video"));
  return sdp + "m=video 9 UDP/TLS/RTP/SAVPF " + video_formats +
         "\nc=IN IP4 0.0.0.0\na=mid:v\na=rtcp-mux\n" + video_lines;
}

TEST(NegotiateTest, ChromiumCamera) {
  const Negotiated n = NegotiateText(ReadFixture("chromium_camera"));
  ASSERT_EQ(n.sections.size(), 2u);
  EXPECT_EQ(n.audio_section, 0u);
  EXPECT_EQ(n.camera_section, 1u);
  EXPECT_FALSE(n.screen_share_section.has_value());
  EXPECT_THAT(n.bundle_mids, ElementsAre("0", "1"));
  EXPECT_EQ(n.remote_ice.ufrag, "ajmw");
  EXPECT_EQ(FormatFingerprint(n.remote_fingerprint_sha256).substr(0, 8), "8D:39:28");
  EXPECT_EQ(n.remote_candidates.size(), 4u);
  EXPECT_TRUE(n.extmap_allow_mixed);

  const NegotiatedSection& audio = n.sections[0];
  EXPECT_EQ(audio.role, SectionRole::kAudio);
  EXPECT_EQ(audio.direction, Direction::kSendRecv);
  ASSERT_TRUE(audio.codec.has_value());
  EXPECT_EQ(audio.codec->codec, Codec::kOpus);
  EXPECT_EQ(audio.codec->payload_type, 111);
  EXPECT_EQ(audio.codec->parameters, "minptime=10;useinbandfec=1;usedtx=1");
  EXPECT_TRUE(audio.codec->feedback.transport_cc);
  EXPECT_FALSE(audio.codec->feedback.nack);
  EXPECT_FALSE(audio.codec->rtx_payload_type.has_value());
  EXPECT_EQ(audio.extensions.audio_level, 1);
  EXPECT_EQ(audio.extensions.transport_cc, 3);
  EXPECT_EQ(audio.extensions.mid, 4);
  EXPECT_TRUE(audio.rtcp_rsize);
  ASSERT_EQ(audio.remote_streams.size(), 1u);
  EXPECT_EQ(audio.remote_streams[0].ssrc, 2979389776u);
  EXPECT_EQ(audio.remote_streams[0].cname, "j/VogKHl64kuaPxD");

  const NegotiatedSection& video = n.sections[1];
  EXPECT_EQ(video.role, SectionRole::kCamera);
  ASSERT_TRUE(video.codec.has_value());
  EXPECT_EQ(video.codec->codec, Codec::kVp8);
  EXPECT_EQ(video.codec->payload_type, 96);
  EXPECT_EQ(video.codec->rtx_payload_type, 97);
  EXPECT_TRUE(video.codec->parameters.empty());
  const RtcpFeedback& feedback = video.codec->feedback;
  EXPECT_TRUE(feedback.nack && feedback.nack_pli && feedback.ccm_fir && feedback.goog_remb &&
              feedback.transport_cc);
  EXPECT_EQ(video.extensions.audio_level, 0);
  EXPECT_EQ(video.extensions.transport_cc, 3);
  EXPECT_EQ(video.extensions.mid, 4);
  ASSERT_EQ(video.remote_streams.size(), 1u);
  EXPECT_EQ(video.remote_streams[0].ssrc, 3368089712u);
  EXPECT_EQ(video.remote_streams[0].rtx_ssrc, 4129544251u);
}

TEST(NegotiateTest, ChromiumPreferringH264GetsConstrainedBaseline) {
  // The offer lists 42001f (baseline without constraint_set1) first: Chorus takes 42e01f.
  const Negotiated n = NegotiateText(ReadFixture("chromium_h264"));
  const NegotiatedSection& video = n.sections[1];
  ASSERT_TRUE(video.codec.has_value());
  EXPECT_EQ(video.codec->codec, Codec::kH264);
  EXPECT_EQ(video.codec->payload_type, 108);
  EXPECT_EQ(video.codec->rtx_payload_type, 109);
  EXPECT_EQ(video.codec->parameters,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
}

TEST(NegotiateTest, ChromiumScreenShareIsTheSecondVideo) {
  for (const char* name : {"chromium_screen", "chromium_screen_balanced"}) {
    const Negotiated n = NegotiateText(ReadFixture(name));
    ASSERT_EQ(n.sections.size(), 3u) << name;
    EXPECT_EQ(n.audio_section, 0u);
    EXPECT_EQ(n.camera_section, 1u);
    EXPECT_EQ(n.screen_share_section, 2u);
    EXPECT_EQ(n.sections[2].role, SectionRole::kScreenShare);
    EXPECT_EQ(n.sections[2].codec->codec, Codec::kVp8);
    EXPECT_THAT(n.bundle_mids, ElementsAre("0", "1", "2"));
    ASSERT_EQ(n.sections[2].remote_streams.size(), 1u);
    EXPECT_NE(n.sections[2].remote_streams[0].ssrc, n.sections[1].remote_streams[0].ssrc);
  }
}

TEST(NegotiateTest, FirefoxBundleOnlyVideo) {
  const Negotiated n = NegotiateText(ReadFixture("firefox_camera"));
  EXPECT_EQ(n.sections[0].codec->payload_type, 109);
  EXPECT_EQ(n.sections[0].extensions.audio_level, 1);
  EXPECT_EQ(n.sections[0].extensions.mid, 3);
  EXPECT_EQ(n.sections[0].extensions.transport_cc, 7);
  EXPECT_TRUE(n.sections[0].extmap_allow_mixed);
  const NegotiatedSection& video = n.sections[1];
  EXPECT_EQ(video.role, SectionRole::kCamera);
  EXPECT_EQ(video.codec->payload_type, 120);
  EXPECT_EQ(video.codec->rtx_payload_type, 124);
  EXPECT_TRUE(video.codec->parameters.empty());  // Firefox's max-fs/max-fr are its own limits
  EXPECT_EQ(video.extensions.mid, 3);
  EXPECT_EQ(video.remote_streams.size(), 1u);
  EXPECT_EQ(n.remote_ice.ufrag, "2fbf8b34");
}

TEST(NegotiateTest, AiortcOffer) {
  const Negotiated n = NegotiateText(ReadFixture("aiortc_camera"));
  EXPECT_EQ(n.sections[0].codec->payload_type, 96);
  EXPECT_EQ(n.sections[0].extensions.audio_level, 2);
  EXPECT_EQ(n.sections[0].extensions.mid, 1);
  EXPECT_FALSE(n.sections[0].codec->feedback.transport_cc);
  const NegotiatedSection& video = n.sections[1];
  EXPECT_EQ(video.codec->codec, Codec::kVp8);
  EXPECT_EQ(video.codec->payload_type, 97);
  EXPECT_EQ(video.codec->rtx_payload_type, 98);
  EXPECT_TRUE(video.codec->feedback.nack && video.codec->feedback.nack_pli &&
              video.codec->feedback.goog_remb);
  EXPECT_FALSE(video.codec->feedback.ccm_fir || video.codec->feedback.transport_cc);
  EXPECT_EQ(n.remote_ice.ufrag, "gCwP");  // the BUNDLE tag's, not the video section's
  EXPECT_EQ(n.remote_candidates.size(), 2u);
}

TEST(NegotiateTest, AudioWithoutOpusFailsTheWholeNegotiation) {
  const std::string sdp =
      Replace(MinimalOffer(), "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 ISAC/16000");
  const absl::Status status = NegotiationError(sdp);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "no common audio codec (Chorus needs Opus)");
  // Opus in mono is not WebRTC's Opus (RFC 7587 always signals /2).
  EXPECT_FALSE(NegotiationError(Replace(MinimalOffer(), "opus/48000/2", "opus/48000")).ok());
}

TEST(NegotiateTest, VideoWithoutCommonCodecIsRejectedWhole) {
  const std::string cases[] = {
      OfferWithVideo("98", "a=rtpmap:98 VP9/90000\n"),
      OfferWithVideo("102",
                     "a=rtpmap:102 H264/90000\n"
                     "a=fmtp:102 packetization-mode=0;profile-level-id=42e01f\n"),
      OfferWithVideo("102",
                     "a=rtpmap:102 H264/90000\n"
                     "a=fmtp:102 packetization-mode=1;profile-level-id=4d001f\n"),
      OfferWithVideo("102",
                     "a=rtpmap:102 H264/90000\n"
                     "a=fmtp:102 packetization-mode=1;profile-level-id=42e028\n"),
      OfferWithVideo("102", "a=rtpmap:102 H264/90000\na=fmtp:102 packetization-mode=1\n"),
      OfferWithVideo("96", "a=rtpmap:96 VP8/48000\n"),
  };
  for (const std::string& sdp : cases) {
    const Negotiated n = NegotiateText(sdp);
    ASSERT_EQ(n.sections.size(), 2u);
    EXPECT_EQ(n.sections[1].role, SectionRole::kRejected);
    EXPECT_FALSE(n.sections[1].codec.has_value());
    EXPECT_THAT(n.sections[1].rejection_reason, HasSubstr("no common video codec"));
    EXPECT_FALSE(n.camera_section.has_value());
    EXPECT_THAT(n.bundle_mids, ElementsAre("a"));
  }
}

TEST(NegotiateTest, CapabilitiesNarrowTheChoice) {
  const std::string sdp =
      OfferWithVideo("96 97 102 103",
                     "a=rtpmap:96 VP8/90000\na=rtpmap:97 rtx/90000\na=fmtp:97 apt=96\n"
                     "a=rtpmap:102 H264/90000\n"
                     "a=fmtp:102 profile-level-id=42C01F;packetization-mode=1\n"
                     "a=rtcp-fb:102 nack\na=rtcp-fb:102 goog-remb\n"
                     "a=rtpmap:103 rtx/90000\na=fmtp:103 apt=102\n");
  EXPECT_EQ(NegotiateText(sdp).sections[1].codec->codec, Codec::kVp8);  // the offer's order

  LocalCapabilities no_vp8;
  no_vp8.vp8 = false;
  no_vp8.video_feedback.goog_remb = false;
  no_vp8.rtx = false;
  const NegotiatedCodec h264 = *NegotiateText(sdp, no_vp8).sections[1].codec;
  EXPECT_EQ(h264.codec, Codec::kH264);
  EXPECT_EQ(h264.payload_type, 102);
  EXPECT_EQ(h264.parameters, "packetization-mode=1;profile-level-id=42C01F");
  EXPECT_TRUE(h264.feedback.nack);
  EXPECT_FALSE(h264.feedback.goog_remb);
  EXPECT_FALSE(h264.rtx_payload_type.has_value());

  LocalCapabilities low_level;
  low_level.vp8 = false;
  low_level.max_h264_level_idc = 0x1e;  // 3.0: 42C01F (3.1) is too high
  EXPECT_FALSE(NegotiateText(sdp, low_level).sections[1].accepted());
}

TEST(NegotiateTest, IsUsableH264) {
  using internal::IsUsableH264;
  EXPECT_TRUE(IsUsableH264("packetization-mode=1;profile-level-id=42e01f", 0x1f));
  EXPECT_TRUE(IsUsableH264("profile-level-id=42c01f; packetization-mode=1", 0x1f));
  EXPECT_TRUE(IsUsableH264("packetization-mode=1;profile-level-id=42400d", 0x1f));
  EXPECT_TRUE(
      IsUsableH264("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42E00A", 0x1f));
  EXPECT_FALSE(IsUsableH264("packetization-mode=1;profile-level-id=42001f", 0x1f));
  EXPECT_FALSE(IsUsableH264("packetization-mode=1;profile-level-id=42e020", 0x1f));
  EXPECT_FALSE(IsUsableH264("packetization-mode=1;profile-level-id=42e000", 0x1f));
  EXPECT_FALSE(IsUsableH264("packetization-mode=1;profile-level-id=640c1f", 0x1f));
  EXPECT_FALSE(IsUsableH264("packetization-mode=1;profile-level-id=42e01", 0x1f));
  EXPECT_FALSE(IsUsableH264("packetization-mode=1;profile-level-id=42e0g1", 0x1f));
  EXPECT_FALSE(IsUsableH264("packetization-mode=0;profile-level-id=42e01f", 0x1f));
  EXPECT_FALSE(IsUsableH264("packetization-mode=2;profile-level-id=42e01f", 0x1f));
  EXPECT_FALSE(IsUsableH264("profile-level-id=42e01f", 0x1f));
  EXPECT_FALSE(IsUsableH264("", 0x1f));
}

TEST(NegotiateTest, SlidesContentAndSectionCounts) {
  std::string sdp = Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE a v w x a2");
  const std::string video = sdp.substr(sdp.find("m=video"));
  sdp += Replace(Replace(video, "a=mid:v", "a=mid:w"), "a=ssrc-group:FID 2222 3333\n", "");
  sdp += Replace(video, "a=mid:v", "a=mid:x");
  sdp = Replace(sdp, "a=mid:v\n", "a=mid:v\na=content:slides\n");
  sdp +=
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\nc=IN IP4 0.0.0.0\na=mid:a2\na=rtcp-mux\n"
      "a=rtpmap:111 opus/48000/2\n";
  const Negotiated n = NegotiateText(sdp);
  ASSERT_EQ(n.sections.size(), 5u);
  EXPECT_EQ(n.sections[1].role, SectionRole::kScreenShare);  // a=content:slides
  EXPECT_EQ(n.sections[2].role, SectionRole::kCamera);
  EXPECT_EQ(n.sections[3].role, SectionRole::kRejected);
  EXPECT_EQ(n.sections[4].role, SectionRole::kRejected);
  EXPECT_THAT(n.sections[4].rejection_reason, HasSubstr("one audio"));
  EXPECT_THAT(n.bundle_mids, ElementsAre("a", "v", "w"));

  LocalCapabilities no_screen;
  no_screen.screen_share = false;
  const Negotiated camera_only = NegotiateText(sdp, no_screen);
  EXPECT_EQ(camera_only.sections[1].role, SectionRole::kCamera);
  EXPECT_EQ(camera_only.sections[2].role, SectionRole::kRejected);
}

TEST(NegotiateTest, DirectionsAreMirrored) {
  const std::pair<const char*, Direction> cases[] = {
      {"a=sendrecv", Direction::kSendRecv},
      {"a=sendonly", Direction::kRecvOnly},
      {"a=recvonly", Direction::kSendOnly},
      {"a=inactive", Direction::kInactive},
  };
  for (const auto& [line, answer] : cases) {
    const Negotiated n = NegotiateText(
        Replace(MinimalOffer(), "a=mid:v\na=sendrecv", std::string("a=mid:v\n") + line));
    EXPECT_EQ(n.sections[1].direction, answer) << line;
    // The offerer's streams count only when it sends.
    const bool sends = answer == Direction::kSendRecv || answer == Direction::kRecvOnly;
    EXPECT_EQ(n.sections[1].remote_streams.size(), sends ? 1u : 0u) << line;
  }
}

TEST(NegotiateTest, OnlyOneByteSendRecvExtensionsAreUsed) {
  std::string sdp =
      Replace(MinimalOffer(), "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
              "a=extmap:15 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"
              "a=extmap:16 http://www.ietf.org/id/"
              "draft-holmer-rmcat-transport-wide-cc-extensions-01\n"
              "a=rtcp-fb:111 transport-cc");
  sdp = Replace(sdp, "a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:mid\na=rtpmap:111",
                "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:sdes:mid\na=rtpmap:111");
  const Negotiated n = NegotiateText(sdp);
  EXPECT_EQ(n.sections[0].extensions.audio_level, 0);
  EXPECT_EQ(n.sections[0].extensions.transport_cc, 0);
  EXPECT_EQ(n.sections[0].extensions.mid, 0);
  // transport-cc feedback without its header extension would be feedback about nothing.
  EXPECT_FALSE(n.sections[0].codec->feedback.transport_cc);
}

TEST(NegotiateTest, NothingAcceptableIsAnError) {
  const std::string sdp =
      "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\na=group:BUNDLE d v\n"
      "a=ice-ufrag:Ufr4\na=ice-pwd:0123456789abcdefABCDEF\n"
      "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\na=setup:active\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:d\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 98\na=mid:v\na=rtcp-mux\na=rtpmap:98 VP9/90000\n";
  const absl::Status status = NegotiationError(sdp);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no m-section can be accepted"));
}

TEST(NegotiateTest, RejectedBundleTagMovesTheTransportToTheNextSection) {
  // An offer whose BUNDLE tag is a data channel: Chorus rejects it and the audio section, with
  // its own credentials, becomes the tag of the answer.
  std::string sdp = Replace(MinimalOffer(), "a=group:BUNDLE a v", "a=group:BUNDLE d a v");
  sdp = Replace(sdp, "m=audio 9 ",
                "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:d\nm=audio 9 ");
  sdp = Replace(sdp, "a=mid:a\n", "a=mid:a\na=ice-ufrag:Other\na=ice-pwd:OtherOtherOtherOther22\n");
  const Negotiated n = NegotiateText(sdp);
  EXPECT_THAT(n.bundle_mids, ElementsAre("a", "v"));
  EXPECT_EQ(n.remote_ice.ufrag, "Other");
  EXPECT_EQ(n.sections[0].rejection_reason, "unsupported media");
}

}  // namespace
}  // namespace chorus::sdp
