#include "pipeline/audio/mixer.h"

#include <algorithm>

#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio {

absl::StatusOr<std::unique_ptr<AudioMixer>> AudioMixer::Create(const MixerConfig& config) {
  if (config.max_participants == 0 || config.max_participants > 10000) {
    return absl::InvalidArgumentError("max_participants must be 1 to 10000");
  }
  if (config.bus_count < 1 || config.bus_count > 9) {
    return absl::InvalidArgumentError("bus_count must be 1 to 9");
  }
  if (config.max_speakers < 1 || config.max_speakers > 8) {
    return absl::InvalidArgumentError("max_speakers must be 1 to 8");
  }
  return std::unique_ptr<AudioMixer>(new AudioMixer(config));
}

AudioMixer::AudioMixer(const MixerConfig& config)
    : config_(config), slots_(config.max_participants), bus_sums_(config.bus_count) {
  (void)Kernels();  // choose the SIMD table now, not inside the first tick
  keys_.reserve(config.max_participants);
  for (int bus = 0; bus < config.bus_count; ++bus) {
    selectors_.push_back(
        std::make_unique<SpeakerSelector>(config.max_participants, config.max_speakers));
  }
}

int AudioMixer::AcquireKey(const ParticipantConfig& config) {
  ListenKey wanted{config.listen_bus, config.listen_bus == 0 ? 0.0f : config.floor_gain};
  int free_index = -1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].users > 0 && keys_[i].key == wanted) {
      ++keys_[i].users;
      return static_cast<int>(i);
    }
    if (keys_[i].users == 0 && free_index < 0) free_index = static_cast<int>(i);
  }
  if (free_index < 0) {
    keys_.emplace_back();  // within the reserved capacity: no reallocation
    free_index = static_cast<int>(keys_.size()) - 1;
  }
  Key& key = keys_[free_index];
  key.key = wanted;
  key.users = 1;
  key.limiter.Reset();
  return free_index;
}

void AudioMixer::ReleaseKey(int key) {
  if (key >= 0) --keys_[key].users;
}

int AudioMixer::Add(const ParticipantConfig& config) {
  if (config.speak_bus < 0 || config.speak_bus >= config_.bus_count || config.listen_bus < 0 ||
      config.listen_bus >= config_.bus_count) {
    return -1;
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].used) continue;
    Slot& slot = slots_[i];
    slot.used = true;
    slot.config = config;
    slot.key = AcquireKey(config);
    slot.input = {};
    slot.speaker = false;
    slot.output = OutputKind::kNone;
    slot.limiter.Reset();
    return static_cast<int>(i);
  }
  return -1;
}

bool AudioMixer::Update(int index, const ParticipantConfig& config) {
  if (index < 0 || static_cast<size_t>(index) >= slots_.size() || !slots_[index].used) {
    return false;
  }
  if (config.speak_bus < 0 || config.speak_bus >= config_.bus_count || config.listen_bus < 0 ||
      config.listen_bus >= config_.bus_count) {
    return false;
  }
  Slot& slot = slots_[index];
  if (slot.config.speak_bus != config.speak_bus || config.muted || !config.admitted) {
    selectors_[slot.config.speak_bus]->Clear(static_cast<size_t>(index));
  }
  ReleaseKey(slot.key);
  slot.config = config;
  slot.key = AcquireKey(config);
  return true;
}

void AudioMixer::Remove(int index) {
  if (index < 0 || static_cast<size_t>(index) >= slots_.size() || !slots_[index].used) return;
  Slot& slot = slots_[index];
  selectors_[slot.config.speak_bus]->Clear(static_cast<size_t>(index));
  ReleaseKey(slot.key);
  slot.used = false;
  slot.key = -1;
  slot.input = {};
}

void AudioMixer::SetInput(int index, std::span<const int16_t> frame, uint8_t level_dbov) {
  Slot& slot = slots_[index];
  slot.input = frame.size() >= kMixFrame ? frame.first(kMixFrame) : std::span<const int16_t>();
  slot.level = level_dbov;
}

float AudioMixer::OwnWeight(const Slot& slot) const {
  const ParticipantConfig& c = slot.config;
  if (c.speak_bus == c.listen_bus) return c.input_gain;
  if (c.speak_bus == 0) return c.input_gain * c.floor_gain;  // its floor voice under its language
  return 0.0f;
}

std::span<const int16_t> AudioMixer::output(int index) const {
  const Slot& slot = slots_[index];
  switch (slot.output) {
    case OutputKind::kPersonal:
      return slot.out;
    case OutputKind::kShared:
      return keys_[slot.key].out;
    case OutputKind::kNone:
      break;
  }
  return {};
}

bool AudioMixer::Mix() {
  const MixKernels& k = Kernels();
  // 1. Speaker selection per bus.
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    if (!slot.used) continue;
    const bool audible = slot.config.admitted && !slot.config.muted && !slot.input.empty();
    selectors_[slot.config.speak_bus]->SetLevel(i, audible, slot.level);
  }
  bool changed = false;
  for (auto& selector : selectors_) changed |= selector->Select();

  // 2. One sum per bus.
  for (int bus = 0; bus < config_.bus_count; ++bus) {
    std::array<float, kMixFrame>& sum = bus_sums_[bus];
    std::fill(sum.begin(), sum.end(), 0.0f);
    for (uint32_t index : selectors_[bus]->speakers()) {
      const Slot& slot = slots_[index];
      if (slot.input.empty() || slot.config.muted || !slot.config.admitted) continue;
      k.accumulate(sum.data(), slot.input.data(), slot.config.input_gain, kMixFrame);
    }
  }

  // 3. Every listen key in use: its mix, and who needs its shared output.
  for (Key& key : keys_) key.listeners_this_tick = 0;
  outputs_this_tick_ = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    slot.speaker = false;
    slot.output = OutputKind::kNone;
    if (!slot.used || !slot.config.admitted) continue;
    const bool speaking = selectors_[slot.config.speak_bus]->IsSpeaker(i) && !slot.input.empty() &&
                          !slot.config.muted;
    slot.speaker = selectors_[slot.config.speak_bus]->IsSpeaker(i);
    if (speaking && OwnWeight(slot) != 0.0f) {
      slot.output = OutputKind::kPersonal;
    } else {
      slot.output = OutputKind::kShared;
      ++keys_[slot.key].listeners_this_tick;
    }
  }
  for (Key& key : keys_) {
    if (key.users == 0) continue;
    if (key.key.listen_bus == 0) {
      std::copy(bus_sums_[0].begin(), bus_sums_[0].end(), key.mix.begin());
    } else {
      k.add_scaled(key.mix.data(), bus_sums_[key.key.listen_bus].data(), bus_sums_[0].data(),
                   key.key.floor_gain, kMixFrame);
    }
    if (key.listeners_this_tick > 0) {
      key.limiter.Process(key.mix, key.out);
      ++outputs_this_tick_;
    }
  }

  // 4. Mix-minus for the speakers who would hear themselves.
  for (Slot& slot : slots_) {
    if (slot.output != OutputKind::kPersonal) continue;
    k.subtract(slot.mix.data(), keys_[slot.key].mix.data(), slot.input.data(), OwnWeight(slot),
               kMixFrame);
    slot.limiter.Process(slot.mix, slot.out);
    ++outputs_this_tick_;
  }
  return changed;
}

}  // namespace chorus::audio
