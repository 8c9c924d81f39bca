#include "pipeline/rtp/receive_statistics.h"

#include <algorithm>
#include <cstdlib>

namespace chorus::rtp {

void ReceiveStatistics::Reset() { *this = ReceiveStatistics(clock_rate_hz_); }

void ReceiveStatistics::InitSequence(uint16_t sequence) {
  base_sequence_ = sequence;
  max_sequence_ = sequence;
  bad_sequence_ = kSequenceMod + 1;
  cycles_ = 0;
  received_ = 0;
  received_prior_ = 0;
  expected_prior_ = 0;
}

SequenceUpdate ReceiveStatistics::OnPacket(uint16_t sequence, uint32_t rtp_timestamp,
                                           int64_t arrival_us) {
  SequenceUpdate update = SequenceUpdate::kValid;
  if (!started_) {
    // A.1: a new source starts on probation, as if the previous number had been received.
    started_ = true;
    InitSequence(sequence);
    max_sequence_ = static_cast<uint16_t>(sequence - 1);
    probation_ = kMinSequential;
  }
  const uint16_t delta = static_cast<uint16_t>(sequence - max_sequence_);
  if (probation_ > 0) {
    if (sequence == static_cast<uint16_t>(max_sequence_ + 1)) {
      --probation_;
      max_sequence_ = sequence;
      if (probation_ > 0) return SequenceUpdate::kProbation;
      InitSequence(sequence);
    } else {
      probation_ = kMinSequential - 1;
      max_sequence_ = sequence;
      return SequenceUpdate::kProbation;
    }
  } else if (delta < kMaxDropout) {
    if (sequence < max_sequence_) cycles_ += kSequenceMod;  // wrapped
    max_sequence_ = sequence;
  } else if (delta <= kSequenceMod - kMaxMisorder) {
    if (sequence == bad_sequence_) {
      // Two packets in sequence after a large jump: the sender restarted. Start over from here.
      InitSequence(sequence);
      have_transit_ = false;
      update = SequenceUpdate::kResynced;
    } else {
      bad_sequence_ = static_cast<uint16_t>(sequence + 1);
      return SequenceUpdate::kBadJump;
    }
  }
  // else: a duplicate or a reordered packet, counted as received.
  ++received_;

  // A.8: transit = arrival - timestamp, both in RTP units.
  const int64_t arrival_units =
      arrival_us / 1'000'000 * clock_rate_hz_ + arrival_us % 1'000'000 * clock_rate_hz_ / 1'000'000;
  const int64_t transit = arrival_units - static_cast<int64_t>(rtp_timestamp);
  if (have_transit_) {
    const int64_t d = std::llabs(transit - last_transit_);
    if (d < static_cast<int64_t>(clock_rate_hz_) * 10) {
      jitter_ += (static_cast<double>(d) - jitter_) / 16.0;
    }
  }
  last_transit_ = transit;
  have_transit_ = true;
  return update;
}

int64_t ReceiveStatistics::expected() const {
  if (!valid()) return 0;
  return static_cast<int64_t>(extended_highest_sequence()) - base_sequence_ + 1;
}

int64_t ReceiveStatistics::cumulative_lost() const { return std::max<int64_t>(0, SignedLost()); }

double ReceiveStatistics::loss_ratio() const {
  const int64_t expected_now = expected();
  if (expected_now <= 0) return 0.0;
  return std::clamp(static_cast<double>(SignedLost()) / static_cast<double>(expected_now), 0.0,
                    1.0);
}

void ReceiveStatistics::OnSenderReport(uint64_t ntp_timestamp, int64_t arrival_us) {
  have_sr_ = true;
  last_sr_ = CompactNtp(ntp_timestamp);
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
  block.cumulative_lost =
      static_cast<int32_t>(std::clamp<int64_t>(SignedLost(), -0x800000, 0x7fffff));
  block.highest_sequence = extended_highest_sequence();
  block.jitter = jitter();
  if (have_sr_) {
    block.last_sr = last_sr_;
    block.delay_since_last_sr = CompactNtpFromMicros(now_us - last_sr_arrival_us_);
  }
  return block;
}

}  // namespace chorus::rtp
