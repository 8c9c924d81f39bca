// Loss recovery by retransmission on a video endpoint (RFC 4585 generic NACK), over loopback
// UDP: a gap in what the participant sends is asked for at once and the frame completes when
// the packet comes again (no keyframe request needed); NACKs from the participant are answered
// with the very packets sent, from the history, once per interval, and nonsense NACKs (unknown
// sequence numbers, another SSRC) resend nothing.
#include <poll.h>

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/video_endpoint.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/video/rtp_video.h"
#include "pipeline/video/video_codec.h"

namespace chorus::engine {
namespace {

// The participant's side: a plain UDP socket.
struct Peer {
  std::unique_ptr<net::UdpSocket> socket;
  // What arrives within `wait_ms`, then until nothing more comes for `more_ms`.
  std::vector<std::vector<uint8_t>> Receive(int wait_ms = 200, int more_ms = 20) {
    std::vector<std::vector<uint8_t>> got;
    pollfd fd{socket->fd(), POLLIN, 0};
    while (poll(&fd, 1, got.empty() ? wait_ms : more_ms) > 0) {
      std::vector<uint8_t> buffer(2048);
      net::SocketAddress from;
      const int n = socket->Receive(buffer, &from);
      if (n < 0) break;
      buffer.resize(static_cast<size_t>(n));
      got.push_back(std::move(buffer));
    }
    return got;
  }
};

class VideoNackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loopback = net::SocketAddress::FromIp("127.0.0.1", 0);
    ASSERT_TRUE(loopback.ok());
    auto peer = net::UdpSocket::Bind(*loopback);
    auto own = net::UdpSocket::Bind(*loopback);
    ASSERT_TRUE(peer.ok() && own.ok());
    peer_.socket = *std::move(peer);
    VideoConfig config;
    config.enabled = true;
    config.remote = peer_.socket->local_address();
    auto endpoint = VideoEndpoint::Create("p", /*secure=*/false, srtp::SrtpSuite{}, config,
                                          *std::move(own), &stats_);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *std::move(endpoint);
  }
  // Sends datagrams from the participant to the endpoint and lets it read them.
  void Deliver(const std::vector<std::vector<uint8_t>>& datagrams) {
    for (const auto& d : datagrams) {
      ASSERT_TRUE(peer_.socket->Send(d, endpoint_->answer().local));
    }
    pollfd fd{endpoint_->fd(), POLLIN, 0};
    ASSERT_GT(poll(&fd, 1, 1000), 0);
    endpoint_->OnReadable();
  }
  std::vector<uint8_t> Nack(uint32_t media_ssrc, std::vector<uint16_t> sequences) {
    std::vector<uint8_t> packet(1500);
    size_t length = rtp::BuildRr(kPeerSsrc, {}, packet);
    length += rtp::BuildNack(kPeerSsrc, media_ssrc, sequences,
                             std::span<uint8_t>(packet).subspan(length));
    packet.resize(length);
    return packet;
  }
  static constexpr uint32_t kPeerSsrc = 0x1234;
  EngineStats stats_;
  Peer peer_;
  std::unique_ptr<VideoEndpoint> endpoint_;
};

