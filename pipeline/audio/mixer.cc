#include "pipeline/audio/mixer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio {
namespace {

constexpr float kMaxGain = 8.0f;

bool ValidGain(float gain) { return std::isfinite(gain) && gain >= 0.0f && gain <= kMaxGain; }

// RFC 6464 level (-dBov, 0..127) of a frame, measured from its RMS.
uint8_t MeasureLevel(const MixKernels& k, std::span<const int16_t> frame) {
  const uint64_t energy = k.energy(frame.data(), frame.size());
  if (energy == 0 || frame.empty()) return 127;
  const double rms = std::sqrt(static_cast<double>(energy) / static_cast<double>(frame.size()));
  const double dbov = -20.0 * std::log10(rms / 32768.0);
  return static_cast<uint8_t>(std::clamp(dbov, 0.0, 127.0));
}

}  // namespace

uint8_t MeasureLevel(std::span<const int16_t> frame) { return MeasureLevel(Kernels(), frame); }

namespace {

// dst = base + src x gain, the gain moving linearly from `from` to `to` across the frame (a
// floor ducking or coming back: no step, so no click). Only on ticks where a gain moves.
void AddRamped(float* dst, const float* base, const float* src, float from, float to) {
  if (from == to) {
    Kernels().add_scaled(dst, base, src, to, kFrameSamples);
    return;
  }
  const float step = (to - from) / static_cast<float>(kFrameSamples);
  for (size_t i = 0; i < kFrameSamples; ++i) {
    dst[i] = base[i] + src[i] * (from + step * static_cast<float>(i + 1));
  }
}

// dst = mix - own x gain, the gain ramped as in AddRamped.
void SubtractRamped(float* dst, const float* mix, const int16_t* own, float from, float to) {
  if (from == to) {
    Kernels().subtract(dst, mix, own, to, kFrameSamples);
    return;
  }
  const float step = (to - from) / static_cast<float>(kFrameSamples);
  for (size_t i = 0; i < kFrameSamples; ++i) {
    dst[i] = mix[i] - static_cast<float>(own[i]) * (from + step * static_cast<float>(i + 1));
  }
}

}  // namespace

// ---- ListenList ----

ListenList::ListenList(std::initializer_list<BusGain> entries) {
  for (const BusGain& entry : entries) Add(entry.bus, entry.gain);
}

bool ListenList::Add(int bus, float gain) {
  for (size_t i = 0; i < size_; ++i) {
    if (entries_[i].bus == bus) {
      entries_[i].gain += gain;
      return true;
    }
  }
  if (size_ == entries_.size()) return false;
  size_t at = size_;
  while (at > 0 && entries_[at - 1].bus > bus) {
    entries_[at] = entries_[at - 1];
    --at;
  }
  entries_[at] = BusGain{bus, gain};
  ++size_;
  return true;
}

float ListenList::GainOf(int bus) const {
  for (const BusGain& entry : entries()) {
    if (entry.bus == bus) return entry.gain;
  }
  return 0.0f;
}

bool ListenList::Has(int bus) const {
  for (const BusGain& entry : entries()) {
    if (entry.bus == bus) return true;
  }
  return false;
}

bool ListenList::operator==(const ListenList& other) const {
  return lead_ == other.lead_ && std::equal(entries().begin(), entries().end(),
                                            other.entries().begin(), other.entries().end());
}

// ---- AudioMixer: construction ----

absl::StatusOr<std::unique_ptr<AudioMixer>> AudioMixer::Create(const MixerConfig& config) {
  if (config.max_participants == 0 || config.max_participants > 10000) {
    return absl::InvalidArgumentError("max_participants must be 1 to 10000");
  }
  if (config.bus_count < 1 || config.bus_count > 16) {
    return absl::InvalidArgumentError("bus_count must be 1 to 16");
  }
  if (config.max_speakers < 1 || config.max_speakers > 16) {
    return absl::InvalidArgumentError("max_speakers must be 1 to 16");
  }
  if (config.max_listen_lists == 0 || config.max_listen_lists > 256) {
    return absl::InvalidArgumentError("max_listen_lists must be 1 to 256");
  }
  (void)Kernels();  // the SIMD table is chosen now, never inside a tick
  return std::unique_ptr<AudioMixer>(new AudioMixer(config));
}

