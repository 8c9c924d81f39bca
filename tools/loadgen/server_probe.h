#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chorus::loadgen {

// A minimal HTTP/1.0 client for loopback servers (a node's /metrics, Janus's HTTP API): one
// request per connection, the whole answer read until the server closes, `timeout_ms` bounding
// every step. Blocking; called on the generator's thread outside the media loop (set-up, the
// start and the end of the measured window). Only "http://host:port/path" with a numeric IPv4
// host. UNAVAILABLE when the server cannot be reached, INTERNAL for a malformed answer; an answer
// whose status is not 2xx is FAILED_PRECONDITION with the status line.
absl::StatusOr<std::string> HttpRequest(absl::string_view url, absl::string_view method,
                                        absl::string_view body, int timeout_ms = 10000);

// What the Prometheus text exposition of a Chorus node says, summed over label sets (a metric
// with a `le` label keeps one bucket per bound). Parsing never fails: lines it cannot read are
// skipped.
class MetricsSnapshot {
 public:
  static MetricsSnapshot Parse(absl::string_view text);
  // The sum of every sample of `name` (any labels); nullopt when absent.
  std::optional<double> Value(absl::string_view name) const;
  // The q-quantile (0..1) of histogram `name` over the observations made between `earlier` and
  // this snapshot, interpolated linearly within the bucket (as Prometheus does); nullopt when no
  // observation was made.
  std::optional<double> QuantileSince(const MetricsSnapshot& earlier, absl::string_view name,
                                      double q) const;

 private:
  std::map<std::string, double, std::less<>> values_;
  // histogram name -> upper bound -> cumulative count
  std::map<std::string, std::map<double, double>, std::less<>> buckets_;
};

// CPU time (user + system, seconds) and resident memory (kB) of a process, from /proc.
struct ProcessUsage {
  double cpu_seconds = 0;
  int64_t rss_kb = 0;
};
// NOT_FOUND when the process does not exist (any more).
absl::StatusOr<ProcessUsage> ReadProcessUsage(int pid);

}  // namespace chorus::loadgen
