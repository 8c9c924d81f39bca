// A session's views and their encoders, without media: views are worked out, composed (here from
// placeholder tiles) and encoded every tick whether or not pictures arrived, so keys, views and
// encoders can be watched as viewers pin and unpin.
#include "pipeline/engine/video_session.h"

#include <poll.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/media_worker.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/video/rtp_video.h"

namespace chorus::engine {
namespace {

class VideoSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto worker = MediaWorker::Create(0, &stats_, /*start_thread=*/false, kVideoTickUs, "video");
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = *std::move(worker);
    session_ = std::make_unique<VideoSession>(worker_.get(), &stats_);
    auto loopback = net::SocketAddress::FromIp("127.0.0.1", 0);
    ASSERT_TRUE(loopback.ok());
    auto sink = net::UdpSocket::Bind(*loopback);
    ASSERT_TRUE(sink.ok());
    sink_ = *std::move(sink);
    auto patient_sink = net::UdpSocket::Bind(*loopback);
    ASSERT_TRUE(patient_sink.ok());
    patient_sink_ = *std::move(patient_sink);
    auto viewer = net::UdpSocket::Bind(*loopback);
    ASSERT_TRUE(viewer.ok());
    viewer_ = *std::move(viewer);
    for (const std::string id : {"doctor", "patient", "signer"}) {
      VideoConfig config;
      config.enabled = true;
      config.remote = id == "patient" ? patient_sink_->local_address() : sink_->local_address();
      config.width = 320;
      config.height = 180;
      auto socket = net::UdpSocket::Bind(*loopback);
      ASSERT_TRUE(socket.ok());
      ASSERT_TRUE(
          session_->AddEndpoint(id, /*secure=*/false, srtp::SrtpSuite{}, config, *std::move(socket))
              .ok());
    }
  }
  void TearDown() override { session_.reset(); }

