#include "services/sip/sip_sdp.h"

#include <string>
#include <tuple>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "services/sip/sip_gateway.h"

namespace chorus::sip {
namespace {

namespace v1 = chorus::v1;

// An offer as a SIP phone makes it (SDES-SRTP, G.711 by static payload type, Opus, DTMF).
constexpr char kPhoneOffer[] =
    "v=0\r\n"
    "o=- 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/SAVP 111 0 8 101\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 useinbandfec=1\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
    "a=sendrecv\r\n"
    "m=video 0 RTP/SAVP 96\r\n";

TEST(CallerOfferTest, APhonesOfferBecomesAnAudioStreamWithItsFirstUsableKey) {
  absl::StatusOr<CallerOffer> offer = ParseCallerOffer(kPhoneOffer, false);
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->rtp.transport(), v1::TRANSPORT_SRTP);
  ASSERT_EQ(offer->rtp.streams_size(), 1);
  const v1::StreamOffer& audio = offer->rtp.streams(0);
  EXPECT_EQ(audio.kind(), v1::MEDIA_KIND_AUDIO);
  EXPECT_EQ(audio.address(), "192.0.2.10");
  EXPECT_EQ(audio.port(), 49170u);
  EXPECT_TRUE(audio.learn_address());
  ASSERT_EQ(audio.codecs_size(), 3);  // telephone-event apart
  EXPECT_EQ(audio.codecs(0).name(), "opus");
  EXPECT_EQ(audio.codecs(0).clock_rate(), 48000u);
  EXPECT_EQ(audio.codecs(0).channels(), 2u);
  EXPECT_EQ(audio.codecs(0).fmtp(), "useinbandfec=1");
  EXPECT_EQ(audio.codecs(1).name(), "PCMU");
  EXPECT_EQ(audio.codecs(1).payload_type(), 0u);
  EXPECT_EQ(audio.codecs(2).name(), "PCMA");
  EXPECT_EQ(offer->telephone_event_pt, 101);
  EXPECT_EQ(offer->crypto_tag, 3u);
  EXPECT_EQ(audio.key().suite(), v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);
  EXPECT_EQ(audio.key().key_base64(), "NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj");
}

TEST(CallerOfferTest, PlainRtpIsNotAcceptableUnlessAllowed) {
  const std::string plain =
      "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
      "m=audio 49170 RTP/AVP 0\r\n";
  absl::StatusOr<CallerOffer> refused = ParseCallerOffer(plain, false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<CallerOffer> allowed = ParseCallerOffer(plain, true);
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->rtp.transport(), v1::TRANSPORT_RTP_INSECURE);
  // SRTP without a key Chorus speaks is not acceptable either.
  std::string no_key = kPhoneOffer;
  no_key.erase(no_key.find("a=crypto:3"), no_key.find("a=sendrecv") - no_key.find("a=crypto:3"));
  EXPECT_EQ(ParseCallerOffer(no_key, false).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CallerOfferTest, NonsenseIsRefusedWithoutQuotingIt) {
  for (const std::string& sdp :
       {std::string(), std::string("v=0\r\nm=audio x RTP/SAVP\r\n"), std::string("<script>"),
        std::string(20000, 'a'),
        std::string("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 5 RTP/AVP 96\r\n"),
        // An 8-bit byte among a media line's formats, a format "/" (sofia-sip's parser would
        // ask for gigabytes), a malformed o= line.
        std::string("v=0\r\no=- 1 1 IN IP4 0\r\nm=o 0 P /\r\n"),
        std::string("v=0\r\no=- 1 1IN IP4 0\r\nm=audio 1 RTP/AVP 0\r\n"),
        std::string("v=0\r\nm=audio 1 RTP/AVP 1 \xc2\r\n"),
        std::string("v=0\r\nm=audio 1\x01\r\n")}) {
    absl::StatusOr<CallerOffer> offer = ParseCallerOffer(sdp, true);
    EXPECT_FALSE(offer.ok());
    EXPECT_FALSE(absl::StrContains(offer.status().message(), "script"));
    EXPECT_LT(offer.status().message().size(), 120u);
  }
}

TEST(CallerOfferTest, TheAnswerCarriesTheNodesAddressCodecAndKeyUnderTheCallersTag) {
  absl::StatusOr<CallerOffer> offer = ParseCallerOffer(kPhoneOffer, false);
  ASSERT_TRUE(offer.ok());
  v1::RtpAnswer answer;
  answer.set_transport(v1::TRANSPORT_SRTP);
  v1::StreamAnswer* audio = answer.add_streams();
  audio->set_kind(v1::MEDIA_KIND_AUDIO);
  audio->set_address("198.51.100.7");
  audio->set_port(40002);
  audio->mutable_codec()->set_name("opus");
  audio->mutable_codec()->set_payload_type(111);
  audio->mutable_codec()->set_clock_rate(48000);
  audio->mutable_codec()->set_channels(2);
  audio->mutable_key()->set_suite(v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);
  audio->mutable_key()->set_key_base64("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk");
  const std::string sdp = AnswerSdp(answer, *offer, 77);
  // The answer parses as an offer would (the same independent parser) and says what it should.
  absl::StatusOr<CallerOffer> back = ParseCallerOffer(sdp, false);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << sdp;
  EXPECT_EQ(back->rtp.streams(0).address(), "198.51.100.7");
  EXPECT_EQ(back->rtp.streams(0).port(), 40002u);
  EXPECT_EQ(back->rtp.streams(0).codecs(0).name(), "opus");
  EXPECT_EQ(back->rtp.streams(0).key().key_base64(), "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk");
  EXPECT_EQ(back->crypto_tag, 3u);
  EXPECT_EQ(back->telephone_event_pt, 101);
  EXPECT_TRUE(absl::StrContains(sdp, "a=rtcp:40002\r\n"));
  EXPECT_TRUE(absl::StrContains(sdp, "o=chorus 77 1 IN IP4 198.51.100.7\r\n"));
  EXPECT_TRUE(absl::StrContains(sdp, "a=sendrecv\r\n"));
  // A call put on hold (the caller only sends, or nothing): the answer mirrors it, versioned.
  std::string hold = kPhoneOffer;
  hold.replace(hold.find("a=sendrecv"), 10, "a=sendonly");
  absl::StatusOr<CallerOffer> held = ParseCallerOffer(hold, false);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->mode, 1);
  const std::string on_hold = AnswerSdp(answer, *held, 77, 2);
  EXPECT_TRUE(absl::StrContains(on_hold, "a=recvonly\r\n")) << on_hold;
  EXPECT_TRUE(absl::StrContains(on_hold, "o=chorus 77 2 IN IP4"));
  hold.replace(hold.find("a=sendonly"), 10, "a=inactive");
  EXPECT_TRUE(absl::StrContains(AnswerSdp(answer, *ParseCallerOffer(hold, false), 77, 3),
                                "a=inactive\r\n"));
}

// The offer of a call Chorus places: every codec Chorus offers with its payload type, its key,
// RTCP on the RTP port; read back by the independent SDP parser as the callee's answer is.
// A room system's offer (as Cisco and Poly systems make it): audio, a main camera in H.264
// (packetization modes 0 and 1), a content stream (RFC 4796) and BFCP, RTCP not multiplexed.
constexpr char kRoomSystemOffer[] =
    "v=0\r\n"
    "o=roomsystem 1 1 IN IP4 192.0.2.20\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.20\r\n"
    "t=0 0\r\n"
    "m=audio 2326 RTP/SAVP 9 0 101\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
    "a=sendrecv\r\n"
    "m=video 2328 RTP/SAVP 97 126\r\n"
    "b=TIAS:1920000\r\n"
    "a=rtpmap:97 H264/90000\r\n"
    "a=fmtp:97 profile-level-id=42801f;packetization-mode=0\r\n"
    "a=rtpmap:126 H264/90000\r\n"
    "a=fmtp:126 profile-level-id=42801f;packetization-mode=1\r\n"
    "a=rtcp:2339\r\n"
    "a=rtcp-fb:* nack pli\r\n"
    "a=content:main\r\n"
    "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk\r\n"
    "a=sendrecv\r\n"
    "m=video 2330 RTP/SAVP 126\r\n"
    "a=rtpmap:126 H264/90000\r\n"
    "a=fmtp:126 profile-level-id=42801f;packetization-mode=1\r\n"
    "a=content:slides\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk\r\n"
    "m=application 5070 TCP/BFCP *\r\n"
    "a=floorctrl:c-s\r\n";

// One stream of the node's answer, on Chorus's address 198.51.100.7.
void AddAnswer(v1::RtpAnswer* answer, v1::MediaKind kind, uint32_t port, const char* codec,
               uint32_t payload_type, uint32_t clock_rate, const char* fmtp, const char* key) {
  v1::StreamAnswer* stream = answer->add_streams();
  stream->set_kind(kind);
  stream->set_address("198.51.100.7");
  stream->set_port(port);
  stream->mutable_codec()->set_name(codec);
  stream->mutable_codec()->set_payload_type(payload_type);
  stream->mutable_codec()->set_clock_rate(clock_rate);
  stream->mutable_codec()->set_fmtp(fmtp);
  stream->mutable_key()->set_key_base64(key);
}
constexpr char kAudioKey[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk";
constexpr char kVideoKey[] = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMy";
constexpr char kH264[] = "packetization-mode=1;profile-level-id=42e01f";

TEST(CallerOfferTest, ARoomSystemsCameraIsTakenAndItsContentAndBfcpDeclined) {
  absl::StatusOr<CallerOffer> offer = ParseCallerOffer(kRoomSystemOffer, false);
  ASSERT_TRUE(offer.ok()) << offer.status();
  ASSERT_EQ(offer->rtp.streams_size(), 2);
  const v1::StreamOffer& audio = offer->rtp.streams(0);
  EXPECT_EQ(audio.rtcp_port(), 2327u);  // RTP port + 1: no a=rtcp, no rtcp-mux
  const v1::StreamOffer& video = offer->rtp.streams(1);
  EXPECT_EQ(video.kind(), v1::MEDIA_KIND_VIDEO);
  EXPECT_EQ(video.port(), 2328u);
  EXPECT_EQ(video.rtcp_port(), 2339u);  // RFC 3605
  ASSERT_EQ(video.codecs_size(), 1);    // packetization mode 1 only
  EXPECT_EQ(video.codecs(0).payload_type(), 126u);
  EXPECT_EQ(video.key().key_base64(), "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk");
  EXPECT_EQ(video.width(), 1280u);
  EXPECT_EQ(offer->video_crypto_tag, 5u);
  ASSERT_EQ(offer->lines.size(), 4u);

  v1::RtpAnswer answer;
  answer.set_transport(v1::TRANSPORT_SRTP);
  AddAnswer(&answer, v1::MEDIA_KIND_AUDIO, 40002, "G722", 9, 8000, "", kAudioKey);
  AddAnswer(&answer, v1::MEDIA_KIND_VIDEO, 40004, "H264", 126, 90000, kH264, kVideoKey);
  const std::string sdp = AnswerSdp(answer, *offer, 9);
  // The same four lines in the offer's order: audio, the camera, content and BFCP declined.
  const size_t audio_at = sdp.find("m=audio 40002 RTP/SAVP 9 101\r\n");
  const size_t video_at = sdp.find("m=video 40004 RTP/SAVP 126\r\n");
  const size_t content_at = sdp.find("m=video 0 RTP/SAVP 126\r\n");
  const size_t bfcp_at = sdp.find("m=application 0 TCP/BFCP *\r\n");
  ASSERT_NE(audio_at, std::string::npos) << sdp;
  ASSERT_NE(video_at, std::string::npos) << sdp;
  ASSERT_NE(content_at, std::string::npos) << sdp;
  ASSERT_NE(bfcp_at, std::string::npos) << sdp;
  EXPECT_TRUE(audio_at < video_at && video_at < content_at && content_at < bfcp_at);
  EXPECT_TRUE(absl::StrContains(sdp, "a=rtcp-fb:126 nack pli\r\n"));
  EXPECT_TRUE(absl::StrContains(sdp, "a=rtcp-fb:126 ccm fir\r\n"));
  EXPECT_TRUE(absl::StrContains(sdp, "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:ZmVkY2"));
  // The answer reads back (the independent parser) with both streams.
  absl::StatusOr<CallerOffer> back = ParseCallerOffer(sdp, false);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << sdp;
  EXPECT_EQ(back->rtp.streams_size(), 2);
  // A video stream with no codec Chorus takes is declined, the call goes on with audio.
  std::string no_camera = kRoomSystemOffer;
  for (size_t at; (at = no_camera.find("H264")) != std::string::npos;) {
    no_camera.replace(at, 4, "H265");
  }
  absl::StatusOr<CallerOffer> audio_only = ParseCallerOffer(no_camera, false);
  ASSERT_TRUE(audio_only.ok());
  EXPECT_EQ(audio_only->rtp.streams_size(), 1);
}

TEST(CallerOfferTest, ARoomSystemsContentIsFoundAndAnsweredReceivedOnlyOnceTaken) {
  // The content line of the room system's offer (a=content:slides) sent only: the room system
  // presents; found apart from the streams joined with.
  std::string presenting = kRoomSystemOffer;
  presenting.insert(presenting.find("m=application"), "a=sendonly\r\n");
  absl::StatusOr<CallerOffer> offer = ParseCallerOffer(presenting, false);
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->content.kind(), v1::MEDIA_KIND_CONTENT);
  EXPECT_EQ(offer->content.port(), 2330u);
  EXPECT_EQ(offer->content.address(), "192.0.2.20");
  ASSERT_EQ(offer->content.codecs_size(), 1);
  EXPECT_EQ(offer->content.codecs(0).name(), "H264");
  EXPECT_EQ(offer->content.key().key_base64(), "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk");
  EXPECT_EQ(offer->content_line, 2);
  EXPECT_EQ(offer->rtp.streams_size(), 2);  // audio and camera: content is not joined with

  // Taken (a re-INVITE): the answer's third line is Chorus's content port, received only.
  offer->lines[2].taken = v1::MEDIA_KIND_CONTENT;
  v1::RtpAnswer answer;
  answer.set_transport(v1::TRANSPORT_SRTP);
  AddAnswer(&answer, v1::MEDIA_KIND_AUDIO, 40002, "G722", 9, 8000, "", kAudioKey);
  AddAnswer(&answer, v1::MEDIA_KIND_CONTENT, 40006, "H264", 126, 90000, kH264, kVideoKey);
  const std::string sdp = AnswerSdp(answer, *offer, 9, 3);
  const size_t content_at = sdp.find("m=video 40006 RTP/SAVP 126\r\n");
  ASSERT_NE(content_at, std::string::npos) << sdp;
  const std::string content = sdp.substr(content_at, sdp.find("m=", content_at + 1) - content_at);
  EXPECT_TRUE(absl::StrContains(content, "a=content:slides\r\n")) << content;
  EXPECT_TRUE(absl::StrContains(content, "a=recvonly\r\n")) << content;
  EXPECT_TRUE(absl::StrContains(content, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:ZmVkY2"))
      << content;
  EXPECT_TRUE(absl::StrContains(content, "a=rtcp-fb:126 nack pli\r\n")) << content;
  EXPECT_TRUE(absl::StrContains(sdp, "m=application 0 TCP/BFCP *\r\n")) << sdp;
  // The answer reads back with the independent parser: audio, and content Chorus only receives
  // (so, from the answer's side, not a content stream it sends).
  absl::StatusOr<CallerOffer> back = ParseCallerOffer(sdp, false);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << sdp;
  EXPECT_EQ(back->content.kind(), v1::MEDIA_KIND_UNSPECIFIED);

  // A content line that is a capability (sendrecv), not sent (recvonly, inactive) or declined
  // (port 0) is no presentation.
  for (const char* direction : {"", "a=sendrecv\r\n", "a=recvonly\r\n", "a=inactive\r\n"}) {
    std::string stopped = kRoomSystemOffer;
    stopped.insert(stopped.find("m=application"), direction);
    absl::StatusOr<CallerOffer> not_sent = ParseCallerOffer(stopped, false);
    ASSERT_TRUE(not_sent.ok());
    EXPECT_EQ(not_sent->content.kind(), v1::MEDIA_KIND_UNSPECIFIED) << direction;
    EXPECT_EQ(not_sent->content_line, -1);
  }
  std::string declined = presenting;
  declined.replace(declined.find("m=video 2330"), 12, "m=video 0");
  absl::StatusOr<CallerOffer> closed = ParseCallerOffer(declined, false);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->content.kind(), v1::MEDIA_KIND_UNSPECIFIED);
}

TEST(DialOutOfferTest, TheOfferCarriesEveryCodecChorusSpeaksAndItsKey) {
  v1::ClaimDialOutResponse claim;
  claim.set_transport(v1::TRANSPORT_SRTP);
  claim.mutable_audio()->set_address("198.51.100.7");
  claim.mutable_audio()->set_port(40004);
  claim.mutable_audio()->mutable_key()->set_suite(v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
  claim.mutable_audio()->mutable_key()->set_key_base64("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk");
  for (const auto& [name, pt, rate, channels] :
       {std::tuple{"opus", 111, 48000, 2}, std::tuple{"G722", 9, 8000, 1},
        std::tuple{"PCMU", 0, 8000, 1}, std::tuple{"telephone-event", 101, 8000, 1}}) {
    v1::Codec* codec = claim.add_codecs();
    codec->set_name(name);
    codec->set_payload_type(pt);
    codec->set_clock_rate(rate);
    codec->set_channels(channels);
  }
  claim.mutable_codecs(0)->set_fmtp("useinbandfec=1");
  const std::string sdp = OfferSdp(claim, 12);
  EXPECT_TRUE(absl::StrContains(sdp, "m=audio 40004 RTP/SAVP 111 9 0 101\r\n")) << sdp;
  EXPECT_TRUE(absl::StrContains(sdp, "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n"));
  EXPECT_TRUE(absl::StrContains(sdp, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD"));
  EXPECT_TRUE(absl::StrContains(sdp, "a=rtcp-mux\r\n"));
  absl::StatusOr<CallerOffer> back = ParseCallerOffer(sdp, false);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << sdp;
  ASSERT_EQ(back->rtp.streams(0).codecs_size(), 3);
  EXPECT_EQ(back->rtp.streams(0).codecs(1).name(), "G722");
  EXPECT_EQ(back->rtp.streams(0).port(), 40004u);
  EXPECT_EQ(back->telephone_event_pt, 101);
  EXPECT_TRUE(back->rtcp_mux);
  // With video (a room system called): a second line with VP8 and H.264 and RTCP feedback.
  claim.mutable_video()->set_port(40006);
  claim.mutable_video()->mutable_key()->set_suite(v1::SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
  claim.mutable_video()->mutable_key()->set_key_base64("ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMy");
  v1::Codec* vp8 = claim.add_video_codecs();
  vp8->set_name("VP8");
  vp8->set_payload_type(96);
  vp8->set_clock_rate(90000);
  const std::string with_video = OfferSdp(claim, 12);
  EXPECT_TRUE(absl::StrContains(with_video, "m=video 40006 RTP/SAVP 96\r\n")) << with_video;
  EXPECT_TRUE(absl::StrContains(with_video, "a=rtcp-fb:96 nack pli\r\n"));
  absl::StatusOr<CallerOffer> both = ParseCallerOffer(with_video, false);
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->rtp.streams_size(), 2);
  EXPECT_EQ(both->rtp.streams(1).key().key_base64(), "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMy");
  // Plain RTP (development): no key, RTP/AVP.
  claim.set_transport(v1::TRANSPORT_RTP_INSECURE);
  const std::string plain = OfferSdp(claim, 12);
  EXPECT_TRUE(absl::StrContains(plain, "RTP/AVP 111")) << plain;
  EXPECT_FALSE(absl::StrContains(plain, "a=crypto"));
}

TEST(DialStringTest, ANumberAndAPinAreDigits) {
  absl::StatusOr<DialString> both = ParseDialString("123456789*2468");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->dial_in_id, "123456789");
  EXPECT_EQ(both->pin, "2468");
  absl::StatusOr<DialString> number = ParseDialString("123456789");
  ASSERT_TRUE(number.ok());
  EXPECT_TRUE(number->pin.empty());
  for (const char* bad :
       {"", "abc", "123*", "123*12", "123*1234567890123", "1*2*3", "12 3", "12345678901234567"}) {
    EXPECT_FALSE(ParseDialString(bad).ok()) << bad;
  }
}

TEST(PeerListTest, AddressesAndNetworksOfBothFamilies) {
  absl::StatusOr<PeerList> list =
      PeerList::Parse({"10.1.2.0/24", "192.0.2.7", "2001:db8::/32", "198.51.100.128/25"});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->Contains("10.1.2.200"));
  EXPECT_FALSE(list->Contains("10.1.3.1"));
  EXPECT_TRUE(list->Contains("192.0.2.7"));
  EXPECT_FALSE(list->Contains("192.0.2.8"));
  EXPECT_TRUE(list->Contains("2001:db8:1::5"));
  EXPECT_FALSE(list->Contains("2001:db9::5"));
  EXPECT_TRUE(list->Contains("198.51.100.200"));
  EXPECT_FALSE(list->Contains("198.51.100.100"));
  EXPECT_FALSE(list->Contains("not an address"));
  EXPECT_FALSE(list->Contains(""));
  for (const char* bad :
       {"10.1.2.0/33", "2001:db8::/129", "sbc.example", "10.1.2.0/", "/8", "10.1.2.0/-1"}) {
    absl::StatusOr<PeerList> refused = PeerList::Parse({"10.0.0.1", bad});
    EXPECT_FALSE(refused.ok()) << bad;
    EXPECT_FALSE(absl::StrContains(refused.status().message(), bad)) << "echoed";
  }
  EXPECT_TRUE(PeerList::Parse({})->empty());
}

}  // namespace
}  // namespace chorus::sip
