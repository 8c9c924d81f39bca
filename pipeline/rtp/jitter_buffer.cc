#include "pipeline/rtp/jitter_buffer.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

namespace chorus::rtp {
namespace {

JitterBufferConfig Sanitize(JitterBufferConfig config) {
  config.clock_rate_hz = std::max<uint32_t>(config.clock_rate_hz, 1000);
  config.frame_ms = std::clamp(config.frame_ms, 5, 120);
  config.capacity_packets = std::clamp<size_t>(config.capacity_packets, 4, 1024);
  config.max_payload_bytes = std::clamp<size_t>(config.max_payload_bytes, 1, 65535);
  config.min_delay_ms = std::clamp(config.min_delay_ms, 1, 10'000);
  config.max_delay_ms = std::clamp(config.max_delay_ms, config.min_delay_ms, 10'000);
  return config;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

}  // namespace

JitterBuffer::JitterBuffer(const JitterBufferConfig& config, const base::Clock& clock)
    : config_(Sanitize(config)),
      clock_(clock),
      frame_us_(int64_t{config_.frame_ms} * 1000),
      frame_ts_(int64_t{config_.clock_rate_hz} * config_.frame_ms / 1000),
      slots_(config_.capacity_packets),
      payloads_(config_.capacity_packets * config_.max_payload_bytes) {
  target_delay_us_ = std::clamp<int64_t>(frame_us_, int64_t{config_.min_delay_ms} * 1000,
                                         int64_t{config_.max_delay_ms} * 1000);
  stats_.target_delay_ms = static_cast<int>(target_delay_us_ / 1000);
}

JitterBuffer::JitterBuffer(uint32_t clock_rate_hz)
    : JitterBuffer(JitterBufferConfig{.clock_rate_hz = clock_rate_hz}, base::RealClock()) {}

void JitterBuffer::Reset() {
  for (Slot& slot : slots_) slot.used = false;
  buckets_.fill(JitterBucket{});
  has_ssrc_ = false;
  sequences_.Reset();
  timestamps_.Reset();
  buffered_ = 0;
  have_cursor_ = false;
  playing_ = false;
  dry_ticks_ = 0;
  last_played_quiet_ = false;
  ticks_since_shrink_ = 0;
  restart_pending_ = false;
  have_last_offset_ = false;
  stats_.depth_ms = 0;
  stats_.current_delay_ms = 0;
}

JitterBuffer::Slot& JitterBuffer::SlotOf(int64_t sequence) {
  return slots_[static_cast<size_t>(FloorMod(sequence, static_cast<int64_t>(slots_.size())))];
}

JitterBuffer::Slot* JitterBuffer::Find(int64_t sequence) {
  Slot& slot = SlotOf(sequence);
  return slot.used && slot.sequence == sequence ? &slot : nullptr;
}

uint8_t* JitterBuffer::PayloadOf(const Slot& slot) {
  const size_t index = static_cast<size_t>(&slot - slots_.data());
  return payloads_.data() + index * config_.max_payload_bytes;
}

void JitterBuffer::Release(Slot& slot) {
  slot.used = false;  // the payload bytes stay until the slot is written again
  --buffered_;
}

int64_t JitterBuffer::MediaUs(int64_t timestamp) const {
  const int64_t rate = config_.clock_rate_hz;
  return FloorDiv(timestamp, rate) * 1'000'000 + FloorMod(timestamp, rate) * 1'000'000 / rate;
}

void JitterBuffer::ObserveOffset(int64_t timestamp, int64_t arrival_us) {
  const int64_t offset = arrival_us - MediaUs(timestamp);
  if (have_last_offset_ && std::llabs(offset - last_offset_us_) > kDiscontinuityUs) {
    buckets_.fill(JitterBucket{});  // a timestamp jump, not jitter
  }
  have_last_offset_ = true;
  last_offset_us_ = offset;
  const int64_t second = FloorDiv(arrival_us, 1'000'000);
  JitterBucket& bucket = buckets_[static_cast<size_t>(FloorMod(second, kJitterWindowSeconds))];
  if (!bucket.used || bucket.second != second) {
    bucket = JitterBucket{
        .second = second, .used = true, .min_offset_us = offset, .max_offset_us = offset};
    return;
  }
  bucket.min_offset_us = std::min(bucket.min_offset_us, offset);
  bucket.max_offset_us = std::max(bucket.max_offset_us, offset);
}

bool JitterBuffer::JitterWindow(int64_t now_us, int64_t* reference_us, int64_t* peak_us) const {
  const int64_t now_second = FloorDiv(now_us, 1'000'000);
  bool any = false;
  int64_t low = std::numeric_limits<int64_t>::max();
  for (const JitterBucket& bucket : buckets_) {
    if (!bucket.used || bucket.second <= now_second - kJitterWindowSeconds) continue;
    any = true;
    low = std::min(low, bucket.min_offset_us);
  }
  if (!any) return false;
  // The peak: the highest of the last two seconds (so the target rises at once), or else the
  // second-highest second of the window (jitter that came back at least once). A one-off stall
  // is forgotten two seconds later instead of holding the delay up for the whole window.
  int64_t recent = 0;
  int64_t highest = 0;
  int64_t second_highest = 0;
  for (const JitterBucket& bucket : buckets_) {
    if (!bucket.used || bucket.second <= now_second - kJitterWindowSeconds) continue;
    const int64_t peak = bucket.max_offset_us - low;
    if (bucket.second >= now_second - 1) recent = std::max(recent, peak);
    if (peak > highest) {
      second_highest = highest;
      highest = peak;
    } else {
      second_highest = std::max(second_highest, peak);
    }
  }
  *reference_us = low;
  *peak_us = std::max(recent, second_highest);
  return true;
}

JitterBuffer::InsertResult JitterBuffer::Insert(const RtpPacketView& packet, int64_t arrival_us,
                                                std::optional<AudioLevel> level) {
  bool ssrc_changed = false;
  if (has_ssrc_ && packet.ssrc != ssrc_) {
    Reset();
    ++stats_.restarts;
    ssrc_changed = true;
  }
  has_ssrc_ = true;
  ssrc_ = packet.ssrc;
  const InsertResult result = InsertPacket(packet.sequence_number, packet.timestamp, packet.marker,
                                           packet.payload, arrival_us, level);
  if (ssrc_changed && result == InsertResult::kInserted) return InsertResult::kSsrcChanged;
  return result;
}

JitterBuffer::InsertResult JitterBuffer::InsertPacket(uint16_t sequence, uint32_t timestamp,
                                                      bool marker, std::span<const uint8_t> payload,
                                                      int64_t arrival_us,
                                                      std::optional<AudioLevel> level) {
  if (payload.size() > config_.max_payload_bytes) {
    ++stats_.too_large;
    return InsertResult::kTooLarge;
  }
  const int64_t capacity = static_cast<int64_t>(slots_.size());
  InsertResult result = InsertResult::kInserted;
  if (sequences_.started()) {
    const int64_t candidate = sequences_.Peek(sequence);
    const int64_t distance = candidate - sequences_.highest();
    if (distance > kFarSequence || distance < -kFarSequence) {
      if (!(restart_pending_ && sequence == restart_sequence_)) {
        restart_pending_ = true;
        restart_sequence_ = static_cast<uint16_t>(sequence + 1);
        ++stats_.too_old;
        return distance > 0 ? InsertResult::kTooFarAhead : InsertResult::kTooOld;
      }
      // The packet after a far jump follows it: the sender restarted its sequence.
      const bool had_ssrc = has_ssrc_;
      const uint32_t ssrc = ssrc_;
      Reset();
      has_ssrc_ = had_ssrc;
      ssrc_ = ssrc;
      ++stats_.restarts;
      result = InsertResult::kRestarted;
    }
  }
  restart_pending_ = false;
  const int64_t unwrapped = sequences_.Peek(sequence);
  if (have_cursor_ && unwrapped < next_sequence_) {
    if (unwrapped < next_sequence_ - capacity) {
      ++stats_.too_old;
      return InsertResult::kTooOld;
    }
    ++stats_.late;
    ObserveOffset(timestamps_.Unwrap(timestamp), arrival_us);  // it still raises the target
    return InsertResult::kTooLate;
  }
  if (playing_) {
    if (unwrapped >= next_sequence_ + capacity) {
      if (buffered_ > 0) {
        ++stats_.overflow;
        return InsertResult::kFull;
      }
      // Nothing buffered and far past the cursor (a long outage): restart play-out on it.
      playing_ = false;
    }
  } else if (buffered_ > 0) {
    if (unwrapped >= lowest_buffered_ + capacity || unwrapped <= sequences_.highest() - capacity) {
      ++stats_.overflow;
      return InsertResult::kFull;
    }
  }
  Slot& slot = SlotOf(unwrapped);
  if (slot.used) {
    if (slot.sequence == unwrapped) {
      ++stats_.duplicate;
      return InsertResult::kDuplicate;
    }
    // Unreachable while the window holds; refuse rather than overwrite.
    ++stats_.overflow;
    return InsertResult::kFull;
  }
  sequences_.Unwrap(sequence);
  const int64_t media_ts = timestamps_.Unwrap(timestamp);
  slot.used = true;
  slot.marker = marker;
  slot.has_level = level.has_value();
  slot.level = level.value_or(AudioLevel{});
  slot.size = static_cast<uint16_t>(payload.size());
  slot.sequence = unwrapped;
  slot.timestamp = media_ts;
  slot.rtp_timestamp = timestamp;
  slot.arrival_us = arrival_us;
  std::copy(payload.begin(), payload.end(), PayloadOf(slot));
  if (!playing_) {
    lowest_buffered_ = buffered_ == 0 ? unwrapped : std::min(lowest_buffered_, unwrapped);
  }
  ++buffered_;
  ++stats_.inserted;
  ObserveOffset(media_ts, arrival_us);
  return result;
}

void JitterBuffer::FillFrame(const Slot& slot, JitterFrame* frame) {
  frame->payload = std::span<const uint8_t>(
      payloads_.data() + static_cast<size_t>(&slot - slots_.data()) * config_.max_payload_bytes,
      slot.size);
  frame->timestamp = slot.rtp_timestamp;
  frame->sequence_number = static_cast<uint16_t>(slot.sequence);
  frame->marker = slot.marker;
  frame->has_level = slot.has_level;
  frame->level = slot.level.level;
  frame->voice_activity = slot.level.voice_activity;
  frame->arrival_us = slot.arrival_us;
}

JitterBuffer::PullResult JitterBuffer::Pull(JitterFrame* frame) {
  *frame = JitterFrame();
  if (idle()) {
    // Idle (not started, or paused on an empty buffer: a listener in silence): nothing to play,
    // and the target is needed only once a packet is buffered, so the window is left alone.
    stats_.current_delay_ms = 0;
    stats_.depth_ms = 0;
    return PullResult::kBuffering;
  }
  const int64_t now_us = clock_.NowUs();
  int64_t reference_us = 0;
  int64_t peak_us = 0;
  const bool have_reference = JitterWindow(now_us, &reference_us, &peak_us);
  if (have_reference) {
    target_delay_us_ = std::clamp(peak_us + frame_us_, int64_t{config_.min_delay_ms} * 1000,
                                  int64_t{config_.max_delay_ms} * 1000);
  }
  stats_.target_delay_ms = static_cast<int>(target_delay_us_ / 1000);
  const PullResult result = PullPlaying(now_us, have_reference, reference_us, frame);
  stats_.depth_ms = static_cast<int>(static_cast<int64_t>(buffered_) * config_.frame_ms);
  if (result == PullResult::kFrame) ++stats_.played;
  if (result == PullResult::kDtx) ++stats_.dtx;
  return result;
}

JitterBuffer::PullResult JitterBuffer::PullPlaying(int64_t now_us, bool have_reference,
                                                   int64_t reference_us, JitterFrame* frame) {
  if (!playing_) {
    stats_.current_delay_ms = 0;
    if (buffered_ == 0) return PullResult::kBuffering;
    // Start at the oldest buffered packet once it has waited (about) the target delay.
    const Slot* oldest = nullptr;
    for (const Slot& slot : slots_) {
      if (slot.used && (oldest == nullptr || slot.sequence < oldest->sequence)) oldest = &slot;
    }
    const int64_t waited = have_reference ? now_us - reference_us - MediaUs(oldest->timestamp)
                                          : now_us - oldest->arrival_us;
    if (waited + frame_us_ / 2 < target_delay_us_) return PullResult::kBuffering;
    playing_ = true;
    have_cursor_ = true;
    next_sequence_ = oldest->sequence;
    play_ts_ = oldest->timestamp;
    dry_ticks_ = 0;
    dry_concealed_ = 0;
    ticks_since_shrink_ = 0;
  }
  ++ticks_since_shrink_;
  // How long after the fastest possible arrival the due media is played.
  int64_t delay_us = have_reference ? now_us - reference_us - MediaUs(play_ts_) : 0;
  // A delay far outside what the buffer can hold means the arrival times are not on our clock
  // (or the stream jumped): do not adapt on it.
  const bool know_delay =
      have_reference && delay_us > -kDiscontinuityUs && delay_us < kDiscontinuityUs;
  if (!know_delay) delay_us = 0;
  stats_.current_delay_ms = static_cast<int>(delay_us / 1000);
  const bool want_grow = know_delay && delay_us + frame_us_ / 2 < target_delay_us_;
  const bool want_shrink = know_delay && delay_us > target_delay_us_ + frame_us_;

  Slot* slot = Find(next_sequence_);
  // Packets that went missing while the buffer was dry were concealed at their due time then:
  // move past them without concealing again.
  while (slot == nullptr && buffered_ > 0 && dry_concealed_ > 0) {
    --dry_concealed_;
    ++next_sequence_;
    play_ts_ += frame_ts_;
    slot = Find(next_sequence_);
  }
  if (slot == nullptr) {
    if (buffered_ > 0) {
      // A gap with later packets buffered: a loss for the decoder to conceal.
      dry_ticks_ = 0;
      if (const Slot* next = Find(next_sequence_ + 1)) {
        frame->next_payload = std::span<const uint8_t>(PayloadOf(*next), next->size);
      }
      ++next_sequence_;
      play_ts_ += frame_ts_;
      ++stats_.concealed;
      return PullResult::kLost;
    }
    // Empty: the packet may be late, or the stream paused.
    if (++dry_ticks_ > kMaxDryTicks) {
      playing_ = false;
      ++stats_.underruns;
      return PullResult::kBuffering;
    }
    // The cursor and play_ts stay: a late packet still plays, one frame later.
    ++dry_concealed_;
    if (last_played_quiet_) return PullResult::kDtx;
    ++stats_.concealed;
    return PullResult::kLost;
  }
  dry_ticks_ = 0;

  const int64_t gap_ts = slot->timestamp - play_ts_;
  if (gap_ts > frame_ts_ / 2) {
    if (MediaUs(gap_ts) > 2 * int64_t{config_.max_delay_ms} * 1000 + 1'000'000) {
      play_ts_ = slot->timestamp;  // a timestamp jump, not a silence: play it now
    } else {
      // Discontinuous transmission: silence until the next packet is due.
      if (want_grow) {
        ++stats_.held;  // an extra silent tick
      } else {
        play_ts_ += frame_ts_;
        if (want_shrink && ticks_since_shrink_ >= kShrinkIntervalTicks &&
            slot->timestamp - play_ts_ >= frame_ts_) {
          play_ts_ += frame_ts_;  // one silent frame less
          ++stats_.skipped;
          ticks_since_shrink_ = 0;
        }
      }
      return PullResult::kDtx;
    }
  } else if (want_grow) {
    // Hold: one more frame of delay without consuming the packet (silence when it is quiet).
    ++stats_.held;
    if (last_played_quiet_) return PullResult::kDtx;
    ++stats_.concealed;
    return PullResult::kLost;
  } else if (want_shrink) {
    const bool quiet =
        slot->has_level && (slot->level.level >= kQuietLevel || !slot->level.voice_activity);
    // Quiet frames and a large excess go fast; speech of unknown level slowly.
    const int interval = quiet || delay_us > target_delay_us_ + 3 * frame_us_
                             ? kShrinkIntervalTicks
                             : kSlowShrinkIntervalTicks;
    Slot* following = Find(next_sequence_ + 1);
    if (following != nullptr && ticks_since_shrink_ >= interval) {
      Release(*slot);
      ++next_sequence_;
      play_ts_ = slot->timestamp + frame_ts_;
      ++stats_.skipped;
      ticks_since_shrink_ = 0;
      slot = following;
      if (slot->timestamp - play_ts_ > frame_ts_ / 2) {
        play_ts_ += frame_ts_;
        return PullResult::kDtx;
      }
    }
  }
  dry_concealed_ = 0;
  FillFrame(*slot, frame);
  last_played_quiet_ =
      slot->has_level && (slot->level.level >= kQuietLevel || !slot->level.voice_activity);
  Release(*slot);
  ++next_sequence_;
  play_ts_ = slot->timestamp + frame_ts_;
  return PullResult::kFrame;
}

}  // namespace chorus::rtp