AudioMixer::AudioMixer(const MixerConfig& config)
    : config_(config),
      slots_(config.max_participants),
      lists_(config.max_listen_lists),
      bus_sums_(static_cast<size_t>(config.bus_count)),
      bus_speakers_(static_cast<size_t>(config.bus_count)) {
  const size_t k = static_cast<size_t>(config.max_speakers);
  ids_.reserve(config.max_participants);
  SpeakerSelectorConfig selector_config = config.selector;
  selector_config.max_speakers = config.max_speakers;
  for (int bus = 0; bus < config.bus_count; ++bus) {
    selectors_.push_back(
        std::make_unique<SpeakerSelector>(config.max_participants, selector_config));
    bus_speakers_[static_cast<size_t>(bus)].reserve(k);
  }
  for (List& list : lists_) list.mix = std::make_unique<std::array<float, kFrameSamples>>();
  // At most one shared output per list and one mix-minus per selected speaker.
  const size_t pool = config.max_listen_lists + k * static_cast<size_t>(config.bus_count);
  const size_t heard_buses =
      std::min(static_cast<size_t>(config.bus_count), static_cast<size_t>(ListenList::kMax));
  outputs_.reserve(pool);
  for (size_t i = 0; i < pool; ++i) {
    auto output = std::make_unique<Output>();
    output->limiter = Limiter(config.limiter);
    output->contributors.reserve(heard_buses * k);
    outputs_.push_back(std::move(output));
  }
  published_.reserve(pool);
}

// ---- Control operations ----

absl::Status AudioMixer::Validate(const ParticipantConfig& config, ListenList* normalised) const {
  if (config.speak_bus < 0 || config.speak_bus >= config_.bus_count) {
    return absl::InvalidArgumentError("speak_bus " + std::to_string(config.speak_bus) +
                                      " is not a bus of this mixer");
  }
  if (!ValidGain(config.input_gain)) {
    return absl::InvalidArgumentError("input_gain must be 0 to 8");
  }
  ListenList list;
  if (config.listens.empty()) {
    if (config.listen_bus < 0 || config.listen_bus >= config_.bus_count) {
      return absl::InvalidArgumentError("listen_bus " + std::to_string(config.listen_bus) +
                                        " is not a bus of this mixer");
    }
    if (!ValidGain(config.floor_gain)) {
      return absl::InvalidArgumentError("floor_gain must be 0 to 8");
    }
    list.Add(config.listen_bus, 1.0f);
    if (config.listen_bus != 0) {
      // The floor stays in the list even at gain 0 (muted under the channel): it comes back
      // when the channel falls silent.
      list.Add(0, config.floor_gain);
      list.SetLead(config.listen_bus);
    }
  } else {
    for (const BusGain& entry : config.listens.entries()) {
      if (entry.bus < 0 || entry.bus >= config_.bus_count) {
        return absl::InvalidArgumentError("listens names bus " + std::to_string(entry.bus) +
                                          ", not a bus of this mixer");
      }
      if (!ValidGain(entry.gain)) return absl::InvalidArgumentError("listen gains must be 0 to 8");
      if (entry.gain > 0.0f || (entry.bus == 0 && config.listens.lead() > 0)) {
        list.Add(entry.bus, entry.gain);
      }
    }
    const int lead = config.listens.lead();
    if (lead >= 0) {
      if (lead == 0 || lead >= config_.bus_count || !list.Has(lead) || !list.Has(0)) {
        return absl::InvalidArgumentError(
            "a lead bus must be a language bus of the list, and the list must hold the floor");
      }
      list.SetLead(lead);
    }
  }
  *normalised = list;
  return absl::OkStatus();
}

absl::StatusOr<int> AudioMixer::AcquireList(const ListenList& listens) {
  int free_index = -1;
  for (size_t i = 0; i < lists_.size(); ++i) {
    if (lists_[i].users > 0 && lists_[i].listens == listens) {
      ++lists_[i].users;
      return static_cast<int>(i);
    }
    if (lists_[i].users == 0 && free_index < 0) free_index = static_cast<int>(i);
  }
  if (free_index < 0) {
    return absl::ResourceExhaustedError("the mixer has no room for another distinct listen list");
  }
  List& list = lists_[static_cast<size_t>(free_index)];
  list.listens = listens;
  list.users = 1;
  list.shared_output = -1;
  // Nobody has spoken in the channel yet: the floor starts at full level.
  list.floor_from = list.floor_to = 1.0f;
  list.lead_silent_ticks = std::max(1, config_.ducking.hold_ms / 20);
  return free_index;
}

