#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/audio/limiter.h"
#include "pipeline/audio/speaker_selector.h"

namespace chorus::audio {

inline constexpr size_t kMixFrame = 960;  // 20 ms at 48 kHz

// Where a participant's voice goes and what it hears.
struct ParticipantConfig {
  int speak_bus = 0;         // 0 = the floor, 1.. = language buses
  int listen_bus = 0;        // the bus heard; with a language bus, the floor is mixed under it
  float floor_gain = 0.25f;  // the floor under a language bus (linear)
  float input_gain = 1.0f;   // applied to what the participant says (linear)
  bool muted = false;        // not heard
  bool admitted = true;      // false in the lobby: neither heard nor hearing
};

// What a listener hears, independent of who it is: listeners with equal keys that are not
// speakers themselves share one mix, one limiter, and (in the engine) one encoder.
struct ListenKey {
  int listen_bus = 0;
  float floor_gain = 0;  // meaningful only when listen_bus != 0
  bool operator==(const ListenKey& other) const {
    return listen_bus == other.listen_bus && (listen_bus == 0 || floor_gain == other.floor_gain);
  }
};

struct MixerConfig {
  size_t max_participants = 1000;
  int bus_count = 1;     // the floor plus language buses (1 to 9)
  int max_speakers = 3;  // K, per bus
};

// The audio mixer of one session (DESIGN.md, Mixing). Each tick:
//  1. per bus, select at most K speakers from the levels (SpeakerSelector);
//  2. sum each bus once, from its selected speakers, in a float accumulator (no partial-sum
//     saturation);
//  3. per distinct ListenKey in use: the bus heard, plus the floor at floor_gain under a
//     language bus; limited once, into int16, if some non-speaker listener uses it;
//  4. per selected speaker whose own voice is in what it hears: that mix minus its own
//     contribution (mix-minus by subtraction, never by re-summing), limited into its own output.
// Participants are slots (ints) handed out by Add. Thread: the session's media worker. Mix()
// allocates nothing; Add/Update/Remove are control operations, bounded by max_participants.
class AudioMixer {
 public:
  enum class OutputKind : uint8_t { kNone, kShared, kPersonal };

  static absl::StatusOr<std::unique_ptr<AudioMixer>> Create(const MixerConfig& config);

  // A slot, or -1 when the mixer is full or the config names a bus it does not have.
  int Add(const ParticipantConfig& config);
  bool Update(int slot, const ParticipantConfig& config);
  void Remove(int slot);

  // Per tick, before Mix(): the participant's 20 ms frame (960 samples; empty when it delivered
  // nothing) and its level (RFC 6464 -dBov). The span must stay valid until Mix() returns.
  void SetInput(int slot, std::span<const int16_t> frame, uint8_t level_dbov);
  // Mixes; returns true when the speakers of some bus changed.
  bool Mix();

  // After Mix():
  OutputKind output_kind(int slot) const { return slots_[slot].output; }
  // The shared output (index of its ListenKey) a kShared participant hears; stable while the key
  // has users.
  int shared_output(int slot) const { return slots_[slot].key; }
  std::span<const int16_t> output(int slot) const;
  bool is_speaker(int slot) const { return slots_[slot].speaker; }
  // Distinct mixes limited this tick (shared ones in use plus personal ones).
  int outputs_this_tick() const { return outputs_this_tick_; }
  const SpeakerSelector& selector(int bus) const { return *selectors_[bus]; }
  const ParticipantConfig& config(int slot) const { return slots_[slot].config; }

 private:
  struct Slot {
    bool used = false;
    ParticipantConfig config;
    int key = -1;
    std::span<const int16_t> input;
    uint8_t level = 127;
    bool speaker = false;
    OutputKind output = OutputKind::kNone;
    Limiter limiter;
    std::array<float, kMixFrame> mix{};
    std::array<int16_t, kMixFrame> out{};
  };
  struct Key {
    ListenKey key;
    int users = 0;
    int listeners_this_tick = 0;
    Limiter limiter;
    std::array<float, kMixFrame> mix{};
    std::array<int16_t, kMixFrame> out{};
  };

  explicit AudioMixer(const MixerConfig& config);
  int AcquireKey(const ParticipantConfig& config);
  void ReleaseKey(int key);
  // The weight of `slot`'s own voice in what it hears (0 when absent).
  float OwnWeight(const Slot& slot) const;

  const MixerConfig config_;
  std::vector<Slot> slots_;
  std::vector<Key> keys_;
  std::vector<std::unique_ptr<SpeakerSelector>> selectors_;
  std::vector<std::array<float, kMixFrame>> bus_sums_;
  int outputs_this_tick_ = 0;
};

}  // namespace chorus::audio
