#include "services/media_node/webrtc_offer.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace chorus::media_node {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream file(std::string(CHORUS_SDP_TESTDATA_DIR) + "/" + name + ".sdp");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

engine::EndpointAnswer Answer(const WebRtcOffer& offer) {
  engine::EndpointAnswer answer;
  answer.ssrc = 0x1234;
  answer.webrtc.enabled = true;
  answer.webrtc.local_ufrag = "ufrg";
  answer.webrtc.local_pwd = "abcdefghijklmnopqrstuvwx";
  answer.webrtc.local = *net::SocketAddress::FromIp("192.0.2.10", 40000);
  answer.video.enabled = offer.config.video.enabled;
  answer.video.ssrc = 0x5678;
  return answer;
}

// Chromium offers the transport-wide sequence number extension (id 3) and transport-cc feedback:
// the endpoint gets the extension's id for its audio and camera, and the answer accepts both, as
// the engine sends the feedback.
TEST(WebRtcOfferTest, TransportWideCongestionControlIsNegotiatedWhenOffered) {
  const std::string sdp = Fixture("chromium_camera");
  ASSERT_FALSE(sdp.empty());
  auto offer = WebRtcOfferToEndpoint("patient", sdp);
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->config.webrtc.audio_transport_cc_id, 3);
  EXPECT_EQ(offer->config.webrtc.video_transport_cc_id, 3);
  EXPECT_EQ(offer->config.webrtc.content_transport_cc_id, 0);  // no screen share offered
  auto answer = WebRtcAnswerSdp(*offer, Answer(*offer), "192.0.2.10");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_NE(answer->find("a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-"
                         "extensions-01\r\n"),
            std::string::npos)
      << *answer;
  EXPECT_NE(answer->find("a=rtcp-fb:111 transport-cc\r\n"), std::string::npos) << *answer;
  EXPECT_NE(answer->find("a=rtcp-fb:96 transport-cc\r\n"), std::string::npos) << *answer;
  EXPECT_NE(answer->find("a=rtcp-fb:96 goog-remb\r\n"), std::string::npos) << *answer;
}

// An offer without the extension (aiortc's) gets neither, and no feedback is sent.
TEST(WebRtcOfferTest, NoTransportWideCongestionControlWithoutTheExtension) {
  auto offer = WebRtcOfferToEndpoint("peer", Fixture("aiortc_camera"));
  ASSERT_TRUE(offer.ok()) << offer.status();
  EXPECT_EQ(offer->config.webrtc.audio_transport_cc_id, 0);
  EXPECT_EQ(offer->config.webrtc.video_transport_cc_id, 0);
  auto answer = WebRtcAnswerSdp(*offer, Answer(*offer), "192.0.2.10");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->find("transport-cc"), std::string::npos) << *answer;
  EXPECT_EQ(answer->find("transport-wide-cc"), std::string::npos) << *answer;
}

}  // namespace
}  // namespace chorus::media_node
