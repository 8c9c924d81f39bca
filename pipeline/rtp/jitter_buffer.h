#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pipeline/base/clock.h"
#include "pipeline/rtp/audio_level.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/rtp/sequence.h"

namespace chorus::rtp {

// How a JitterBuffer is sized. Out-of-range values are clamped by the constructor (it cannot
// fail): clock rate >= 1000, frame 5..120 ms, capacity 4..1024 packets, payload 1..65535 bytes,
// 0 < min_delay_ms <= max_delay_ms.
struct JitterBufferConfig {
  uint32_t clock_rate_hz = 48000;  // of the RTP timestamps (48000 Opus, 8000 G.711/G.722)
  int frame_ms = 20;               // one Pull() per frame_ms
  size_t capacity_packets = 64;
  size_t max_payload_bytes = 1500;
  int min_delay_ms = 20;
  int max_delay_ms = 200;
};

// One Pull(). Spans point into the buffer's own memory and stay valid until the next Insert(),
// Pull() or Reset().
struct JitterFrame {
  std::span<const uint8_t> payload;       // kFrame: the packet's payload
  std::span<const uint8_t> next_payload;  // kLost: the next packet when buffered (for FEC)
  uint32_t timestamp = 0;                 // kFrame: RTP timestamp of the packet
  uint16_t sequence_number = 0;           // kFrame
  bool marker = false;                    // kFrame: RTP marker (start of a talkspurt)
  bool has_level = false;                 // kFrame: an RFC 6464 level came with the packet
  uint8_t level = kSilentLevel;           // -dBov
  bool voice_activity = false;
  int64_t arrival_us = 0;  // kFrame: when the packet arrived
};

// Counters since construction (not cleared by Reset) and two gauges.
struct JitterStats {
  uint64_t inserted = 0;
  uint64_t played = 0;
  uint64_t concealed = 0;  // kLost ticks (losses and underruns)
  uint64_t late = 0;       // arrived after their play-out time (kTooLate)
  uint64_t duplicate = 0;
  uint64_t overflow = 0;  // dropped: buffer full (kFull)
  uint64_t too_old = 0;   // dropped: far outside the window (kTooOld, kTooFarAhead)
  uint64_t too_large = 0;
  uint64_t restarts = 0;     // sequence restarts and SSRC changes
  uint64_t skipped = 0;      // frames dropped unplayed to shrink the delay
  uint64_t held = 0;         // ticks held (concealed without consuming a packet) to grow the delay
  uint64_t dtx = 0;          // kDtx ticks
  uint64_t underruns = 0;    // play-out stopped on an empty buffer
  int target_delay_ms = 0;   // as of the last Pull with a packet buffered or playing
  int current_delay_ms = 0;  // play-out delay over the fastest packet of the window
  int depth_ms = 0;          // buffered packets x frame
};

// The adaptive audio jitter buffer of one media endpoint (one RTP source).
//
// Thread: one media worker; not thread-safe. Memory: every slot (capacity x max payload) is
// allocated in the constructor; Insert, Pull and Reset never allocate, lock, log or throw. Bad or
// unwanted packets are refused with a reason for the caller to count. `clock` must outlive the
// buffer, and arrival times given to Insert must be on the same clock.
//
// Algorithm.
// - Slots are indexed by the unwrapped sequence number (sequence.h) modulo the capacity, so
//   reordering within the window and wrap-around at 65535 cost nothing. Play-out keeps a cursor
//   (the next sequence number) and a media clock `play_ts` (the RTP timestamp due now).
// - Jitter estimate: for every packet, offset = arrival - media time (timestamp / clock rate).
//   Over a sliding window of 10 one-second buckets the smallest offset is the reference (the
//   fastest packet). Each second's peak is its largest offset minus the reference; the peak
//   jitter is the highest of the last two seconds (so it grows as soon as a slower packet
//   arrives) or the second-highest of the window, whichever is larger: jitter that recurs is
//   held for 10 s, a single stall only for the two seconds after it.
//   target delay = peak + one frame, clamped to [min_delay_ms, max_delay_ms] (20..200 ms).
// - Current delay = now - reference - media time of play_ts: how long after the fastest possible
//   arrival the due packet is played. Play-out starts when the oldest packet has waited
//   target - frame/2. Each Pull then: plays the due packet (kFrame); or, when the next packet's
//   timestamp is ahead of play_ts without a sequence gap, reports kDtx (discontinuous
//   transmission: silence, not loss) and advances play_ts one frame; or, when the due packet is
//   missing but later ones are buffered, reports kLost with a peek at the next packet (Opus FEC)
//   and moves on; or, on an empty buffer, conceals (kLost) without moving the cursor, so a
//   packet that is just late still plays (the delay grows by one frame), and after 3 such ticks
//   stops (kBuffering: a pause, DTX or end of talk) and starts again at the target delay. If
//   the packets due in those ticks turn out lost (a later one arrives first), they are passed
//   over without a second concealment, so the delay does not grow. When
//   the last packet played said it was silent (RFC 6464: no voice activity or a level of 50
//   -dBov or quieter), those empty ticks are reported as kDtx instead of kLost: a sender that
//   went quiet most likely stopped sending (DTX), and concealing silence is pointless.
// - Adaptation: when the current delay is below target - frame/2, a tick is held (kLost without
//   consuming a packet, or an extra kDtx tick in silence): growth is immediate. When it is above
//   target + frame, one frame is dropped: a kDtx tick is shortened or a quiet frame (RFC 6464
//   level >= 50 -dBov or no voice activity) skipped, at most every 5 ticks; another frame is
//   skipped at most every 25 ticks (0.5 s), or every 5 while the excess exceeds 3 frames. (There
//   is no time stretching: a skipped speech frame is a short discontinuity the decoder smooths.) A
//   packet that comes too late is refused (kTooLate) but its offset still raises the target.
// - Restarts: a packet more than 3000 numbers away from the highest is refused (kTooOld /
//   kTooFarAhead) unless the next one follows it, which restarts the buffer on it (a sender
//   restart, as in RFC 3550 A.1). A new SSRC (view API) resets the buffer (kSsrcChanged).
//   A timestamp jump of more than 10 s resets the jitter estimate.
// - Packet durations: one Pull consumes one packet and advances play_ts by one frame. Packets of
//   20 ms (with frame_ms = 20) are the supported case. Packets of 40 or 60 ms play as one kFrame
//   followed by one or two kDtx ticks (their timestamps are ahead of play_ts): the caller plays
//   the rest of the decoded audio in those ticks. 10 ms packets need frame_ms = 10 and a Pull
//   every 10 ms; with frame_ms = 20 they would play at half speed and the delay would grow until
//   frames are skipped.
class JitterBuffer {
 public:
  enum class InsertResult : uint8_t {
    kInserted,
    kDuplicate,    // already buffered (or already played)
    kTooLate,      // its play-out time has passed (within the window): dropped
    kTooOld,       // far behind (more than the capacity behind the cursor, or 3000 behind)
    kTooFarAhead,  // more than 3000 ahead: dropped unless the next packet confirms a restart
    kFull,         // beyond the capacity ahead of the cursor: dropped
    kTooLarge,     // payload bigger than a slot
    kRestarted,    // sender restart confirmed: buffer reset, packet inserted
    kSsrcChanged,  // a new SSRC: buffer reset, packet inserted
  };
  enum class PullResult : uint8_t {
    kFrame,      // decode frame->payload
    kLost,       // conceal one frame; frame->next_payload (may be empty) holds the next packet
    kDtx,        // discontinuous transmission: a silent tick, not a loss (comfort noise / zeros)
    kBuffering,  // not playing: not started yet or stopped after an underrun
  };

