#pragma once

#include <cstdint>

#include "pipeline/rtp/rtcp.h"

namespace chorus::rtp {

// What ReceiveStatistics::OnPacket made of a packet (RFC 3550 appendix A.1).
enum class SequenceUpdate : uint8_t {
  kValid,      // counted
  kProbation,  // the source is not yet validated (needs 2 packets in sequence); not counted
  kBadJump,    // a jump of more than 3000 (or far behind): not counted until the next packet
               // follows it, which resynchronises (the sender restarted)
  kResynced,   // that second packet: statistics restarted from it, counted
};

// Receive statistics of one RTP source:
// - RFC 3550 A.1: the source is valid after 2 packets in sequence (probation); 16-bit sequence
//   numbers are extended with a cycle count across wrap-around; a jump of more than 3000 ahead or
//   100 behind is taken as a sender restart only when the next packet follows it.
// - A.3: packets expected, cumulative lost (duplicates can make it negative), fraction lost since
//   the previous report.
// - A.8: interarrival jitter J += (|D| - J) / 16 in RTP timestamp units, from arrival times in
//   microseconds converted at `clock_rate_hz` (a transit jump of more than 10 s is taken as a
//   timestamp discontinuity, not jitter).
// Thread: one media worker. No allocation; any input is accepted.
class ReceiveStatistics {
 public:
  // `clock_rate_hz` of the RTP timestamps (48000 Opus, 8000 G.711/G.722); must be > 0.
  explicit ReceiveStatistics(uint32_t clock_rate_hz)
      : clock_rate_hz_(clock_rate_hz == 0 ? 1 : clock_rate_hz) {}

  // Each received packet (after SRTP and parsing), with its arrival time in microseconds.
  SequenceUpdate OnPacket(uint16_t sequence, uint32_t rtp_timestamp, int64_t arrival_us);
  // `packets` more that reached this host but were dropped there on purpose (a filter of
  // silence): received, not lost. Counted only once the source is valid.
  void CountFiltered(uint32_t packets) {
    if (valid()) received_ += packets;
  }
  // Each sender report of the source (its NTP timestamp), for the LSR/DLSR of our reports.
  void OnSenderReport(uint64_t ntp_timestamp, int64_t arrival_us);
  // A reception report block about the source (`ssrc`) at `now_us`; starts a new interval for
  // the fraction lost. Same clock as the arrival times.
  ReportBlock MakeReportBlock(uint32_t ssrc, int64_t now_us);
  // Forgets the source (a new SSRC).
  void Reset();

  bool valid() const { return probation_ == 0 && started_; }
  uint64_t received() const { return received_; }
  // Packets expected since the first validated one (A.3); 0 before validation.
  int64_t expected() const;
  // Packets lost (expected - received), for metrics: never negative. The report block carries
  // the signed value RFC 3550 asks for (duplicates can make it negative), clamped to 24 bits.
  int64_t cumulative_lost() const;
  uint32_t extended_highest_sequence() const { return cycles_ + max_sequence_; }
  // Interarrival jitter in RTP units and in milliseconds.
  uint32_t jitter() const { return static_cast<uint32_t>(jitter_); }
  double jitter_ms() const { return jitter_ * 1000.0 / clock_rate_hz_; }
  // Share of expected packets lost since the start, 0..1 (for metrics).
  double loss_ratio() const;

 private:
  static constexpr uint32_t kMaxDropout = 3000;
  static constexpr uint32_t kMaxMisorder = 100;
  static constexpr uint32_t kMinSequential = 2;
  static constexpr uint32_t kSequenceMod = 1u << 16;

  void InitSequence(uint16_t sequence);
  int64_t SignedLost() const { return expected() - static_cast<int64_t>(received_); }

  uint32_t clock_rate_hz_;
  bool started_ = false;
  uint32_t probation_ = kMinSequential;
  uint16_t max_sequence_ = 0;
  uint32_t cycles_ = 0;  // wraps, shifted by 16
  uint32_t base_sequence_ = 0;
  uint32_t bad_sequence_ = kSequenceMod + 1;  // no pending resync
  uint64_t received_ = 0;
  uint64_t expected_prior_ = 0;
  uint64_t received_prior_ = 0;
  double jitter_ = 0;
  int64_t last_transit_ = 0;
  bool have_transit_ = false;
  bool have_sr_ = false;
  uint32_t last_sr_ = 0;
  int64_t last_sr_arrival_us_ = 0;
};

}  // namespace chorus::rtp
