#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace chorus::audio {

// Chooses at most K speakers of one bus each tick (DESIGN.md, Mixing), from per-source levels in
// RFC 6464 -dBov (0 loudest, 127 silent): from the packet's audio-level extension when present,
// otherwise measured on the decoded frame.
//
// Levels are smoothed (fast rise, slower fall). A source is a candidate while its smoothed level
// is louder than -55 dBov. Selected speakers stay selected while they are candidates, and for a
// hang time of 400 ms after they fall silent (so pauses between words do not drop them). A free
// place goes to the loudest candidate; when all K places are taken, a candidate replaces the
// weakest speaker only if it is louder by 6 dB for 100 ms in a row (hysteresis: two close voices
// do not flap). Thread: one media worker. No allocation after construction.
class SpeakerSelector {
 public:
  static constexpr float kActiveBelowDbov = 55.0f;
  static constexpr int kHangTicks = 20;    // 400 ms
  static constexpr int kReplaceTicks = 5;  // 100 ms
  static constexpr float kReplaceMarginDb = 6.0f;

  // `capacity`: most sources; `max_speakers`: K.
  SpeakerSelector(size_t capacity, int max_speakers);

  // Per tick, for each source slot: whether it delivered audio and its level.
  void SetLevel(size_t slot, bool has_audio, uint8_t level_dbov);
  // Forgets a slot (source removed, muted or moved to another bus).
  void Clear(size_t slot);
  // Runs the selection; returns true when the set of speakers changed.
  bool Select();

  bool IsSpeaker(size_t slot) const { return selected_[slot]; }
  const std::vector<uint32_t>& speakers() const { return speakers_; }  // slots, loudest first
  int max_speakers() const { return max_speakers_; }

 private:
  const int max_speakers_;
  std::vector<float> smoothed_;  // -dBov, lower is louder
  std::vector<bool> present_;    // delivered audio this tick
  std::vector<bool> selected_;
  std::vector<int> silent_ticks_;  // selected speakers: ticks since last active
  std::vector<int> louder_ticks_;  // candidates: ticks louder than the weakest speaker by margin
  std::vector<uint32_t> speakers_;
};

}  // namespace chorus::audio