void AudioMixer::ReleaseList(int index) {
  if (index < 0) return;
  List& list = lists_[static_cast<size_t>(index)];
  if (--list.users > 0) return;
  if (list.shared_output >= 0) ReleaseOutput(list.shared_output);
}

int AudioMixer::SlotOf(ParticipantId id) const {
  const auto it = ids_.find(id);
  return it == ids_.end() ? -1 : it->second;
}

absl::Status AudioMixer::AddParticipant(ParticipantId id, const ParticipantConfig& config) {
  if (ids_.contains(id)) {
    return absl::AlreadyExistsError("participant " + std::to_string(id) + " is already mixed");
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].used) return AddAt(static_cast<int>(i), id, config);
  }
  return absl::ResourceExhaustedError("the mixer is full (max_participants)");
}

absl::Status AudioMixer::AddAt(int index, ParticipantId id, const ParticipantConfig& config) {
  ListenList listens;
  if (absl::Status status = Validate(config, &listens); !status.ok()) return status;
  absl::StatusOr<int> list = AcquireList(listens);
  if (!list.ok()) return list.status();
  Slot& slot = slots_[static_cast<size_t>(index)];
  slot = Slot{};
  slot.used = true;
  slot.id = id;
  slot.config = config;
  slot.listens = listens;
  slot.list = *list;
  ids_.emplace(id, index);
  slot_end_ = std::max(slot_end_, static_cast<size_t>(index) + 1);
  return absl::OkStatus();
}

absl::Status AudioMixer::UpdateParticipant(ParticipantId id, const ParticipantConfig& config) {
  const int index = SlotOf(id);
  if (index < 0) return absl::NotFoundError("participant " + std::to_string(id) + " is not mixed");
  return UpdateSlot(index, config);
}

absl::Status AudioMixer::UpdateSlot(int index, const ParticipantConfig& config) {
  ListenList listens;
  if (absl::Status status = Validate(config, &listens); !status.ok()) return status;
  Slot& slot = slots_[static_cast<size_t>(index)];
  if (!(listens == slot.listens)) {
    absl::StatusOr<int> list = AcquireList(listens);
    if (!list.ok()) return list.status();
    ReleaseList(slot.list);
    slot.list = *list;
    slot.listens = listens;
    // Its mix-minus (if any) has a new key now: rebuilt at the next tick.
    if (slot.personal_output >= 0) ReleaseOutput(slot.personal_output);
  }
  if (slot.config.speak_bus != config.speak_bus || config.muted || !config.admitted) {
    selectors_[static_cast<size_t>(slot.config.speak_bus)]->Clear(static_cast<size_t>(index));
  }
  slot.config = config;
  return absl::OkStatus();
}

absl::Status AudioMixer::RemoveParticipant(ParticipantId id) {
  const int index = SlotOf(id);
  if (index < 0) return absl::NotFoundError("participant " + std::to_string(id) + " is not mixed");
  RemoveSlot(index);
  return absl::OkStatus();
}

void AudioMixer::RemoveSlot(int index) {
  Slot& slot = slots_[static_cast<size_t>(index)];
  selectors_[static_cast<size_t>(slot.config.speak_bus)]->Clear(static_cast<size_t>(index));
  if (slot.personal_output >= 0) ReleaseOutput(slot.personal_output);
  ReleaseList(slot.list);
  ids_.erase(slot.id);
  slot = Slot{};
  while (slot_end_ > 0 && !slots_[slot_end_ - 1].used) --slot_end_;
}

// ---- Slot-based calls ----

int AudioMixer::Add(const ParticipantConfig& config) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].used) continue;
    ParticipantId id = next_auto_id_;
    while (ids_.contains(id)) id = id == 0xffffffffu ? 0x80000000u : id + 1;
    next_auto_id_ = id == 0xffffffffu ? 0x80000000u : id + 1;
    return AddAt(static_cast<int>(i), id, config).ok() ? static_cast<int>(i) : -1;
  }
  return -1;
}

bool AudioMixer::Update(int index, const ParticipantConfig& config) {
  if (index < 0 || static_cast<size_t>(index) >= slots_.size() || !slots_[index].used) {
    return false;
  }
  return UpdateSlot(index, config).ok();
}

void AudioMixer::Remove(int index) {
  if (index < 0 || static_cast<size_t>(index) >= slots_.size() || !slots_[index].used) return;
  RemoveSlot(index);
}

int AudioMixer::listen_list_index(int index) const {
  if (index < 0 || static_cast<size_t>(index) >= slots_.size()) return -1;
  return slots_[static_cast<size_t>(index)].list;
}

