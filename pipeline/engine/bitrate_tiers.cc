#include "pipeline/engine/bitrate_tiers.h"

#include <algorithm>

namespace chorus::engine {

int ViewerTier::Update(uint64_t top_bps, uint64_t bytes_sent, int64_t now_us) {
  if (!window_started_) {
    window_started_ = true;
    window_start_us_ = now_us;
    window_start_bytes_ = bytes_sent;
  } else if (now_us - window_start_us_ >= kRateWindowUs) {
    send_bps_ = (bytes_sent - window_start_bytes_) * 8 * 1'000'000 /
                static_cast<uint64_t>(now_us - window_start_us_);
    window_start_us_ = now_us;
    window_start_bytes_ = bytes_sent;
  }
  if (remb_pending_) {
    remb_pending_ = false;
    have_remb_ = true;
    remb_seen_us_ = now_us;
  }
  if (loss_pending_) {
    loss_pending_ = false;
    const int percent = pending_fraction_lost_ * 100 / 256;
    if (percent >= kLossDownPercent && now_us - last_loss_step_us_ >= kLossStepUs) {
      loss_floor_ = std::min(kBitrateTiers - 1, tier_ + 1);
      last_loss_step_us_ = now_us;
    } else if (percent < kLossClearPercent) {
      loss_floor_ = 0;
    }
  }
  // Held back by the receiver's estimate: clearly below what the viewer is being sent. A move
  // down follows only when the lower tier would send less than that.
  const uint64_t usable_bps = remb_bps_ / 10 * 9;
  const bool held_by_remb = have_remb_ && now_us - remb_seen_us_ <= kRembFreshUs && send_bps_ > 0 &&
                            remb_bps_ * 100 < send_bps_ * kRembHeldPercent;
  int by_remb = 0;
  if (held_by_remb && tier_ + 1 < kBitrateTiers && send_bps_ > TierBitrate(top_bps, tier_ + 1)) {
    by_remb = kBitrateTiers - 1;
    for (int tier = 0; tier < kBitrateTiers; ++tier) {
      if (TierBitrate(top_bps, tier) <= usable_bps) {
        by_remb = tier;
        break;
      }
    }
    by_remb = std::max(by_remb, tier_ + 1);
  }
  const int target = std::max(by_remb, loss_floor_);
  const int before = tier_;
  if (target > tier_) {
    tier_ = target;
  } else if (target < tier_ && !held_by_remb && now_us - last_move_us_ >= kHoldUpUs) {
    --tier_;
  }
  if (tier_ != before) {
    // What the viewer is sent is measured afresh at its new tier before the REMB is judged
    // against it again.
    last_move_us_ = now_us;
    window_start_us_ = now_us;
    window_start_bytes_ = bytes_sent;
    send_bps_ = 0;
  }
  return tier_;
}

}  // namespace chorus::engine
