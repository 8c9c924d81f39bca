#include "pipeline/rtp/jitter_buffer.h"

#include <algorithm>
#include <cmath>

namespace chorus::rtp {

JitterBuffer::JitterBuffer(uint32_t clock_rate_hz) : clock_rate_hz_(clock_rate_hz) {
  stats_.target_delay_ms = target_frames_ * kFrameMs;
}

void JitterBuffer::Reset() {
  for (Slot& slot : slots_) slot.used = false;
  unwrapper_.Reset();
  timestamps_.Reset();
  playing_ = false;
  highest_sequence_ = -1;
  dry_ticks_ = 0;
  hold_ticks_ = 0;
  have_reference_ = false;
  peak_deviation_us_ = 0;
}

int JitterBuffer::Buffered() const {
  int count = 0;
  for (const Slot& slot : slots_) count += slot.used ? 1 : 0;
  return count;
}

void JitterBuffer::UpdateJitter(uint32_t timestamp, int64_t arrival_us) {
  const int64_t media_us = timestamps_.Unwrap(timestamp) * 1'000'000 / clock_rate_hz_;
  const int64_t offset = arrival_us - media_us;
  if (!have_reference_ || offset < reference_offset_us_) {
    reference_offset_us_ = offset;  // the earliest-arriving packet so far
    have_reference_ = true;
  }
  const double deviation = static_cast<double>(offset - reference_offset_us_);
  peak_deviation_us_ = std::max(peak_deviation_us_, deviation);
  // Let the peak and the reference decay (about 5 % a second), so a quieter network brings the
  // target back down and a drifting clock does not accumulate.
  if (arrival_us - last_decay_us_ >= 100'000) {
    peak_deviation_us_ *= 0.995;
    reference_offset_us_ += 100;  // 0.1 ms per 100 ms: follows a slow clock drift
    last_decay_us_ = arrival_us;
  }
  int wanted = static_cast<int>(std::ceil(peak_deviation_us_ / (kFrameMs * 1000.0))) + 1;
  wanted = std::clamp(wanted, kMinTargetFrames, kMaxTargetFrames);
  if (wanted > target_frames_) {
    target_frames_ = wanted;  // grow at once
  } else if (wanted < target_frames_ && peak_deviation_us_ < (target_frames_ - 2) * 20'000.0) {
    target_frames_ -= 1;  // shrink one frame at a time, with a margin
  }
  stats_.target_delay_ms = target_frames_ * kFrameMs;
}

JitterInsertResult JitterBuffer::Insert(uint16_t sequence, uint32_t timestamp,
                                        std::span<const uint8_t> payload, int64_t arrival_us,
                                        bool has_level, uint8_t level) {
  if (payload.size() > kMaxPayload) return JitterInsertResult::kTooLarge;
  int64_t unwrapped = unwrapper_.Unwrap(sequence);
  JitterInsertResult result = JitterInsertResult::kInserted;
  if (highest_sequence_ >= 0 &&
      (unwrapped > highest_sequence_ + static_cast<int64_t>(kSlots) * 4 ||
       unwrapped < highest_sequence_ - static_cast<int64_t>(kSlots) * 4)) {
    // Far outside the window: the sender restarted its sequence.
    Reset();
    unwrapped = unwrapper_.Unwrap(sequence);
    ++stats_.restarts;
    result = JitterInsertResult::kRestarted;
  }
  if (playing_ && unwrapped < next_sequence_) {
    ++stats_.late;
    // The network is slower than the buffer: grow the delay by one frame at once.
    if (target_frames_ < kMaxTargetFrames) {
      ++target_frames_;
      ++hold_ticks_;
      stats_.target_delay_ms = target_frames_ * kFrameMs;
    }
    return JitterInsertResult::kTooLate;
  }
  if (playing_ && unwrapped >= next_sequence_ + static_cast<int64_t>(kSlots)) {
    // Would overwrite frames not yet played: skip ahead to make room.
    for (int64_t s = next_sequence_; s <= unwrapped - static_cast<int64_t>(kSlots); ++s) {
      Slot& old = SlotOf(s);
      if (old.used && old.sequence == s) old.used = false;
      ++stats_.skipped;
    }
    next_sequence_ = unwrapped - static_cast<int64_t>(kSlots) + 1;
  }
  Slot& slot = SlotOf(unwrapped);
  if (slot.used && slot.sequence == unwrapped) {
    ++stats_.duplicate;
    return JitterInsertResult::kDuplicate;
  }
  slot.used = true;
  slot.sequence = unwrapped;
  slot.timestamp = timestamp;
  slot.has_level = has_level;
  slot.level = level;
  slot.arrival_us = arrival_us;
  slot.size = static_cast<uint16_t>(payload.size());
  std::copy(payload.begin(), payload.end(), slot.data.begin());
  highest_sequence_ = std::max(highest_sequence_, unwrapped);
  ++stats_.inserted;
  UpdateJitter(timestamp, arrival_us);
  return result;
}

JitterFrame JitterBuffer::Pull() {
  JitterFrame frame;
  const int buffered = Buffered();
  stats_.depth_ms = buffered * kFrameMs;
  if (!playing_) {
    if (buffered == 0 || buffered < target_frames_) return frame;  // kBuffering
    // Start with the lowest buffered sequence number.
    int64_t lowest = highest_sequence_;
    for (const Slot& slot : slots_) {
      if (slot.used) lowest = std::min(lowest, slot.sequence);
    }
    next_sequence_ = lowest;
    playing_ = true;
    dry_ticks_ = 0;
    hold_ticks_ = 0;
  }
  if (hold_ticks_ > 0) {
    --hold_ticks_;
    frame.kind = JitterPullKind::kLost;
    ++stats_.concealed;
    return frame;
  }
  // Too much buffered: skip the oldest frame to bring the delay back to the target.
  if (buffered > target_frames_ + 2) {
    Slot& oldest = SlotOf(next_sequence_);
    if (oldest.used && oldest.sequence == next_sequence_) oldest.used = false;
    ++next_sequence_;
    ++stats_.skipped;
  }
  Slot& slot = SlotOf(next_sequence_);
  if (slot.used && slot.sequence == next_sequence_) {
    slot.used = false;  // the data stays valid until the next Insert into this slot
    frame.kind = JitterPullKind::kFrame;
    frame.payload = std::span<const uint8_t>(slot.data.data(), slot.size);
    frame.timestamp = slot.timestamp;
    frame.has_level = slot.has_level;
    frame.level = slot.level;
    frame.arrival_us = slot.arrival_us;
    ++next_sequence_;
    dry_ticks_ = 0;
    ++stats_.played;
    return frame;
  }
  // Missing. With later packets buffered it is a loss; with none, the stream may have paused.
  if (highest_sequence_ < next_sequence_) {
    if (++dry_ticks_ > 3) {
      playing_ = false;
      return frame;  // kBuffering
    }
  }
  frame.kind = JitterPullKind::kLost;
  Slot& next = SlotOf(next_sequence_ + 1);
  if (next.used && next.sequence == next_sequence_ + 1) {
    frame.next_payload = std::span<const uint8_t>(next.data.data(), next.size);
  }
  ++next_sequence_;
  ++stats_.concealed;
  return frame;
}

}  // namespace chorus::rtp