int AudioMixer::output_index(int index) const {
  if (index < 0 || static_cast<size_t>(index) >= slots_.size()) return -1;
  const Slot& slot = slots_[static_cast<size_t>(index)];
  return slot.output < 0 ? -1 : outputs_[static_cast<size_t>(slot.output)]->published;
}

AudioMixer::OutputKind AudioMixer::output_kind(int index) const {
  const int published = output_index(index);
  if (published < 0) return OutputKind::kNone;
  return published_[static_cast<size_t>(published)].has_excluded ? OutputKind::kPersonal
                                                                 : OutputKind::kShared;
}

std::span<const int16_t> AudioMixer::output(int index) const {
  const int published = output_index(index);
  if (published < 0) return {};
  return published_[static_cast<size_t>(published)].frame;
}

std::span<const int16_t> AudioMixer::previous_output(int index) const {
  const int published = output_index(index);
  if (published < 0) return {};
  return published_[static_cast<size_t>(published)].previous_frame;
}

bool AudioMixer::HearsAtUnity(int listener, int source) const {
  const auto valid = [&](int index) {
    return index >= 0 && static_cast<size_t>(index) < slots_.size() &&
           slots_[static_cast<size_t>(index)].used &&
           slots_[static_cast<size_t>(index)].config.admitted;
  };
  if (!valid(listener) || !valid(source) || listener == source) return false;
  const Slot& from = slots_[static_cast<size_t>(source)];
  const Slot& to = slots_[static_cast<size_t>(listener)];
  if (from.config.muted || from.config.input_gain != 1.0f || to.list < 0) return false;
  const ListenList& listens = lists_[static_cast<size_t>(to.list)].listens;
  return listens.lead() <= 0 && listens.GainOf(from.config.speak_bus) == 1.0f;
}

bool AudioMixer::is_speaker(int index) const {
  if (index < 0 || static_cast<size_t>(index) >= slots_.size()) return false;
  const Slot& slot = slots_[static_cast<size_t>(index)];
  return slot.used && selectors_[static_cast<size_t>(slot.config.speak_bus)]->IsSpeaker(
                          static_cast<size_t>(index));
}

int AudioMixer::OutputIndex(ParticipantId id) const { return output_index(SlotOf(id)); }
bool AudioMixer::IsSpeaker(ParticipantId id) const { return is_speaker(SlotOf(id)); }

std::span<const ParticipantId> AudioMixer::speakers(int bus) const {
  if (bus < 0 || bus >= config_.bus_count) return {};
  return bus_speakers_[static_cast<size_t>(bus)];
}

// ---- The tick ----

AudioMixer::InputResult AudioMixer::SetFrame(ParticipantId id, std::span<const int16_t> frame,
                                             uint8_t level_dbov) {
  const int index = SlotOf(id);
  if (index < 0) return InputResult::kUnknownParticipant;
  return SetSlotInput(index, frame, level_dbov);
}

AudioMixer::InputResult AudioMixer::SetInput(int index, std::span<const int16_t> frame,
                                             uint8_t level_dbov) {
  if (index < 0 || static_cast<size_t>(index) >= slots_.size() || !slots_[index].used) {
    return InputResult::kUnknownParticipant;
  }
  return SetSlotInput(index, frame, level_dbov);
}

AudioMixer::InputResult AudioMixer::SetSlotInput(int index, std::span<const int16_t> frame,
                                                 uint8_t level_dbov) {
  Slot& slot = slots_[static_cast<size_t>(index)];
  slot.level = level_dbov;
  if (frame.empty()) {
    slot.frame = {};
    return InputResult::kOk;
  }
  if (frame.size() != kFrameSamples) {
    slot.frame = {};
    return InputResult::kBadFrameSize;
  }
  slot.frame = frame;
  return InputResult::kOk;
}

float AudioMixer::OwnWeight(const Slot& slot) const {
  float gain = slot.listens.GainOf(slot.config.speak_bus);
  if (slot.config.speak_bus == 0 && slot.listens.lead() > 0) gain = std::max(gain, 1.0f);
  return slot.config.input_gain * gain;
}

