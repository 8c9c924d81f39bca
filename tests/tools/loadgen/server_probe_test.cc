#include "tools/loadgen/server_probe.h"

#include <unistd.h>

#include <cmath>
#include <string>

#include "gtest/gtest.h"

namespace chorus::loadgen {
namespace {

constexpr char kMetrics[] = R"(# HELP chorus_node_load share of the budget
# TYPE chorus_node_load gauge
chorus_node_load 0.25
chorus_tick_overruns_total 3
chorus_rtp_packets_total{direction="in"} 100
chorus_rtp_packets_total{direction="out"} 50
# TYPE chorus_tick_duration_seconds histogram
chorus_tick_duration_seconds_bucket{le="0.001"} 10
chorus_tick_duration_seconds_bucket{le="0.002"} 90
chorus_tick_duration_seconds_bucket{le="0.005"} 100
chorus_tick_duration_seconds_bucket{le="+Inf"} 100
chorus_tick_duration_seconds_sum 0.15
chorus_tick_duration_seconds_count 100
)";

TEST(MetricsSnapshotTest, ReadsGaugesAndSumsLabelSets) {
  const MetricsSnapshot snapshot = MetricsSnapshot::Parse(kMetrics);
  EXPECT_DOUBLE_EQ(snapshot.Value("chorus_node_load").value(), 0.25);
  EXPECT_DOUBLE_EQ(snapshot.Value("chorus_rtp_packets_total").value(), 150);
  EXPECT_FALSE(snapshot.Value("chorus_missing").has_value());
}

TEST(MetricsSnapshotTest, HistogramQuantileOverAWindow) {
  const MetricsSnapshot empty = MetricsSnapshot::Parse("");
  const MetricsSnapshot now = MetricsSnapshot::Parse(kMetrics);
  // 50th of 100 observations: in the (1 ms, 2 ms] bucket, 40 of its 80.
  EXPECT_NEAR(now.QuantileSince(empty, "chorus_tick_duration_seconds", 0.5).value(), 0.0015, 1e-9);
  EXPECT_NEAR(now.QuantileSince(empty, "chorus_tick_duration_seconds", 0.99).value(), 0.0047, 1e-9);
  // Nothing observed between two equal snapshots.
  EXPECT_FALSE(now.QuantileSince(now, "chorus_tick_duration_seconds", 0.5).has_value());
  // Only the observations made since `earlier` count: 10 more, all in the first bucket.
  const MetricsSnapshot later = MetricsSnapshot::Parse(
      "chorus_tick_duration_seconds_bucket{le=\"0.001\"} 20\n"
      "chorus_tick_duration_seconds_bucket{le=\"0.002\"} 100\n"
      "chorus_tick_duration_seconds_bucket{le=\"0.005\"} 110\n"
      "chorus_tick_duration_seconds_bucket{le=\"+Inf\"} 110\n");
  EXPECT_LE(later.QuantileSince(now, "chorus_tick_duration_seconds", 0.99).value(), 0.001);
}

TEST(MetricsSnapshotTest, GarbageIsSkippedNotFatal) {
  const MetricsSnapshot snapshot = MetricsSnapshot::Parse(
      "}{ \n name{le=\"x\"} 1\nfoo{ 3\nbar nan\nbaz 1e400\n\n\x01\x02 7\nok_metric 4\n"
      "h_bucket{le=\"+Inf\"} notanumber\n");
  EXPECT_DOUBLE_EQ(snapshot.Value("ok_metric").value(), 4);
  EXPECT_FALSE(snapshot.Value("bar").has_value());
  EXPECT_FALSE(snapshot.QuantileSince(snapshot, "h", 0.5).has_value());
}

TEST(ProcessUsageTest, ReadsThisProcess) {
  auto usage = ReadProcessUsage(getpid());
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_GE(usage->cpu_seconds, 0);
  EXPECT_GT(usage->rss_kb, 0);
  EXPECT_EQ(ReadProcessUsage(-5).status().code(), absl::StatusCode::kNotFound);
}

TEST(HttpRequestTest, RefusesWhatItCannotReach) {
  EXPECT_EQ(HttpRequest("https://127.0.0.1:1/", "GET", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpRequest("http://localhost:80/", "GET", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpRequest("http://127.0.0.1:99999/", "GET", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpRequest("http://127.0.0.1/", "GET", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Port 1 on loopback: nothing listens there.
  EXPECT_EQ(HttpRequest("http://127.0.0.1:1/metrics", "GET", "", 2000).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace chorus::loadgen