  void Tick() {
    now_us_ += kVideoTickUs;
    session_->OnTick(now_us_);
  }
  // For each whole frame the patient was sent since the last call, whether it is a keyframe
  // (judged on the VP8 bytes that arrived).
  std::vector<bool> PatientFrames() {
    std::vector<bool> keyframes;
    for (const auto& frame : PatientFrameBytes()) {
      keyframes.push_back(video::IsKeyframe(video::VideoCodec::kVp8, frame));
    }
    return keyframes;
  }
  // The whole frames the patient was sent since the last call, as they arrived.
  std::vector<std::vector<uint8_t>> PatientFrameBytes() {
    std::vector<std::vector<uint8_t>> frames;
    std::array<uint8_t, 2048> buffer;
    net::SocketAddress from;
    int length = 0;
    while ((length = patient_sink_->Receive(buffer, &from)) > 0) {
      rtp::RtpPacketView packet;
      if (rtp::ParseRtp(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(length)),
                        &packet) != rtp::RtpParseResult::kOk) {
        continue;  // RTCP
      }
      std::vector<uint8_t> frame;
      uint32_t timestamp = 0;
      if (assembler_.Insert(packet.sequence_number, packet.timestamp, packet.marker, packet.payload,
                            &frame, &timestamp) == video::FrameAssembler::Result::kFrame) {
        frames.push_back(std::move(frame));
      }
    }
    return frames;
  }
  // The doctor's camera sends one frame of a flat picture (a keyframe when asked), in RTP from
  // the viewers' socket; its endpoint reads it. Returns the frame's bytes.
  std::vector<uint8_t> DoctorSends(bool keyframe) {
    if (camera_ == nullptr) {
      video::VideoEncoderConfig config;
      config.width = 320;
      config.height = 180;
      config.frame_rate = 25;
      auto encoder = video::VideoEncoder::Create(config);
      EXPECT_TRUE(encoder.ok()) << encoder.status();
      camera_ = *std::move(encoder);
      picture_.Allocate(320, 180);
      std::fill(picture_.y.begin(), picture_.y.end(), 81);
      std::fill(picture_.u.begin(), picture_.u.end(), 90);
      std::fill(picture_.v.begin(), picture_.v.end(), 240);
    }
    std::vector<uint8_t> encoded;
    bool is_keyframe = false;
    EXPECT_TRUE(camera_->Encode(picture_, keyframe, &encoded, &is_keyframe).ok());
    VideoEndpoint* doctor = session_->endpoint("doctor");
    const auto payloads = video::PacketizeVp8(encoded, VideoEndpoint::kMaxPayload);
    camera_timestamp_ += 3600;
    for (size_t i = 0; i < payloads.size(); ++i) {
      rtp::RtpHeader header;
      header.payload_type = 96;
      header.sequence_number = camera_sequence_++;
      header.timestamp = camera_timestamp_;
      header.ssrc = 0xd0c;
      header.marker = i + 1 == payloads.size();
      std::array<uint8_t, 1600> packet;
      const size_t length = rtp::BuildRtp(header, payloads[i], packet);
      EXPECT_TRUE(
          viewer_->Send(std::span<const uint8_t>(packet.data(), length), doctor->answer().local));
    }
    pollfd fd{doctor->fd(), POLLIN, 0};
    EXPECT_GT(poll(&fd, 1, 1000), 0);
    doctor->OnReadable();
    return encoded;
  }
  // The viewer `id`'s browser sends a receiver report about its view (`fraction_lost` of 256
  // lost since the last), and a REMB of `remb_bps` unless 0; its endpoint reads it.
  void Report(const std::string& id, uint8_t fraction_lost, uint64_t remb_bps = 0) {
    VideoEndpoint* endpoint = session_->endpoint(id);
    ASSERT_NE(endpoint, nullptr);
    std::array<uint8_t, 128> packet{};
    rtp::ReportBlock block;
    block.ssrc = endpoint->answer().ssrc;
    block.fraction_lost = fraction_lost;
    size_t length = rtp::BuildRr(0x99, std::span<const rtp::ReportBlock>(&block, 1), packet);
    if (remb_bps != 0) {
      const uint32_t media[] = {endpoint->answer().ssrc};
      length += rtp::BuildRemb(0x99, remb_bps, media, std::span<uint8_t>(packet).subspan(length));
    }
    ASSERT_TRUE(
        viewer_->Send(std::span<const uint8_t>(packet.data(), length), endpoint->answer().local));
    pollfd fd{endpoint->fd(), POLLIN, 0};
    ASSERT_GT(poll(&fd, 1, 1000), 0);
    endpoint->OnReadable();
  }
  void Pin(const std::string& viewer, const std::string& pinned) {
    Routing routing;
    routing.pinned = pinned;
    session_->ApplyRouting(viewer, routing);
  }

  EngineStats stats_;
  std::unique_ptr<MediaWorker> worker_;
  std::unique_ptr<VideoSession> session_;
  std::unique_ptr<net::UdpSocket> sink_;
  std::unique_ptr<net::UdpSocket> patient_sink_;
  std::unique_ptr<net::UdpSocket> viewer_;  // sends the viewers' RTCP
  video::FrameAssembler assembler_{video::VideoCodec::kVp8};
  std::unique_ptr<video::VideoEncoder> camera_;
  video::Picture picture_;
  uint16_t camera_sequence_ = 100;
  uint32_t camera_timestamp_ = 5000;
  int64_t now_us_ = 1'000'000;
};

// The grid with self-view is one view for everyone. A pin gives its viewer a view of its own;
// when the pin goes, that view goes idle, and pinning again takes the idle view's encoder and
// canvas instead of starting another encoder.
TEST_F(VideoSessionTest, AViewThatComesBackTakesTheIdleEncoder) {
  Tick();
  EXPECT_EQ(session_->views_in_use(), 1u);
  EXPECT_EQ(stats_.video_encoders_started.load(), 1u);
  Pin("patient", "signer");
  Tick();
  EXPECT_EQ(session_->views_in_use(), 2u);
  EXPECT_EQ(stats_.video_encoders_started.load(), 2u);
  EXPECT_EQ(PatientFrames(), (std::vector<bool>{true, true}));
  for (int round = 0; round < 5; ++round) {
    Pin("patient", "");
    Tick();
    EXPECT_EQ(session_->views_in_use(), 1u);
    Pin("patient", "doctor");  // another key, the same encoder settings
    Tick();
    EXPECT_EQ(session_->views_in_use(), 2u);
    Tick();
    // What the patient receives: each change of view starts with a keyframe, from the reused
    // encoder too, and the view then goes on with inter frames.
    EXPECT_EQ(PatientFrames(), (std::vector<bool>{true, true, false})) << "round " << round;
  }
  EXPECT_EQ(stats_.video_encoders_started.load(), 2u);
  // Every view frame was encoded (the reused encoder starts again with a keyframe).
  EXPECT_EQ(stats_.video_frames_encoded.load(), 1u + 2u + 5u * (1u + 2u + 2u));
}

