#include "pipeline/engine/opus_loss.h"

#include <algorithm>
#include <cmath>

namespace chorus::engine {
namespace {

// Smoothing steps per report (see the header): up fast, down slowly.
constexpr double kRiseWeight = 0.5;
constexpr double kFallWeight = 0.2;

}  // namespace

void ReportedLoss::OnReport(uint8_t fraction_lost) {
  const double sample = fraction_lost * 100.0 / 256.0;
  if (smoothed_percent_ < 0) {
    smoothed_percent_ = sample;  // the first report is all there is to go on
    return;
  }
  const double weight = sample > smoothed_percent_ ? kRiseWeight : kFallWeight;
  smoothed_percent_ += (sample - smoothed_percent_) * weight;
}

int ReportedLoss::Percent(int fallback) const {
  if (!known()) return std::clamp(fallback, 0, kMaxOpusLossPercent);
  return std::min(kMaxOpusLossPercent, static_cast<int>(std::lround(smoothed_percent_)));
}

void SharedLoss::Add(int percent) {
  ++counts_[static_cast<size_t>(std::clamp(percent, 0, kMaxOpusLossPercent))];
  ++total_;
}

int SharedLoss::Take() {
  if (total_ == 0) return -1;
  const uint32_t ignored = total_ / 10;
  uint32_t above = 0;
  int result = 0;
  for (int percent = kMaxOpusLossPercent; percent >= 0; --percent) {
    above += counts_[static_cast<size_t>(percent)];
    if (above > ignored) {
      result = percent;
      break;
    }
  }
  counts_.fill(0);
  total_ = 0;
  return result;
}

}  // namespace chorus::engine