void AudioMixer::UpdateFloorGain(List& list) {
  list.floor_from = list.floor_to;
  const int lead = list.listens.lead();
  if (lead <= 0) return;
  bool active = false;
  for (uint32_t index : selectors_[static_cast<size_t>(lead)]->speakers()) {
    active |= slots_[index].audible;
  }
  const int hold_ticks = std::max(1, config_.ducking.hold_ms / 20);
  list.lead_silent_ticks = active ? 0 : std::min(list.lead_silent_ticks + 1, hold_ticks);
  const float target = list.lead_silent_ticks >= hold_ticks ? 1.0f : list.listens.GainOf(0);
  const float from = list.floor_from;
  if (target < from) {
    const float step = 20.0f / static_cast<float>(std::max(20, config_.ducking.duck_ms));
    list.floor_to = std::max(target, from - step);
  } else {
    const float step = 20.0f / static_cast<float>(std::max(20, config_.ducking.return_ms));
    list.floor_to = std::min(target, from + step);
  }
}

int AudioMixer::AcquireOutput(int list, int excluded_slot) {
  for (size_t i = 0; i < outputs_.size(); ++i) {
    Output& output = *outputs_[i];
    if (output.in_use) continue;
    output.in_use = true;
    output.id = next_output_id_++;
    if (next_output_id_ == 0) next_output_id_ = 1;
    output.list = list;
    output.excluded_slot = excluded_slot;
    output.excluded_id = excluded_slot >= 0 ? slots_[static_cast<size_t>(excluded_slot)].id : 0;
    output.limiter.Reset();
    output.has_previous = false;
    if (excluded_slot >= 0) {
      slots_[static_cast<size_t>(excluded_slot)].personal_output = static_cast<int>(i);
    } else {
      lists_[static_cast<size_t>(list)].shared_output = static_cast<int>(i);
    }
    return static_cast<int>(i);
  }
  return -1;  // cannot happen: the pool holds every list's output plus K per bus
}

void AudioMixer::ReleaseOutput(int index) {
  Output& output = *outputs_[static_cast<size_t>(index)];
  if (!output.in_use) return;
  output.in_use = false;
  if (output.excluded_slot >= 0) {
    Slot& slot = slots_[static_cast<size_t>(output.excluded_slot)];
    if (slot.personal_output == index) slot.personal_output = -1;
  } else if (output.list >= 0) {
    List& list = lists_[static_cast<size_t>(output.list)];
    if (list.shared_output == index) list.shared_output = -1;
  }
  output.excluded_slot = -1;
  output.list = -1;
  output.published = -1;
}

void AudioMixer::SelectSpeakers() {
  const MixKernels& k = Kernels();
  // 1. Levels into each bus's selector; who is heard this tick.
  for (size_t i = 0; i < slot_end_; ++i) {
    Slot& slot = slots_[i];
    slot.output = -1;
    if (!slot.used) continue;
    slot.audible = slot.config.admitted && !slot.config.muted && !slot.frame.empty();
    slot.level_used = 127;
    if (slot.audible) {
      slot.level_used = slot.level <= 127 ? slot.level : MeasureLevel(k, slot.frame);
    }
    selectors_[static_cast<size_t>(slot.config.speak_bus)]->SetLevel(i, slot.audible,
                                                                     slot.level_used);
  }
  speakers_changed_ = false;
  for (auto& selector : selectors_) speakers_changed_ |= selector->Select();
  selected_ = true;
}

