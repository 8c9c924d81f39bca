#include "pipeline/audio/speaker_selector.h"

#include <algorithm>

namespace chorus::audio {

SpeakerSelector::SpeakerSelector(size_t capacity, int max_speakers)
    : max_speakers_(max_speakers),
      smoothed_(capacity, 127.0f),
      present_(capacity, false),
      selected_(capacity, false),
      silent_ticks_(capacity, 0),
      louder_ticks_(capacity, 0) {
  speakers_.reserve(static_cast<size_t>(max_speakers));
}

void SpeakerSelector::SetLevel(size_t slot, bool has_audio, uint8_t level_dbov) {
  const float level = has_audio ? static_cast<float>(level_dbov) : 127.0f;
  float& s = smoothed_[slot];
  // Louder (lower) levels are followed quickly, quieter ones slowly.
  s += (level < s ? 0.5f : 0.1f) * (level - s);
  present_[slot] = has_audio;
}

void SpeakerSelector::Clear(size_t slot) {
  smoothed_[slot] = 127.0f;
  present_[slot] = false;
  louder_ticks_[slot] = 0;
  silent_ticks_[slot] = 0;
  if (selected_[slot]) {
    selected_[slot] = false;
    speakers_.erase(std::remove(speakers_.begin(), speakers_.end(), static_cast<uint32_t>(slot)),
                    speakers_.end());
  }
}

bool SpeakerSelector::Select() {
  bool changed = false;
  // Release speakers silent for longer than the hang time.
  for (size_t i = 0; i < speakers_.size();) {
    const uint32_t slot = speakers_[i];
    const bool active = present_[slot] && smoothed_[slot] < kActiveBelowDbov;
    silent_ticks_[slot] = active ? 0 : silent_ticks_[slot] + 1;
    if (silent_ticks_[slot] > kHangTicks) {
      selected_[slot] = false;
      speakers_.erase(speakers_.begin() + static_cast<std::ptrdiff_t>(i));
      changed = true;
    } else {
      ++i;
    }
  }
  // Candidates, loudest first, fill free places or replace the weakest speaker.
  for (;;) {
    size_t best = smoothed_.size();
    for (size_t slot = 0; slot < smoothed_.size(); ++slot) {
      if (selected_[slot] || !present_[slot] || smoothed_[slot] >= kActiveBelowDbov) {
        louder_ticks_[slot] = 0;
        continue;
      }
      if (best == smoothed_.size() || smoothed_[slot] < smoothed_[best]) best = slot;
    }
    if (best == smoothed_.size()) break;
    if (static_cast<int>(speakers_.size()) < max_speakers_) {
      selected_[best] = true;
      silent_ticks_[best] = 0;
      louder_ticks_[best] = 0;
      speakers_.push_back(static_cast<uint32_t>(best));
      changed = true;
      continue;
    }
    // All places taken: the weakest speaker (highest -dBov).
    size_t weakest_index = 0;
    for (size_t i = 1; i < speakers_.size(); ++i) {
      if (smoothed_[speakers_[i]] > smoothed_[speakers_[weakest_index]]) weakest_index = i;
    }
    const uint32_t weakest = speakers_[weakest_index];
    if (smoothed_[best] + kReplaceMarginDb < smoothed_[weakest]) {
      if (++louder_ticks_[best] >= kReplaceTicks) {
        selected_[weakest] = false;
        selected_[best] = true;
        silent_ticks_[best] = 0;
        louder_ticks_[best] = 0;
        speakers_[weakest_index] = static_cast<uint32_t>(best);
        changed = true;
      }
    } else {
      louder_ticks_[best] = 0;
    }
    break;
  }
  std::sort(speakers_.begin(), speakers_.end(),
            [this](uint32_t a, uint32_t b) { return smoothed_[a] < smoothed_[b]; });
  return changed;
}

}  // namespace chorus::audio
