#pragma once

#include <cstdint>
#include <limits>

namespace chorus::engine {

// Which bitrate tier of its view a viewer is sent (issue: Bandwidth). A view is composed and
// encoded once for all its viewers; a viewer whose link cannot carry it is not given an encoder
// of its own but moved to a lower tier: the same view encoded at half (tier 1) or a quarter
// (tier 2) of the bitrate, shared by every viewer of that view in that tier. A room costs at
// most kBitrateTiers encoders per distinct view, however many poor links it has.
//
// What moves a viewer, judged at each video tick (Update) from what arrived since:
//   - REMB, the bitrate its browser estimates it can receive in all, while the last one is at
//     most kRembFreshUs old (browsers send one every second or so). A receiver's estimate
//     follows what it is sent (it starts at what arrives and sits up to half above it on a
//     healthy link: a still picture encodes far below the view's bitrate, and its REMB is low
//     too), and falls below it on overuse (a browser's first cut is to 85 % of what arrives). So
//     it only counts when it holds the viewer back: when it is below kRembHeldPercent of what
//     the viewer was actually sent over the last second. It moves the viewer down only when
//     what it is sent exceeds the lower tier's bitrate (else a lower tier would send no less: a
//     sparse stream, where a browser's estimate swings widely, is never moved by it). The
//     viewer then goes to the highest tier whose bitrate fits in 90 % of it, one tier down at
//     least; what it is sent is then measured afresh, for a second, at its new tier before the
//     REMB is judged again.
//   - the loss it reports of the view in its RTCP receiver reports: a report of kLossDownPercent
//     or more moves it one tier down (at most once per kLossStepUs, so the reports still
//     carrying the loss from before a move do not push it further), and one under
//     kLossClearPercent releases that hold.
// Down moves are made at once. Up moves, since a receiver's estimate cannot show room it is not
// given, are tried: one tier at a time, kHoldUpUs after the last move, while neither REMB nor
// loss holds the viewer back (if the link cannot take it, they move it down again). Each move
// changes the viewer's view, which starts with a keyframe.
//
// A value class: no clock of its own (Update's now_us is the only time), no allocation, the
// owner's thread.
inline constexpr int kBitrateTiers = 3;

// The encoders take no less (video::VideoEncoderConfig); a low tier of a low-rate view is
// clamped to it, and then shares its key (and encoder) with the tier above.
inline constexpr uint64_t kMinTierBitrateBps = 50'000;

inline uint64_t TierBitrate(uint64_t top_bps, int tier) {
  const uint64_t floor = top_bps < kMinTierBitrateBps ? top_bps : kMinTierBitrateBps;
  const uint64_t bitrate = top_bps >> tier;
  return bitrate > floor ? bitrate : floor;
}

class ViewerTier {
 public:
  static constexpr int64_t kRembFreshUs = 5'000'000;
  static constexpr int64_t kRateWindowUs = 1'000'000;
  static constexpr uint64_t kRembHeldPercent = 80;
  static constexpr int kLossDownPercent = 10;
  static constexpr int kLossClearPercent = 2;
  static constexpr int64_t kLossStepUs = 3'000'000;
  static constexpr int64_t kHoldUpUs = 8'000'000;

  // A REMB from the viewer (bit/s).
  void OnRemb(uint64_t bitrate_bps) {
    remb_bps_ = bitrate_bps;
    remb_pending_ = true;
  }
  // A reception report block from the viewer about its view (fraction lost, of 256).
  void OnLossReport(uint8_t fraction_lost) {
    if (!loss_pending_ || fraction_lost > pending_fraction_lost_) {
      pending_fraction_lost_ = fraction_lost;
    }
    loss_pending_ = true;
  }
  // The tier to send the viewer now, for a view whose top bitrate is `top_bps`, `bytes_sent`
  // being everything sent to the viewer so far.
  int Update(uint64_t top_bps, uint64_t bytes_sent, int64_t now_us);
  int tier() const { return tier_; }
  // What the viewer was sent over the last whole rate window since its last move, bit/s (0
  // before one).
  uint64_t send_bps() const { return send_bps_; }

 private:
  static constexpr int64_t kLongAgo = std::numeric_limits<int64_t>::min() / 2;

  uint64_t remb_bps_ = 0;
  bool remb_pending_ = false;
  bool have_remb_ = false;
  int64_t remb_seen_us_ = kLongAgo;
  uint8_t pending_fraction_lost_ = 0;
  bool loss_pending_ = false;
  int loss_floor_ = 0;  // the tier loss holds the viewer at, at least
  int64_t last_loss_step_us_ = kLongAgo;
  bool window_started_ = false;
  int64_t window_start_us_ = 0;
  uint64_t window_start_bytes_ = 0;
  uint64_t send_bps_ = 0;
  int tier_ = 0;
  int64_t last_move_us_ = kLongAgo;
};

}  // namespace chorus::engine
