#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "pipeline/rtp/sequence.h"

namespace chorus::rtp {

// What Insert did with a packet.
enum class JitterInsertResult : uint8_t {
  kInserted,
  kDuplicate,  // that sequence number is already buffered
  kTooLate,    // its play-out time has passed
  kTooLarge,   // payload bigger than a slot
  kRestarted,  // far outside the window: the buffer restarted on it (sender restart)
};

// What Pull returns for one 20 ms tick.
enum class JitterPullKind : uint8_t {
  kFrame,      // a packet to decode
  kLost,       // a gap to conceal (next_payload, when not empty, holds the following packet for
               // Opus in-band FEC)
  kBuffering,  // not playing: not started yet, or the stream paused (DTX, end, long outage)
};

struct JitterFrame {
  JitterPullKind kind = JitterPullKind::kBuffering;
  std::span<const uint8_t> payload;       // valid until the next Insert or Pull
  std::span<const uint8_t> next_payload;  // kLost only; may be empty
  uint32_t timestamp = 0;
  bool has_level = false;
  uint8_t level = 127;  // RFC 6464 -dBov
  int64_t arrival_us = 0;
};

struct JitterStats {
  uint64_t inserted = 0;
  uint64_t played = 0;
  uint64_t concealed = 0;
  uint64_t late = 0;
  uint64_t duplicate = 0;
  uint64_t restarts = 0;
  uint64_t skipped = 0;  // frames dropped to shrink the delay
  int target_delay_ms = 0;
  int depth_ms = 0;
};

// The adaptive audio jitter buffer of a media endpoint, one packet per 20 ms tick.
//
// Packets are kept in 64 fixed slots indexed by their unwrapped sequence number (reordering and
// wrap-around at 65535 handled). Play-out starts once `target` frames are buffered; each tick
// then plays the next sequence number, or reports a loss when it is missing but later packets
// are there (or briefly when the buffer ran dry, so a single late packet is concealed rather than
// stopping play-out). After three dry ticks in a row the stream is taken as paused (Opus DTX or
// the end of talk) and play-out restarts with the next packet.
//
// The target delay follows the measured jitter: each packet's arrival is compared with the
// arrival its RTP timestamp predicts (relative to the earliest-arriving packet seen recently), a
// peak of these deviations is held and decays slowly, and target = ceil(peak / 20 ms) + 1 frames,
// between 1 frame (20 ms) and 10 frames (200 ms). A late packet grows the target at once and
// holds play-out one tick (conceals) to build the extra delay; when more than target + 2 frames
// are buffered, the oldest frame is skipped to shrink it. All memory is allocated in the
// constructor. Thread: one media worker.
class JitterBuffer {
 public:
  static constexpr size_t kSlots = 64;
  static constexpr size_t kMaxPayload = 1500;
  static constexpr int kFrameMs = 20;
  static constexpr int kMinTargetFrames = 1;
  static constexpr int kMaxTargetFrames = 10;

  // `clock_rate_hz` of the RTP timestamps (48000 Opus, 8000 G.711/G.722).
  explicit JitterBuffer(uint32_t clock_rate_hz);

  JitterInsertResult Insert(uint16_t sequence, uint32_t timestamp, std::span<const uint8_t> payload,
                            int64_t arrival_us, bool has_level = false, uint8_t level = 127);
  JitterFrame Pull();
  // Forgets everything (a new SSRC).
  void Reset();

  const JitterStats& stats() const { return stats_; }
  int target_frames() const { return target_frames_; }

 private:
  struct Slot {
    bool used = false;
    int64_t sequence = 0;
    uint32_t timestamp = 0;
    bool has_level = false;
    uint8_t level = 127;
    int64_t arrival_us = 0;
    uint16_t size = 0;
    std::array<uint8_t, kMaxPayload> data;
  };
  Slot& SlotOf(int64_t sequence) { return slots_[static_cast<size_t>(sequence) % kSlots]; }
  int Buffered() const;
  void UpdateJitter(uint32_t timestamp, int64_t arrival_us);

  const uint32_t clock_rate_hz_;
  std::array<Slot, kSlots> slots_;
  SequenceUnwrapper unwrapper_;
  TimestampUnwrapper timestamps_;
  bool playing_ = false;
  int64_t next_sequence_ = 0;
  int64_t highest_sequence_ = -1;
  int dry_ticks_ = 0;
  int hold_ticks_ = 0;
  int target_frames_ = 2;
  // Jitter estimation (microseconds).
  bool have_reference_ = false;
  int64_t reference_offset_us_ = 0;  // min over recent packets of arrival - media time
  double peak_deviation_us_ = 0;
  int64_t last_decay_us_ = 0;
  JitterStats stats_;
};

}  // namespace chorus::rtp
