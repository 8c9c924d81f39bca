#pragma once

#include <cstdint>

#include "pipeline/rtp/rtcp.h"

namespace chorus::rtp {

// Receive statistics of one RTP source (RFC 3550 appendix A.1, A.3 and A.8): extended highest
// sequence number across wrap-around, packets expected and lost, fraction lost since the last
// report, and interarrival jitter. Resynchronises when the sender restarts (a jump of more than
// 3000, seen twice in a row). Thread: one media worker. No allocation.
class ReceiveStatistics {
 public:
  explicit ReceiveStatistics(uint32_t clock_rate_hz) : clock_rate_hz_(clock_rate_hz) {}

  // Each received packet (after SRTP), with its arrival time in microseconds.
  void OnPacket(uint16_t sequence, uint32_t rtp_timestamp, int64_t arrival_us);
  // Each sender report of the source: remembers it for the LSR/DLSR fields of our reports.
  void OnSenderReport(uint64_t ntp_timestamp, int64_t arrival_us);
  // A reception report block about the source, and the start of a new reporting interval.
  ReportBlock MakeReportBlock(uint32_t ssrc, int64_t now_us);
  void Reset();

  uint64_t received() const { return received_; }
  int64_t expected() const;
  int64_t cumulative_lost() const;
  uint32_t extended_highest_sequence() const {
    return static_cast<uint32_t>(cycles_ + max_sequence_);
  }
  // Interarrival jitter in RTP units and in milliseconds.
  uint32_t jitter() const { return static_cast<uint32_t>(jitter_); }
  double jitter_ms() const { return jitter_ * 1000.0 / clock_rate_hz_; }

 private:
  static constexpr uint16_t kMaxDropout = 3000;
  static constexpr uint16_t kMaxMisorder = 100;

  uint32_t clock_rate_hz_;
  bool started_ = false;
  uint16_t max_sequence_ = 0;
  uint32_t cycles_ = 0;  // count of wraps, shifted by 16
  uint32_t base_sequence_ = 0;
  uint32_t bad_sequence_ = 1u << 17;  // impossible value: no pending resync
  uint64_t received_ = 0;
  uint64_t expected_prior_ = 0;
  uint64_t received_prior_ = 0;
  double jitter_ = 0;
  int64_t last_transit_ = 0;
  bool have_transit_ = false;
  uint32_t last_sr_ = 0;
  int64_t last_sr_arrival_us_ = 0;
};

}  // namespace chorus::rtp
