#include "pipeline/rtp/receive_statistics.h"

#include <algorithm>
#include <cmath>

namespace chorus::rtp {

void ReceiveStatistics::Reset() { *this = ReceiveStatistics(clock_rate_hz_); }

void ReceiveStatistics::OnPacket(uint16_t sequence, uint32_t rtp_timestamp, int64_t arrival_us) {
  if (!started_) {
    started_ = true;
    max_sequence_ = sequence;
    base_sequence_ = sequence;
    cycles_ = 0;
  } else {
    const uint16_t delta = static_cast<uint16_t>(sequence - max_sequence_);
    if (delta < kMaxDropout) {
      if (sequence < max_sequence_) cycles_ += 1u << 16;  // wrapped
      max_sequence_ = sequence;
    } else if (delta <= static_cast<uint16_t>(65536 - kMaxMisorder)) {
      // A large jump: accept it only when the next packet follows it (the sender restarted).
      if (sequence == bad_sequence_) {
        uint32_t ssrc_kept_jitter = static_cast<uint32_t>(jitter_);
        Reset();
        started_ = true;
        max_sequence_ = sequence;
        base_sequence_ = sequence;
        jitter_ = ssrc_kept_jitter;
      } else {
        bad_sequence_ = static_cast<uint16_t>(sequence + 1);
        return;
      }
    }
    // else: a duplicate or reordered packet; counted as received below.
  }
  ++received_;
  // A.8: transit time in RTP units; jitter follows |D| with gain 1/16.
  const int64_t arrival_units = arrival_us * clock_rate_hz_ / 1'000'000;
  const int64_t transit = arrival_units - static_cast<int64_t>(rtp_timestamp);
  if (have_transit_) {
    int64_t d = transit - last_transit_;
    // A huge difference is a timestamp discontinuity, not jitter.
    if (std::llabs(d) < static_cast<int64_t>(clock_rate_hz_) * 10) {
      jitter_ += (static_cast<double>(std::llabs(d)) - jitter_) / 16.0;
    }
  }
  last_transit_ = transit;
  have_transit_ = true;
}

int64_t ReceiveStatistics::expected() const {
  if (!started_) return 0;
  return static_cast<int64_t>(cycles_) + max_sequence_ - base_sequence_ + 1;
}

int64_t ReceiveStatistics::cumulative_lost() const {
  return std::max<int64_t>(0, expected() - static_cast<int64_t>(received_));
}

void ReceiveStatistics::OnSenderReport(uint64_t ntp_timestamp, int64_t arrival_us) {
  last_sr_ = static_cast<uint32_t>(ntp_timestamp >> 16);
  last_sr_arrival_us_ = arrival_us;
}

ReportBlock ReceiveStatistics::MakeReportBlock(uint32_t ssrc, int64_t now_us) {
  ReportBlock block;
  block.ssrc = ssrc;
  const int64_t expected_now = expected();
  const int64_t expected_interval = expected_now - static_cast<int64_t>(expected_prior_);
  const int64_t received_interval =
      static_cast<int64_t>(received_) - static_cast<int64_t>(received_prior_);
  const int64_t lost_interval = expected_interval - received_interval;
  block.fraction_lost =
      expected_interval <= 0 || lost_interval <= 0
          ? 0
          : static_cast<uint8_t>(std::min<int64_t>(255, (lost_interval << 8) / expected_interval));
  expected_prior_ = static_cast<uint64_t>(std::max<int64_t>(0, expected_now));
  received_prior_ = received_;
  block.cumulative_lost = static_cast<int32_t>(std::min<int64_t>(cumulative_lost(), 0x7fffff));
  block.highest_sequence = extended_highest_sequence();
  block.jitter = jitter();
  if (last_sr_arrival_us_ != 0) {
    block.last_sr = last_sr_;
    block.delay_since_last_sr =
        static_cast<uint32_t>((now_us - last_sr_arrival_us_) * 65536 / 1'000'000);
  }
  return block;
}

}  // namespace chorus::rtp
