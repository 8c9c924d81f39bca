#include "tools/loadgen/load_generator.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "pipeline/sdp/parser.h"

namespace chorus::loadgen {
namespace {

TEST(PercentileTest, NearestRank) {
  std::vector<double> values = {5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(Percentile(values, 50), 3);
  EXPECT_DOUBLE_EQ(Percentile(values, 100), 5);
  EXPECT_DOUBLE_EQ(Percentile(values, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(values, 99), 5);
  std::vector<double> empty;
  EXPECT_DOUBLE_EQ(Percentile(empty, 50), 0);
}

// A server that refuses every join: the run must fail with its reason and end its rooms.
class RefusingDriver final : public ServerDriver {
 public:
  absl::StatusOr<std::string> CreateRoom(int, int) override { return std::string("room"); }
  absl::StatusOr<JoinAnswer> Join(const std::string&, int, const JoinOffer& offer) override {
    offers.push_back(offer);
    return absl::PermissionDeniedError("no entry");
  }
  void CloseAll() override { ++closes; }
  const char* name() const override { return "refusing"; }
  std::vector<JoinOffer> offers;
  int closes = 0;
};

TEST(RunLoadTest, AJoinRefusedEndsTheRunWithItsReason) {
  auto clip = TalkClip::Create(200, 32000);
  ASSERT_TRUE(clip.ok());
  RefusingDriver driver;
  LoadConfig config;
  config.port_min = 0;  // any free port
  config.port_max = 0;
  auto report = RunLoad(config, driver, *clip);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(driver.offers.size(), 1u);
  EXPECT_EQ(driver.offers[0].ip, "127.0.0.1");
  EXPECT_NE(driver.offers[0].port, 0);
  EXPECT_EQ(driver.offers[0].key_base64.size(), 40u);  // SRTP: 30 bytes of key||salt
  EXPECT_GE(driver.closes, 1);
}

TEST(RunLoadTest, AWebRtcParticipantJoinsWithItsSdpOffer) {
  auto clip = TalkClip::Create(200, 32000);
  ASSERT_TRUE(clip.ok());
  RefusingDriver driver;
  LoadConfig config;
  config.transport = Transport::kWebRtc;
  config.port_min = 0;
  config.port_max = 0;
  auto report = RunLoad(config, driver, *clip);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(driver.offers.size(), 1u);
  const JoinOffer& offer = driver.offers[0];
  EXPECT_TRUE(offer.key_base64.empty());  // the keys come from DTLS
  const absl::StatusOr<sdp::Offer> parsed = sdp::ParseOffer(offer.webrtc_sdp);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << offer.webrtc_sdp;
  ASSERT_EQ(parsed->sections.size(), 1u);
  ASSERT_EQ(parsed->sections[0].candidates.size(), 1u);
  EXPECT_EQ(parsed->sections[0].candidates[0].port, offer.port);  // its one socket
  ASSERT_EQ(parsed->sections[0].ssrcs.size(), 1u);
  EXPECT_EQ(parsed->sections[0].ssrcs[0].ssrc, offer.ssrc);
  EXPECT_GE(driver.closes, 1);
}

TEST(RunLoadTest, RefusesImpossibleConfigurations) {
  auto clip = TalkClip::Create(200, 32000);
  ASSERT_TRUE(clip.ok());
  RefusingDriver driver;
  LoadConfig config;
  config.room_size = 1;
  EXPECT_EQ(RunLoad(config, driver, *clip).status().code(), absl::StatusCode::kInvalidArgument);
  config.room_size = 2;
  config.local_ips = {"not-an-ip"};
  EXPECT_EQ(RunLoad(config, driver, *clip).status().code(), absl::StatusCode::kInvalidArgument);
  config.local_ips = {"127.0.0.1"};
  config.transport = Transport::kWebRtc;  // audio only
  config.video_width = 640;
  config.video_height = 360;
  EXPECT_EQ(RunLoad(config, driver, *clip).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(driver.offers.empty());
}

TEST(ReportTest, JsonAndTableCarryTheFigures) {
  LoadReport report;
  report.server = "chorus";
  report.transport = "srtp";
  report.participants = 10;
  report.delay.p99_ms = 81.5;
  report.have_metrics = true;
  report.tick_overruns = 2;
  const std::string json = ReportJson(report);
  EXPECT_NE(json.find("\"participants\": 10"), std::string::npos) << json;
  EXPECT_NE(json.find("\"p99\": 81.5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"tick_overruns\": 2"), std::string::npos) << json;
  EXPECT_EQ(json.find("server_cpu_seconds"), std::string::npos) << json;  // not measured
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  EXPECT_NE(ReportTable(report).find("81.5"), std::string::npos);
  EXPECT_NE(json.find("\"join_ms\": {"), std::string::npos) << json;
  EXPECT_EQ(json.find("\"webrtc\""), std::string::npos) << json;
  report.transport = "webrtc";
  report.have_webrtc = true;
  report.join.p95_ms = 33.5;
  report.consent_checks_sent = 7;
  report.srtp_suite = "AES_CM_128_HMAC_SHA1_80";
  const std::string webrtc = ReportJson(report);
  EXPECT_NE(webrtc.find("\"p95\": 33.5"), std::string::npos) << webrtc;
  EXPECT_NE(webrtc.find("\"consent_checks_sent\": 7"), std::string::npos) << webrtc;
  EXPECT_NE(webrtc.find("AES_CM_128_HMAC_SHA1_80"), std::string::npos) << webrtc;
  EXPECT_NE(ReportTable(report).find("33.5"), std::string::npos);
}

}  // namespace
}  // namespace chorus::loadgen