  JitterBuffer(const JitterBufferConfig& config, const base::Clock& clock);
  // Existing callers: 20 ms frames, 64 x 1500 bytes, the process's monotonic clock.
  explicit JitterBuffer(uint32_t clock_rate_hz);

  JitterBuffer(const JitterBuffer&) = delete;
  JitterBuffer& operator=(const JitterBuffer&) = delete;

  // Inserts a parsed packet (its payload is copied) that arrived at `arrival_us`, with the RFC
  // 6464 level read from its extension when there was one.
  InsertResult Insert(const RtpPacketView& packet, int64_t arrival_us,
                      std::optional<AudioLevel> level = std::nullopt);
  // One 20 ms tick (frame_ms): what to decode, conceal or skip. `*frame` is overwritten.
  PullResult Pull(JitterFrame* frame);

  // Forgets every packet, the SSRC and the jitter estimate (statistics counters stay).
  void Reset();

  const JitterStats& stats() const { return stats_; }
  int target_delay_ms() const { return static_cast<int>(target_delay_us_ / 1000); }
  // Not started, or paused on an empty buffer: Pull answers kBuffering until a packet comes.
  bool idle() const { return !playing_ && buffered_ == 0; }
  int target_frames() const { return static_cast<int>(target_delay_us_ / frame_us_); }
  const JitterBufferConfig& config() const { return config_; }

