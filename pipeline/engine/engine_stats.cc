#include "pipeline/engine/engine_stats.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "pipeline/base/check.h"

namespace chorus::engine {

const char* DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kMalformedRtp:
      return "malformed_rtp";
    case DropReason::kMalformedRtcp:
      return "malformed_rtcp";
    case DropReason::kSrtpAuth:
      return "srtp_auth";
    case DropReason::kSrtpReplay:
      return "srtp_replay";
    case DropReason::kSrtpOther:
      return "srtp_other";
    case DropReason::kPlainRtpRefused:
      return "plain_rtp_refused";
    case DropReason::kUnknownPayloadType:
      return "unknown_payload_type";
    case DropReason::kOversized:
      return "oversized";
    case DropReason::kLate:
      return "late";
    case DropReason::kDuplicate:
      return "duplicate";
    case DropReason::kBufferFull:
      return "buffer_full";
    case DropReason::kNotAdmitted:
      return "not_admitted";
    case DropReason::kDecodeError:
      return "decode_error";
    case DropReason::kUnknownPeer:
      return "unknown_peer";
    case DropReason::kIceRejected:
      return "ice_rejected";
    case DropReason::kDtlsRejected:
      return "dtls_rejected";
    case DropReason::kNotConnected:
      return "not_connected";
    case DropReason::kUnknownStream:
      return "unknown_stream";
    case DropReason::kQueueFull:
      return "queue_full";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  CHORUS_CHECK(upper_bounds_.size() <= kMaxBuckets);
  CHORUS_CHECK(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()));
}

void Histogram::Observe(double value) {
  size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  if (value > 0) {
    sum_micro_.fetch_add(static_cast<uint64_t>(value * 1e6), std::memory_order_relaxed);
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6;
  return snapshot;
}

double Histogram::Quantile(double quantile) const {
  Snapshot snapshot = Read();
  if (snapshot.count == 0) return 0;
  const double rank = quantile * static_cast<double>(snapshot.count);
  uint64_t below = 0;
  for (size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
    uint64_t at = snapshot.cumulative_counts[i];
    if (static_cast<double>(at) >= rank) {
      if (i == upper_bounds_.size()) return upper_bounds_.empty() ? 0 : upper_bounds_.back();
      double low = i == 0 ? 0 : upper_bounds_[i - 1];
      double high = upper_bounds_[i];
      double in_bucket = static_cast<double>(at - below);
      double fraction = in_bucket > 0 ? (rank - static_cast<double>(below)) / in_bucket : 1.0;
      return low + (high - low) * std::clamp(fraction, 0.0, 1.0);
    }
    below = at;
  }
  return upper_bounds_.empty() ? 0 : upper_bounds_.back();
}

namespace {

std::vector<double> CodecMicros() {
  return {10, 25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800};
}

std::vector<double> VideoMicros() { return {500, 1000, 2000, 4000, 8000, 16000, 32000, 64000}; }

}  // namespace

EngineStats::EngineStats()
    : tick_duration_us(
          {50, 100, 250, 500, 1000, 2000, 4000, 8000, 12000, 16000, 20000, 40000, 80000, 160000}),
      mix_latency_ms({1, 2, 5, 10, 15, 20, 25, 30, 40, 60, 80, 100, 150, 200}),
      decode_us{Histogram(CodecMicros()), Histogram(CodecMicros()), Histogram(CodecMicros()),
                Histogram(CodecMicros())},
      encode_us{Histogram(CodecMicros()), Histogram(CodecMicros()), Histogram(CodecMicros()),
                Histogram(CodecMicros())},
      jitter_ms({1, 2, 5, 10, 20, 40, 80, 160, 320}),
      video_encode_us{Histogram(VideoMicros()), Histogram(VideoMicros()), Histogram(VideoMicros()),
                      Histogram(VideoMicros()), Histogram(VideoMicros()), Histogram(VideoMicros()),
                      Histogram(VideoMicros()), Histogram(VideoMicros())} {}

}  // namespace chorus::engine
