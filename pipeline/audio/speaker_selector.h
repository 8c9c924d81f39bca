#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace chorus::audio {

struct SpeakerSelectorConfig {
  int max_speakers = 3;  // K: at most this many speakers are mixed on the bus
  // A source is a candidate while its smoothed level is louder than this (-dBov, RFC 6464).
  float active_below_dbov = 55.0f;
  // Hysteresis: a candidate replaces the weakest selected speaker only when it is louder by this
  // margin for this many ticks in a row.
  float replace_margin_db = 6.0f;
  int replace_hold_ticks = 5;  // 100 ms of 20 ms ticks
  // A selected speaker that stops being a candidate keeps its place this long (pauses between
  // words do not drop it), unless a louder candidate takes it.
  int hang_ticks = 20;  // 400 ms
  // Level smoothing per tick: the share of the distance to the new level covered when it is
  // louder (rise) and when it is quieter (slow fall). The rise is immediate, so a voice is
  // selected on the first frame of its talk spurt (a slower rise clipped 20 to 40 ms off every
  // onset); flapping is held off by the hang time and the replacement margin and hold instead.
  float rise = 1.0f;
  float fall = 0.1f;
};

// Chooses at most K speakers of one bus each 20 ms tick (DESIGN.md, Mixing) from per-source
// levels in -dBov as RFC 6464 defines them (0 loudest, 127 silence): from the packet's audio-level
// header extension when it had one, otherwise measured on the decoded frame by the caller.
//
// Sources are dense slots 0..capacity-1 (the mixer's participant slots). Levels are smoothed;
// free places go to the loudest candidates at once; when all K places are taken a candidate must
// beat the weakest speaker by replace_margin_db for replace_hold_ticks ticks to take its place,
// so two voices at close levels do not flap; a speaker that goes quiet is released after
// hang_ticks. Select() reports whether the set changed, and added()/removed() say how, for
// speaker-changed events.
//
// Thread: the owner's (one media worker). Storage is allocated in the constructor; SetLevel,
// Clear and Select allocate nothing. Slots out of range are ignored (never a crash).
class SpeakerSelector {
 public:
  // Kept for callers that compare a level with the default candidate threshold.
  static constexpr float kActiveBelowDbov = 55.0f;

  SpeakerSelector(size_t capacity, const SpeakerSelectorConfig& config);

  // This tick's level of `slot`; `has_audio` false when the source delivered no audio (or is
  // muted or not admitted): it then counts as silence.
  void SetLevel(size_t slot, bool has_audio, uint8_t level_dbov);
  // Forgets a slot at once (source removed, muted or moved to another bus); if it was selected,
  // its place is freed and removed() reports it at the next Select().
  void Clear(size_t slot);
  // Runs the selection for this tick; true when the set of speakers changed (since the last
  // Select, including Clear()s). SetLevel must have been called for every live slot before.
  bool Select();

  bool IsSpeaker(size_t slot) const { return slot < selected_.size() && selected_[slot]; }
  // Selected slots, loudest first.
  std::span<const uint32_t> speakers() const { return speakers_; }
  // Slots selected / released by the last Select().
  std::span<const uint32_t> added() const { return added_; }
  std::span<const uint32_t> removed() const { return removed_; }
  float smoothed_level(size_t slot) const { return smoothed_[slot]; }
  int max_speakers() const { return config_.max_speakers; }

 private:
  bool IsCandidate(size_t slot) const;
  void Release(size_t index_in_speakers);

  const SpeakerSelectorConfig config_;
  // Slots from end_ on were never given a level (or were cleared and are at their defaults):
  // never candidates, so Select() looks at [0, end_) only. A room of two in a session sized for
  // a thousand costs two slots a tick, not a thousand.
  size_t end_ = 0;
  std::vector<float> smoothed_;    // -dBov, lower is louder
  std::vector<uint8_t> present_;   // delivered audio this tick
  std::vector<uint8_t> selected_;  // in speakers_
  std::vector<int> quiet_ticks_;   // selected: ticks since it was last a candidate
  std::vector<int> louder_ticks_;  // not selected: ticks in a row louder than the weakest + margin
  std::vector<uint32_t> speakers_;
  std::vector<uint32_t> added_;
  std::vector<uint32_t> removed_;
  std::vector<uint32_t> cleared_;  // released by Clear() since the last Select()
};

}  // namespace chorus::audio