bool AudioMixer::Mix() {
  const MixKernels& k = Kernels();
  if (!selected_) SelectSpeakers();
  selected_ = false;
  const bool changed = speakers_changed_;

  // 2. One sum per bus, from its selected speakers.
  for (size_t bus = 0; bus < bus_sums_.size(); ++bus) {
    std::array<float, kFrameSamples>& sum = bus_sums_[bus];
    std::fill(sum.begin(), sum.end(), 0.0f);
    bus_speakers_[bus].clear();
    for (uint32_t index : selectors_[bus]->speakers()) {
      const Slot& slot = slots_[index];
      bus_speakers_[bus].push_back(slot.id);
      if (!slot.audible) continue;  // in its hang time: selected but silent
      k.accumulate(sum.data(), slot.frame.data(), slot.config.input_gain, kFrameSamples);
    }
  }

  // 3. Which output each admitted participant hears. A selected speaker whose own voice is in
  // what it hears gets its mix-minus; everyone else shares the output of its listen list.
  for (auto& output : outputs_) output->used_this_tick = false;
  for (List& list : lists_) list.needed = false;
  for (size_t i = 0; i < slot_end_; ++i) {
    Slot& slot = slots_[i];
    if (!slot.used || !slot.config.admitted) continue;
    const bool speaker = selectors_[static_cast<size_t>(slot.config.speak_bus)]->IsSpeaker(i);
    int output;
    if (speaker && OwnWeight(slot) > 0.0f) {
      output = slot.personal_output >= 0 ? slot.personal_output
                                         : AcquireOutput(slot.list, static_cast<int>(i));
    } else {
      const int shared = lists_[static_cast<size_t>(slot.list)].shared_output;
      output = shared >= 0 ? shared : AcquireOutput(slot.list, -1);
    }
    if (output < 0) continue;
    slot.output = output;
    outputs_[static_cast<size_t>(output)]->used_this_tick = true;
    lists_[static_cast<size_t>(slot.list)].needed = true;
  }
  // Keys no longer in use give their outputs (and ids) up.
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i]->in_use && !outputs_[i]->used_this_tick) ReleaseOutput(static_cast<int>(i));
  }

  // 4. Each listen list in use is mixed once from the bus sums; a floor under a language
  // channel follows the channel, ramped across the tick when its gain moves.
  for (List& list : lists_) {
    if (list.users == 0) continue;
    UpdateFloorGain(list);
    if (!list.needed) continue;
    float* mix = list.mix->data();
    const float* base = zeros_.data();
    for (const BusGain& entry : list.listens.entries()) {
      const float* sum = bus_sums_[static_cast<size_t>(entry.bus)].data();
      if (entry.bus == 0 && list.listens.lead() > 0) {
        AddRamped(mix, base, sum, list.floor_from, list.floor_to);
      } else {
        k.add_scaled(mix, base, sum, entry.gain, kFrameSamples);
      }
      base = mix;
    }
    if (list.listens.empty()) std::fill(list.mix->begin(), list.mix->end(), 0.0f);
  }

  // 5. Each distinct output: its mix (mix-minus by subtraction), its limiter, its contributors.
  published_.clear();
  for (auto& output_ptr : outputs_) {
    Output& output = *output_ptr;
    output.published = -1;
    if (!output.in_use) continue;
    const List& list = lists_[static_cast<size_t>(output.list)];
    const float* mix = list.mix->data();
    if (output.excluded_slot >= 0) {
      const Slot& own = slots_[static_cast<size_t>(output.excluded_slot)];
      if (own.audible && own.config.speak_bus == 0 && list.listens.lead() > 0) {
        // Its voice is in the ducked floor: take it out with the same ramp it went in with.
        SubtractRamped(output.mix.data(), mix, own.frame.data(),
                       own.config.input_gain * list.floor_from,
                       own.config.input_gain * list.floor_to);
        mix = output.mix.data();
      } else if (own.audible) {
        k.subtract(output.mix.data(), mix, own.frame.data(), OwnWeight(own), kFrameSamples);
        mix = output.mix.data();
      }
    }
    if (output.has_previous) output.previous_pcm = output.pcm;
    output.limiter.Process(std::span<const float>(mix, kFrameSamples), output.pcm);
    output.contributors.clear();
    for (const BusGain& entry : list.listens.entries()) {
      for (uint32_t index : selectors_[static_cast<size_t>(entry.bus)]->speakers()) {
        const Slot& source = slots_[index];
        if (!source.audible || static_cast<int>(index) == output.excluded_slot) continue;
        output.contributors.push_back(Contributor{source.id, source.level_used});
      }
    }
    std::sort(
        output.contributors.begin(), output.contributors.end(),
        [](const Contributor& a, const Contributor& b) { return a.level_dbov < b.level_dbov; });
    bool sole_unity_voice = false;
    if (output.contributors.size() == 1 && list.listens.lead() <= 0) {
      const Slot& voice = slots_[static_cast<size_t>(SlotOf(output.contributors[0].id))];
      sole_unity_voice =
          voice.config.input_gain == 1.0f && list.listens.GainOf(voice.config.speak_bus) == 1.0f;
    }
    output.published = static_cast<int>(published_.size());
    published_.push_back(MixOutput{
        .output_id = output.id,
        .listen_list = output.list,
        .has_excluded = output.excluded_slot >= 0,
        .excluded = output.excluded_id,
        .frame = output.pcm,
        .contributors = output.contributors,
        .sole_unity_voice = sole_unity_voice,
        .previous_frame = output.has_previous ? std::span<const int16_t>(output.previous_pcm)
                                              : std::span<const int16_t>(),
    });
    output.has_previous = true;
  }

  // The frames were borrowed for this tick only.
  for (size_t i = 0; i < slot_end_; ++i) slots_[i].frame = {};
  return changed;
}

}  // namespace chorus::audio
