#include "services/media_node/engine_metrics.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace chorus::media_node {
namespace {

// The family `name` from `families`, or null.
const prometheus::MetricFamily* FindFamily(const std::vector<prometheus::MetricFamily>& families,
                                           const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// The value of the metric of `family` whose label `label` is `value` (the only metric when
// `label` is empty); -1 when there is none.
double ValueOf(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
               const std::string& label = "", const std::string& value = "") {
  const prometheus::MetricFamily* family = FindFamily(families, name);
  if (family == nullptr) return -1;
  for (const auto& metric : family->metric) {
    bool match = label.empty();
    for (const auto& pair : metric.label) match |= pair.name == label && pair.value == value;
    if (!match) continue;
    return family->type == prometheus::MetricType::Gauge ? metric.gauge.value
                                                         : metric.counter.value;
  }
  return -1;
}

std::unique_ptr<engine::MediaEngine> SmallEngine() {
  engine::EngineOptions options;
  options.workers = 1;
  options.video_workers = 1;
  options.port_min = 42891;
  options.port_max = 42899;
  return *engine::MediaEngine::Create(options);
}

// The WebRTC transports' counters reach /metrics, by outcome and reason.
TEST(EngineMetricsTest, WebRtcTransportCountersAreExported) {
  auto engine = SmallEngine();
  engine::WebRtcStats& webrtc = engine->stats().webrtc;
  webrtc.transports = 3;
  webrtc.stun_checks[static_cast<size_t>(ice::IceResult::kResponded)] = 40;
  webrtc.stun_checks[static_cast<size_t>(ice::IceResult::kBadIntegrity)] = 2;
  webrtc.consent_expiries = 1;
  webrtc.ice_restarts = 4;
  webrtc.dtls.handshakes_started = 5;
  webrtc.dtls.handshakes_completed = 3;
  webrtc.dtls.failures[static_cast<size_t>(dtls::DtlsFailure::kFingerprintMismatch)] = 1;
  webrtc.dtls.retransmissions = 6;
  webrtc.dtls.drops[static_cast<size_t>(dtls::DtlsDrop::kNotDtls)] = 7;
  const EngineMetrics metrics(engine.get());
  const auto families = metrics.Collect();
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_transports"), 3);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_stun_checks_total", "result", "responded"), 40);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_stun_checks_total", "result", "bad_integrity"), 2);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_stun_checks_total", "result", "role_conflict"), 0);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_consent_expiries_total"), 1);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_ice_restarts_total"), 4);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_dtls_handshakes_started_total"), 5);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_dtls_handshakes_completed_total"), 3);
  EXPECT_EQ(
      ValueOf(families, "chorus_webrtc_dtls_failures_total", "reason", "fingerprint_mismatch"), 1);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_dtls_failures_total", "reason", "timeout"), 0);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_dtls_retransmissions_total"), 6);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_dtls_renegotiations_refused_total"), 0);
  EXPECT_EQ(ValueOf(families, "chorus_webrtc_dtls_datagram_drops_total", "reason", "not_dtls"), 7);
  // The drops of the shared port keep their place in the drop counter.
  EXPECT_EQ(ValueOf(families, "chorus_packet_drops_total", "reason", "unknown_peer"), 0);
}

// No label of the engine's metrics can carry a participant, a room or an address: only the
// fixed label names below exist, each with values written in the code.
TEST(EngineMetricsTest, LabelsAreFixedEnumerations) {
  auto engine = SmallEngine();
  const EngineMetrics metrics(engine.get());
  const std::set<std::string> allowed = {"direction", "reason", "codec",  "size",
                                         "kind",      "worker", "result", "instruction_set"};
  for (const auto& family : metrics.Collect()) {
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        EXPECT_TRUE(allowed.contains(label.name)) << family.name << " has label " << label.name;
      }
    }
  }
}

}  // namespace
}  // namespace chorus::media_node
