// A session's views and their encoders, without media: views are worked out, composed (here from
// placeholder tiles) and encoded every tick whether or not pictures arrived, so keys, views and
// encoders can be watched as viewers pin and unpin.
#include "pipeline/engine/video_session.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/media_worker.h"
#include "pipeline/net/udp_socket.h"

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
    for (const char* id : {"doctor", "patient", "signer"}) {
      VideoConfig config;
      config.enabled = true;
      config.remote = sink_->local_address();
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
  void Pin(const std::string& viewer, const std::string& pinned) {
    Routing routing;
    routing.pinned = pinned;
    session_->ApplyRouting(viewer, routing);
  }

  EngineStats stats_;
  std::unique_ptr<MediaWorker> worker_;
  std::unique_ptr<VideoSession> session_;
  std::unique_ptr<net::UdpSocket> sink_;
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
  for (int round = 0; round < 5; ++round) {
    Pin("patient", "");
    Tick();
    EXPECT_EQ(session_->views_in_use(), 1u);
    Pin("patient", "doctor");  // another key, the same encoder settings
    Tick();
    EXPECT_EQ(session_->views_in_use(), 2u);
  }
  EXPECT_EQ(stats_.video_encoders_started.load(), 2u);
  // Every view frame was encoded (the reused encoder starts again with a keyframe).
  EXPECT_EQ(stats_.video_frames_encoded.load(), 1u + 2u + 5u * (1u + 2u));
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

}  // namespace
}  // namespace chorus::engine
