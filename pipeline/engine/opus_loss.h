#pragma once

#include <array>
#include <cstdint>

namespace chorus::engine {

// How much packet loss an Opus encoder plans its in-band FEC for (OPUS_SET_PACKET_LOSS_PERC),
// from what its listeners report in their RTCP receiver reports (RFC 3550 section 6.4.1,
// "fraction lost" since their previous report, about once a second).
//
// The reports are smoothed so that one report does not swing the encoder: loss raises the
// estimate quickly (half of the step per report, so FEC is there within a few seconds of a
// worsening line), a clean line lowers it slowly (a fifth per report: protection stays through
// the clean seconds between bursts). The result is capped at kMaxOpusLossPercent: beyond that,
// more of the bitrate in the redundant copy costs more quality in the primary frame than it
// saves. A line that reports no loss goes to 0 % (libopus then spends nothing on FEC; FEC stays
// enabled and returns with the next loss).
//
// Plain value classes: no allocation, no clock, no thread affinity (the owner's thread).

inline constexpr int kMaxOpusLossPercent = 25;

// One listener's reported loss.
class ReportedLoss {
 public:
  // A reception report block about the stream sent to the listener.
  void OnReport(uint8_t fraction_lost);
  bool known() const { return smoothed_percent_ >= 0; }
  // The percentage to plan for, 0..kMaxOpusLossPercent; `fallback` until the first report.
  int Percent(int fallback) const;

 private:
  double smoothed_percent_ = -1;  // < 0: no report yet
};

// The loss planned for by an encoder whose output several listeners share: the worst of them,
// ignoring the worst tenth of a large audience (in a lecture one bad line should not take FEC
// bits from everyone else's primary frames). Listeners are added once per tick as they are
// served; Take() answers for those added since the previous Take().
class SharedLoss {
 public:
  void Add(int percent);
  // The percentage for the listeners added since the last call (and forgets them); -1 when none
  // was added.
  int Take();

 private:
  std::array<uint32_t, kMaxOpusLossPercent + 1> counts_{};
  uint32_t total_ = 0;
};

}  // namespace chorus::engine