// Viewers on poor links are moved to a lower tier of the same view, which they share: one more
// encoder for all of them, not one each. Back on good links they move up after the hold, and
// share the top tier again.
TEST_F(VideoSessionTest, ViewersOnPoorLinksShareALowerTierOfTheirView) {
  for (int i = 0; i < 30; ++i) Tick();
  EXPECT_EQ(session_->views_in_use(), 1u);
  (void)PatientFrames();
  Report("patient", 64);  // 25 % of the view lost
  Tick();
  EXPECT_EQ(session_->endpoint("patient")->bitrate_tier(), 1);
  EXPECT_EQ(session_->endpoint("doctor")->bitrate_tier(), 0);
  EXPECT_EQ(session_->views_in_use(), 2u);
  EXPECT_EQ(stats_.video_encoders_started.load(), 2u);
  // The move starts with a keyframe of the lower tier.
  EXPECT_EQ(PatientFrames(), (std::vector<bool>{true}));
  Report("signer", 64);
  Tick();
  EXPECT_EQ(session_->endpoint("signer")->bitrate_tier(), 1);
  EXPECT_EQ(session_->views_in_use(), 2u);  // shared with the patient
  EXPECT_EQ(stats_.video_encoders_started.load(), 2u);
  EXPECT_EQ(stats_.video_tier_downs.load(), 2u);
  // The links recover: back to the full rate after the hold.
  Report("patient", 0);
  Report("signer", 0);
  Tick();
  EXPECT_EQ(session_->endpoint("patient")->bitrate_tier(), 1);
  for (int i = 0; i < ViewerTier::kHoldUpUs / kVideoTickUs; ++i) Tick();
  EXPECT_EQ(session_->endpoint("patient")->bitrate_tier(), 0);
  EXPECT_EQ(session_->endpoint("signer")->bitrate_tier(), 0);
  EXPECT_EQ(session_->views_in_use(), 1u);
  EXPECT_EQ(stats_.video_tier_ups.load(), 2u);
  EXPECT_EQ(stats_.video_encoders_started.load(), 2u);
}

