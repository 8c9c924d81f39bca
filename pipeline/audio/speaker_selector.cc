#include "pipeline/audio/speaker_selector.h"

#include <algorithm>

namespace chorus::audio {

SpeakerSelector::SpeakerSelector(size_t capacity, const SpeakerSelectorConfig& config)
    : config_(config),
      smoothed_(capacity, 127.0f),
      present_(capacity, 0),
      selected_(capacity, 0),
      quiet_ticks_(capacity, 0),
      louder_ticks_(capacity, 0) {
  const size_t k = static_cast<size_t>(std::max(config.max_speakers, 0));
  speakers_.reserve(k);
  added_.reserve(k);
  removed_.reserve(k + capacity);
  cleared_.reserve(capacity);
}

void SpeakerSelector::SetLevel(size_t slot, bool has_audio, uint8_t level_dbov) {
  if (slot >= smoothed_.size()) return;
  if (slot >= end_) end_ = slot + 1;
  const float level = has_audio ? static_cast<float>(std::min<uint8_t>(level_dbov, 127)) : 127.0f;
  float& s = smoothed_[slot];
  s += (level < s ? config_.rise : config_.fall) * (level - s);
  present_[slot] = has_audio ? 1 : 0;
}

void SpeakerSelector::Clear(size_t slot) {
  if (slot >= smoothed_.size()) return;
  smoothed_[slot] = 127.0f;
  present_[slot] = 0;
  louder_ticks_[slot] = 0;
  quiet_ticks_[slot] = 0;
  if (!selected_[slot]) return;
  selected_[slot] = 0;
  speakers_.erase(std::find(speakers_.begin(), speakers_.end(), static_cast<uint32_t>(slot)));
  cleared_.push_back(static_cast<uint32_t>(slot));
}

bool SpeakerSelector::IsCandidate(size_t slot) const {
  return present_[slot] && smoothed_[slot] < config_.active_below_dbov;
}

void SpeakerSelector::Release(size_t index_in_speakers) {
  const uint32_t slot = speakers_[index_in_speakers];
  selected_[slot] = 0;
  speakers_.erase(speakers_.begin() + static_cast<std::ptrdiff_t>(index_in_speakers));
  removed_.push_back(slot);
}

bool SpeakerSelector::Select() {
  added_.clear();
  removed_.assign(cleared_.begin(), cleared_.end());
  cleared_.clear();
  const size_t k = static_cast<size_t>(std::max(config_.max_speakers, 0));
  const size_t end = end_;

  // 1. Speakers quiet for longer than the hang time leave.
  for (size_t i = 0; i < speakers_.size();) {
    const uint32_t slot = speakers_[i];
    quiet_ticks_[slot] = IsCandidate(slot) ? 0 : quiet_ticks_[slot] + 1;
    if (quiet_ticks_[slot] > config_.hang_ticks) {
      Release(i);
    } else {
      ++i;
    }
  }

  // 2. Free places go to the loudest candidates at once.
  while (speakers_.size() < k) {
    size_t best = end;
    for (size_t slot = 0; slot < end; ++slot) {
      if (selected_[slot] || !IsCandidate(slot)) continue;
      if (best == end || smoothed_[slot] < smoothed_[best]) best = slot;
    }
    if (best == end) break;
    selected_[best] = 1;
    quiet_ticks_[best] = 0;
    speakers_.push_back(static_cast<uint32_t>(best));
    added_.push_back(static_cast<uint32_t>(best));
  }

  // 3. All places taken: a candidate that has beaten the weakest speaker by the margin for the
  // hold time takes its place (one replacement per tick).
  size_t weakest_index = speakers_.size();
  for (size_t i = 0; i < speakers_.size(); ++i) {
    if (weakest_index == speakers_.size() ||
        smoothed_[speakers_[i]] > smoothed_[speakers_[weakest_index]]) {
      weakest_index = i;
    }
  }
  const bool full = k > 0 && speakers_.size() == k;
  size_t challenger = end;
  for (size_t slot = 0; slot < end; ++slot) {
    if (selected_[slot]) continue;
    if (!full || !IsCandidate(slot) ||
        smoothed_[slot] + config_.replace_margin_db >= smoothed_[speakers_[weakest_index]]) {
      louder_ticks_[slot] = 0;
      continue;
    }
    if (++louder_ticks_[slot] < config_.replace_hold_ticks) continue;
    if (challenger == end || smoothed_[slot] < smoothed_[challenger]) {
      challenger = slot;
    }
  }
  if (challenger != end) {
    Release(weakest_index);
    selected_[challenger] = 1;
    quiet_ticks_[challenger] = 0;
    louder_ticks_[challenger] = 0;
    speakers_.push_back(static_cast<uint32_t>(challenger));
    added_.push_back(static_cast<uint32_t>(challenger));
  }

  std::sort(speakers_.begin(), speakers_.end(),
            [this](uint32_t a, uint32_t b) { return smoothed_[a] < smoothed_[b]; });
  return !added_.empty() || !removed_.empty();
}

}  // namespace chorus::audio