TEST_F(VideoNackTest, AGapIsAskedForAtOnceAndTheRetransmissionSavesTheFrame) {
  // A real VP8 keyframe cut into several packets.
  video::VideoEncoderConfig config;
  config.width = 320;
  config.height = 240;
  auto encoder = video::VideoEncoder::Create(config);
  ASSERT_TRUE(encoder.ok());
  video::Picture picture;
  picture.Allocate(320, 240);
  for (size_t i = 0; i < picture.y.size(); ++i) picture.y[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> frame;
  bool keyframe = false;
  ASSERT_TRUE((*encoder)->Encode(picture, true, &frame, &keyframe).ok());
  auto payloads = video::PacketizeVp8(frame, 300);
  ASSERT_GE(payloads.size(), 4u);
  std::vector<std::vector<uint8_t>> packets;
  for (size_t i = 0; i < payloads.size(); ++i) {
    rtp::RtpHeader header;
    header.marker = i + 1 == payloads.size();
    header.payload_type = 96;
    header.sequence_number = static_cast<uint16_t>(65534 + i);  // wraps inside the frame
    header.timestamp = 9000;
    header.ssrc = kPeerSsrc;
    std::vector<uint8_t> packet(1500);
    packet.resize(rtp::BuildRtp(header, payloads[i], packet));
    packets.push_back(std::move(packet));
  }
  // Packet 2 (sequence 0) is lost on the way.
  std::vector<std::vector<uint8_t>> first(packets.begin(), packets.end());
  const std::vector<uint8_t> lost = first[2];
  first.erase(first.begin() + 2);
  Deliver(first);
  EXPECT_EQ(endpoint_->frames_decoded(), 0u);
  EXPECT_EQ(endpoint_->nacks_sent(), 1u);
  bool asked = false;
  for (const auto& datagram : peer_.Receive()) {
    rtp::RtcpInfo info;
    if (rtp::ParseRtcp(datagram, &info) != rtp::RtcpParseResult::kOk || !info.has_nack) continue;
    EXPECT_EQ(info.nack_media_ssrc, kPeerSsrc);
    ASSERT_EQ(info.nack_count, 1u);
    EXPECT_EQ(info.nack_sequences[0], 0);
    asked = true;
  }
  EXPECT_TRUE(asked) << "no NACK reached the participant";
  Deliver({lost});
  EXPECT_EQ(endpoint_->frames_decoded(), 1u);
  EXPECT_EQ(endpoint_->keyframe_requests_sent(), 0u);
  EXPECT_TRUE(endpoint_->has_picture());
}

TEST_F(VideoNackTest, NacksAreAnsweredWithTheSamePacketsFromTheHistory) {
  std::vector<std::vector<uint8_t>> payloads(5, std::vector<uint8_t>(200, 0x42));
  for (size_t i = 0; i < payloads.size(); ++i) payloads[i][0] = static_cast<uint8_t>(i);
  endpoint_->SendFrame(payloads, 3000);
  const auto sent = peer_.Receive();
  ASSERT_EQ(sent.size(), 5u);
  std::vector<uint16_t> sequences;
  for (const auto& packet : sent) {
    rtp::RtpPacketView view;
    ASSERT_EQ(rtp::ParseRtp(packet, &view), rtp::RtpParseResult::kOk);
    sequences.push_back(view.sequence_number);
  }
  const uint32_t ssrc = endpoint_->answer().ssrc;
  Deliver({Nack(ssrc, {sequences[1], sequences[3]})});
  auto resent = peer_.Receive();
  ASSERT_EQ(resent.size(), 2u);
  EXPECT_EQ(resent[0], sent[1]);
  EXPECT_EQ(resent[1], sent[3]);
  EXPECT_EQ(endpoint_->packets_retransmitted(), 2u);
  // Asked again at once: not resent again within the interval.
  Deliver({Nack(ssrc, {sequences[1]})});
  EXPECT_TRUE(peer_.Receive(50).empty());
  // Nonsense: sequence numbers never sent, another SSRC, a NACK for every packet of a burst.
  Deliver(
      {Nack(ssrc, {static_cast<uint16_t>(sequences[0] - 1000)}), Nack(ssrc ^ 1, {sequences[2]})});
  EXPECT_TRUE(peer_.Receive(50).empty());
  EXPECT_EQ(stats_.video_retransmissions_missed.load(), 1u);
  EXPECT_EQ(stats_.video_nacks_received.load(), 3u);
}

TEST_F(VideoNackTest, TheHistoryKeepsTheLastPacketsOnly) {
  const std::vector<std::vector<uint8_t>> payload(1, std::vector<uint8_t>(100, 1));
  std::vector<uint16_t> sequences;
  for (size_t i = 0; i < VideoEndpoint::kHistory + 10; ++i) {
    endpoint_->SendFrame(payload, static_cast<uint32_t>(i * 3000));
    for (const auto& packet : peer_.Receive(100, 0)) {
      rtp::RtpPacketView view;
      if (rtp::ParseRtp(packet, &view) == rtp::RtpParseResult::kOk) {
        sequences.push_back(view.sequence_number);
      }
    }
  }
  ASSERT_EQ(sequences.size(), VideoEndpoint::kHistory + 10);
  const uint32_t ssrc = endpoint_->answer().ssrc;
  Deliver({Nack(ssrc, {sequences[0], sequences.back()})});
  EXPECT_EQ(peer_.Receive().size(), 1u);  // the oldest is gone, the newest is there
  EXPECT_EQ(stats_.video_retransmissions_missed.load(), 1u);
}

}  // namespace
}  // namespace chorus::engine