 private:
  struct Slot {
    bool used = false;
    bool marker = false;
    bool has_level = false;
    AudioLevel level;
    uint16_t size = 0;
    int64_t sequence = 0;   // unwrapped
    int64_t timestamp = 0;  // unwrapped
    uint32_t rtp_timestamp = 0;
    int64_t arrival_us = 0;
  };
  // Min and max offset (arrival - media time) of the packets that arrived in one second.
  struct JitterBucket {
    int64_t second = 0;
    bool used = false;
    int64_t min_offset_us = 0;
    int64_t max_offset_us = 0;
  };
  static constexpr int kJitterWindowSeconds = 10;
  static constexpr int64_t kFarSequence = 3000;
  static constexpr int kMaxDryTicks = 3;
  static constexpr int kShrinkIntervalTicks = 5;
  static constexpr int kSlowShrinkIntervalTicks = 25;
  static constexpr uint8_t kQuietLevel = 50;
  static constexpr int64_t kDiscontinuityUs = 10'000'000;

  InsertResult InsertPacket(uint16_t sequence, uint32_t timestamp, bool marker,
                            std::span<const uint8_t> payload, int64_t arrival_us,
                            std::optional<AudioLevel> level);
  Slot& SlotOf(int64_t sequence);
  Slot* Find(int64_t sequence);
  uint8_t* PayloadOf(const Slot& slot);
  void Release(Slot& slot);
  int64_t MediaUs(int64_t timestamp) const;
  void ObserveOffset(int64_t timestamp, int64_t arrival_us);
  // Reference offset and peak jitter over the live window at `now_us`; false when empty.
  bool JitterWindow(int64_t now_us, int64_t* reference_us, int64_t* peak_us) const;
  void FillFrame(const Slot& slot, JitterFrame* frame);
  PullResult PullPlaying(int64_t now_us, bool have_reference, int64_t reference_us,
                         JitterFrame* frame);

  const JitterBufferConfig config_;
  const base::Clock& clock_;
  const int64_t frame_us_;
  const int64_t frame_ts_;         // one frame in RTP units
  std::vector<Slot> slots_;        // capacity, allocated once
  std::vector<uint8_t> payloads_;  // capacity x max payload, allocated once
  std::array<JitterBucket, kJitterWindowSeconds> buckets_{};

  bool has_ssrc_ = false;
  uint32_t ssrc_ = 0;
  SequenceUnwrapper sequences_;
  TimestampUnwrapper timestamps_;
  size_t buffered_ = 0;
  int64_t lowest_buffered_ = 0;  // valid while !playing_ and buffered_ > 0
  bool have_cursor_ = false;     // next_sequence_ is meaningful (play-out started once)
  bool playing_ = false;
  int64_t next_sequence_ = 0;
  int64_t play_ts_ = 0;
  int dry_ticks_ = 0;
  int dry_concealed_ = 0;  // empty ticks concealed (or DTX) since the last packet played
  bool last_played_quiet_ = false;
  int ticks_since_shrink_ = 0;
  bool restart_pending_ = false;
  uint16_t restart_sequence_ = 0;
  bool have_last_offset_ = false;
  int64_t last_offset_us_ = 0;
  int64_t target_delay_us_ = 0;
  JitterStats stats_;
};

}  // namespace chorus::rtp