// These placeholder views are sent far below the lower tier's bitrate: a REMB under what the
// viewer is sent moves nobody (a lower tier would send no less).
TEST_F(VideoSessionTest, ALowRembOnASparseViewMovesNobody) {
  for (int i = 0; i < 30; ++i) Tick();
  const uint64_t sent = session_->endpoint("patient")->sent_bps();
  ASSERT_GT(sent, 2'000u);
  ASSERT_LT(sent, TierBitrate(800'000, 1));
  for (int second = 0; second < 5; ++second) {
    Report("patient", 0, sent / 4);
    for (int i = 0; i < 25; ++i) Tick();
    EXPECT_EQ(session_->endpoint("patient")->bitrate_tier(), 0);
  }
  EXPECT_EQ(session_->views_in_use(), 1u);
}

// Idle views are kept for a while only.
TEST_F(VideoSessionTest, IdleViewsAreLetGo) {
  Tick();
  Pin("patient", "signer");
  Tick();
  Pin("patient", "");
  Tick();
  for (int i = 0; i < 6'000'000 / kVideoTickUs; ++i) Tick();  // past the idle time
  Pin("patient", "signer");
  Tick();
  EXPECT_EQ(stats_.video_encoders_started.load(), 3u);
}

// Two cameras and no self-view: each sees the other alone, in its codec and within its size, so
// the patient is forwarded the doctor's frames byte for byte, from a keyframe on, and nothing is
// encoded for it; the doctor's camera is then not decoded but for its keyframes. A third camera
// brings the composed grid back, starting with a keyframe; when it goes, forwarding resumes at
// the doctor's next keyframe.
TEST_F(VideoSessionTest, AViewerWhoSeesOneCameraAloneIsForwardedItsFrames) {
  session_->RemoveEndpoint("signer");
  LayoutConfig layout;
  layout.self_view = false;
  session_->SetLayout(layout);
  DoctorSends(true);  // its first picture: the size is known
  Tick();             // composed still; the doctor is asked for a keyframe, its frames kept
  EXPECT_EQ(session_->forwarded_viewers(), 0u);
  EXPECT_EQ(PatientFrames(), (std::vector<bool>{true}));
  const uint64_t encoded = stats_.video_frames_encoded.load();
  std::vector<std::vector<uint8_t>> sent;
  sent.push_back(DoctorSends(true));
  sent.push_back(DoctorSends(false));
  Tick();
  sent.push_back(DoctorSends(false));
  Tick();
  EXPECT_EQ(session_->forwarded_viewers(), 1u);  // the patient; the doctor sees no picture yet
  EXPECT_EQ(PatientFrameBytes(), sent);
  EXPECT_EQ(stats_.video_frames_forwarded.load(), 3u);
  const uint64_t decoded = session_->endpoint("doctor")->frames_decoded();
  DoctorSends(false);
  Tick();
  EXPECT_EQ(session_->endpoint("doctor")->frames_decoded(), decoded);  // only forwarded
  // One view encoded a tick since the patient was first forwarded: the doctor's own.
  EXPECT_EQ(stats_.video_frames_encoded.load() - encoded, 3u);
  EXPECT_EQ(PatientFrames().size(), 1u);

  // A third camera: the grid, composed and encoded, starting with a keyframe.
  auto loopback = net::SocketAddress::FromIp("127.0.0.1", 0);
  auto socket = net::UdpSocket::Bind(*loopback);
  ASSERT_TRUE(socket.ok());
  VideoConfig config;
  config.enabled = true;
  config.remote = sink_->local_address();
  config.width = 320;
  config.height = 180;
  ASSERT_TRUE(
      session_->AddEndpoint("nurse", false, srtp::SrtpSuite{}, config, *std::move(socket)).ok());
  DoctorSends(false);
  Tick();
  EXPECT_EQ(session_->forwarded_viewers(), 0u);
  EXPECT_EQ(PatientFrames(), (std::vector<bool>{true}));
  Tick();
  EXPECT_EQ(PatientFrames(), (std::vector<bool>{false}));
  // It leaves: forwarding again from the doctor's next keyframe, the grid until then.
  session_->RemoveEndpoint("nurse");
  DoctorSends(false);
  Tick();
  EXPECT_EQ(PatientFrames().size(), 1u);
  const std::vector<uint8_t> key = DoctorSends(true);
  Tick();
  EXPECT_EQ(session_->forwarded_viewers(), 1u);
  EXPECT_EQ(PatientFrameBytes(), std::vector<std::vector<uint8_t>>{key});
}

TEST_F(VideoSessionTest, AForwardedCameraWhoseFramesPileUpStartsAgainAtAKeyframe) {
  session_->RemoveEndpoint("signer");
  LayoutConfig layout;
  layout.self_view = false;
  session_->SetLayout(layout);
  DoctorSends(true);
  Tick();
  DoctorSends(true);
  Tick();
  ASSERT_EQ(session_->forwarded_viewers(), 1u);
  PatientFrameBytes();
  // A burst that no tick takes (a stalled worker): more frames than an endpoint keeps (64).
  std::vector<std::vector<uint8_t>> burst;
  for (int i = 0; i < 70; ++i) burst.push_back(DoctorSends(false));
  Tick();
  // None of the broken chain reaches the patient (a receiver would see a gap in it).
  for (const auto& frame : PatientFrameBytes()) {
    EXPECT_EQ(std::find(burst.begin(), burst.end(), frame), burst.end());
  }
  // The chain starts again at the doctor's next keyframe.
  const std::vector<uint8_t> key = DoctorSends(true);
  const std::vector<uint8_t> next = DoctorSends(false);
  Tick();
  EXPECT_EQ(session_->forwarded_viewers(), 1u);
  const auto frames = PatientFrameBytes();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.front(), key);
  EXPECT_EQ(frames.back(), next);
}

}  // namespace
}  // namespace chorus::engine
