#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/audio/limiter.h"
#include "pipeline/audio/speaker_selector.h"

namespace chorus::audio {

// The internal format: 48 kHz mono, 20 ms frames of 960 int16 samples.
inline constexpr int kSampleRateHz = 48000;
inline constexpr size_t kFrameSamples = 960;
inline constexpr size_t kMixFrame = kFrameSamples;  // older name, still used by the engine

// A level byte outside 0..127 (the RFC 6464 range): "the packet carried no level, measure it".
inline constexpr uint8_t kMeasureLevel = 255;

// The RFC 6464 level of a frame (-dBov: 0 full scale, 127 silence), measured with the active SIMD
// table's energy kernel. Allocation-free; any thread.
uint8_t MeasureLevel(std::span<const int16_t> frame);

using ParticipantId = uint32_t;

// One bus a participant hears, at a linear gain (bus 0 = the floor, 1.. = language buses).
struct BusGain {
  int bus = 0;
  float gain = 1.0f;
  bool operator==(const BusGain&) const = default;
};

// What a participant hears: up to kMax buses with their gains, e.g. the floor at 1.0, or a
// language bus at 1.0 with the floor ducked under it at 0.25. Kept sorted by bus so that equal
// lists compare equal. Fixed size: copying and comparing never allocate.
//
// A list may name a lead bus (a language channel): then the floor's gain in the list is its
// level while the lead bus has a speaker, and the floor comes back to full level (1.0) once the
// lead bus has been silent for the mixer's DuckingConfig::hold_ms, in ramps, never in steps.
class ListenList {
 public:
  static constexpr int kMax = 4;

  ListenList() = default;
  ListenList(std::initializer_list<BusGain> entries);
  static ListenList Floor() { return ListenList({{0, 1.0f}}); }

  // Adds a bus (gains of a repeated bus add up); false when the list is full.
  bool Add(int bus, float gain);
  std::span<const BusGain> entries() const { return {entries_.data(), size_}; }
  bool empty() const { return size_ == 0; }
  // The gain of `bus` in this list (0 when absent).
  float GainOf(int bus) const;
  bool Has(int bus) const;
  // The channel the floor ducks under (-1: none, the gains are fixed).
  void SetLead(int bus) { lead_ = bus; }
  int lead() const { return lead_; }
  bool operator==(const ListenList& other) const;

 private:
  std::array<BusGain, kMax> entries_{};
  size_t size_ = 0;
  int lead_ = -1;
};

// Where a participant's voice goes and what it hears.
struct ParticipantConfig {
  int speak_bus = 0;   // 0 = the floor, interpreters speak into their language bus
  ListenList listens;  // what it hears; empty = the shorthand below
  // Shorthand used when `listens` is empty: listen_bus 0 means the floor at 1.0; another bus
  // means that bus at 1.0 with the floor at floor_gain under it while that bus has a speaker,
  // and at full level after it has been silent a while (the bus is the list's lead).
  int listen_bus = 0;
  float floor_gain = 0.25f;
  float input_gain = 1.0f;  // linear, applied to what the participant says (0 to 8)
  bool muted = false;       // server-side mute: not heard (still hears)
  bool admitted = true;     // false while waiting in the lobby: neither heard nor hearing
};

// How the floor under a language channel follows that channel (ListenList::lead()).
struct DuckingConfig {
  int hold_ms = 600;    // the channel silent this long: the floor returns to full level
  int duck_ms = 60;     // a full swing down (1.0 to 0) takes this long; partial ones less
  int return_ms = 400;  // and back up
};

struct MixerConfig {
  size_t max_participants = 1000;  // 1 to 10000; storage is allocated for this many
  int bus_count = 1;               // the floor plus language buses (1 to 16)
  int max_speakers = 3;            // K per bus (1 to 16)
  size_t max_listen_lists = 32;    // distinct ListenLists in use at once (1 to 256)
  SpeakerSelectorConfig selector;  // its max_speakers is replaced by max_speakers above
  LimiterConfig limiter;
  DuckingConfig ducking;
};

// A source heard in an output, with its level this tick (RFC 6464 -dBov), for the RFC 6465
// mixer-to-client audio levels of the CSRCs.
struct Contributor {
  ParticipantId id = 0;
  uint8_t level_dbov = 127;
};

// One distinct mix of this tick: the engine encodes it once and sends it to every participant
// whose output_index() points at it. Spans point into the mixer and stay valid until the next
// Mix() or control operation.
struct MixOutput {
  // Stable across ticks while the output's key (listen list, excluded speaker) stays in use, so
  // an encoder kept per output_id keeps its state; a key that comes back gets a new id.
  uint32_t output_id = 0;
  int listen_list = -1;                       // index of the ListenList (see listen_list_index())
  bool has_excluded = false;                  // a selected speaker's mix-minus
  ParticipantId excluded = 0;                 // that speaker, when has_excluded
  std::span<const int16_t> frame;             // 960 samples, limited
  std::span<const Contributor> contributors;  // selected speakers heard in it, loudest first
  // Exactly one speaker is heard in it, at unity gain (no input gain, its bus at 1.0, no ducked
  // floor): the output is that speaker's frame as it came (through the limiter), so the engine
  // may send that speaker's packet instead of encoding the output (issue: forwarding).
  bool sole_unity_voice = false;
  // The same output's frame of the tick before (empty when the output is new this tick): what
  // an encoder that sat idle while its listeners were forwarded a voice is primed with, so that
  // its first packet continues what they heard.
  std::span<const int16_t> previous_frame;
};

// The audio mixer of one session (DESIGN.md, Mixing; RFC 6464 levels). Every 20 ms tick:
//  1. each bus selects at most K speakers (SpeakerSelector) from the levels of its sources;
//  2. each bus is summed once, from its selected speakers times their input gains, in a float
//     accumulator (no partial sum is ever saturated);
//  3. each listen list in use is mixed once from the bus sums;
//  4. each distinct output is produced: the list's mix for the listeners who are not selected
//     speakers on a bus they hear (one shared output per list), and for each such speaker its
//     mix-minus, the list's mix minus its own contribution (by subtraction, never by re-summing);
//  5. each output goes through its own Limiter into int16 (one limiter per distinct output).
// Waiting (not admitted) participants are neither heard nor hear anything (no output); muted ones
// are not heard. The limiter delays every output by Limiter::kLatencySamples.
//
// Participants are added, updated and removed by id (control operations: they may allocate, and
// are bounded by max_participants and max_listen_lists). Each also has a dense slot, stable while
// it is present, for the slot-based calls the engine makes. Thread: one media worker (the
// session's); no locks. SetFrame/SetInput and Mix() allocate nothing, never throw, never log, and
// report bad input as a result instead of failing.
class AudioMixer {
 public:
  enum class InputResult : uint8_t { kOk, kUnknownParticipant, kBadFrameSize };
  enum class OutputKind : uint8_t { kNone, kShared, kPersonal };

  static absl::StatusOr<std::unique_ptr<AudioMixer>> Create(const MixerConfig& config);

  // Control operations. Add: InvalidArgument (bad bus or gain), AlreadyExists, ResourceExhausted
  // (max_participants or max_listen_lists reached). Update/Remove: NotFound for an unknown id.
  absl::Status AddParticipant(ParticipantId id, const ParticipantConfig& config);
  absl::Status UpdateParticipant(ParticipantId id, const ParticipantConfig& config);
  absl::Status RemoveParticipant(ParticipantId id);
  bool Contains(ParticipantId id) const { return ids_.contains(id); }
  int SlotOf(ParticipantId id) const;  // -1 when absent

  // Per tick, before Mix(): the participant's decoded 20 ms frame (960 samples; empty when it
  // delivered no audio) and its level (RFC 6464 -dBov from the packet, or kMeasureLevel to have
  // it measured from the frame). The span must stay valid until Mix() returns; a participant
  // given nothing this tick counts as silent. A frame of another size counts as no audio.
  InputResult SetFrame(ParticipantId id, std::span<const int16_t> frame,
                       uint8_t level_dbov = kMeasureLevel);

  // Optional first half of a tick, after the inputs are set: runs speaker selection from the
  // levels, so a caller can learn who is heard (is_speaker) before it decodes anything. A frame
  // given with its level (not kMeasureLevel) is read only if its participant is selected, so the
  // caller may fill it in after this call, before Mix(), and may leave the frames of
  // participants who were not selected undecoded.
  void SelectSpeakers();
  // Mixes one tick (running SelectSpeakers() first unless the caller did); true when the
  // speakers of some bus changed (see speakers(), selector()).
  bool Mix();

  // After Mix(): the distinct outputs of this tick, and which one each participant hears.
  std::span<const MixOutput> outputs() const { return published_; }
  int OutputIndex(ParticipantId id) const;  // index into outputs(), -1 for none (waiting)
  bool IsSpeaker(ParticipantId id) const;
  // Selected speakers of `bus` by id, loudest first (valid until the next Mix()).
  std::span<const ParticipantId> speakers(int bus) const;
  const SpeakerSelector& selector(int bus) const { return *selectors_[bus]; }
  int bus_count() const { return config_.bus_count; }
  size_t participant_count() const { return ids_.size(); }

  // Slot-based calls (the engine's). Add returns the new participant's slot, -1 when it cannot
  // be added; it gets an id from a reserved range (0x80000000 and up).
  int Add(const ParticipantConfig& config);
  bool Update(int slot, const ParticipantConfig& config);
  void Remove(int slot);
  InputResult SetInput(int slot, std::span<const int16_t> frame, uint8_t level_dbov);
  OutputKind output_kind(int slot) const;
  std::span<const int16_t> output(int slot) const;  // empty for kNone
  // The slot's output of the tick before, when it hears the same output as then; else empty.
  std::span<const int16_t> previous_output(int slot) const;
  int output_index(int slot) const;  // index into outputs(), -1 for none
  // The listen list index of the slot: equal for participants that hear the same thing, stable
  // while some participant uses that list (the engine keys its shared encoders by it).
  int shared_output(int slot) const { return listen_list_index(slot); }
  int listen_list_index(int slot) const;
  bool is_speaker(int slot) const;
  // Whether the participant in `listener` hears the one in `source` at unity gain when it talks:
  // both admitted, `source` not muted, no input gain, its bus at 1.0 in the listener's list and
  // no ducked floor there. For forwarding in a two-party room, where nobody else is heard.
  bool HearsAtUnity(int listener, int source) const;
  int outputs_this_tick() const { return static_cast<int>(published_.size()); }

 private:
  struct Slot {
    bool used = false;
    ParticipantId id = 0;
    ParticipantConfig config;
    ListenList listens;  // normalised
    int list = -1;       // index into lists_
    std::span<const int16_t> frame;
    uint8_t level = 127;       // as given this tick
    uint8_t level_used = 127;  // as fed to the selector
    bool audible = false;      // heard this tick
    int output = -1;           // index into outputs_ (the pool), -1 for none
    int personal_output = -1;  // its mix-minus output in the pool, while it has one
  };
  struct List {
    ListenList listens;
    int users = 0;
    int shared_output = -1;  // in the pool
    bool needed = false;     // this tick
    std::unique_ptr<std::array<float, kFrameSamples>> mix;
    // With a lead bus: the floor's gain at the start and the end of this tick (ramped between),
    // and how long the lead bus has been silent.
    float floor_from = 1.0f;
    float floor_to = 1.0f;
    int lead_silent_ticks = 0;
  };
  struct Output {
    bool in_use = false;
    bool used_this_tick = false;
    uint32_t id = 0;
    int list = -1;
    int excluded_slot = -1;  // -1 for a shared output
    ParticipantId excluded_id = 0;
    int published = -1;
    Limiter limiter;
    std::array<float, kFrameSamples> mix{};
    std::array<int16_t, kFrameSamples> pcm{};
    std::array<int16_t, kFrameSamples> previous_pcm{};  // pcm of the tick before
    bool has_previous = false;                          // false for an output new this tick
    std::vector<Contributor> contributors;              // capacity reserved at construction
  };

  explicit AudioMixer(const MixerConfig& config);
  absl::Status Validate(const ParticipantConfig& config, ListenList* normalised) const;
  absl::StatusOr<int> AcquireList(const ListenList& listens);
  void ReleaseList(int list);
  int AcquireOutput(int list, int excluded_slot);
  void ReleaseOutput(int output);
  absl::Status AddAt(int slot, ParticipantId id, const ParticipantConfig& config);
  absl::Status UpdateSlot(int slot, const ParticipantConfig& config);
  void RemoveSlot(int slot);
  InputResult SetSlotInput(int slot, std::span<const int16_t> frame, uint8_t level_dbov);
  // The weight of the slot's own voice in what it hears (0 when absent); with a ducked floor,
  // its largest value (full level).
  float OwnWeight(const Slot& slot) const;
  // The floor's gain in `list` this tick: follows the lead bus (see DuckingConfig).
  void UpdateFloorGain(List& list);

  const MixerConfig config_;
  std::vector<Slot> slots_;
  // One past the highest slot in use: the tick looks at [0, slot_end_) only (slots are taken
  // lowest first, so a session sized for a thousand with two participants looks at two).
  size_t slot_end_ = 0;
  std::unordered_map<ParticipantId, int> ids_;  // id -> slot
  std::vector<List> lists_;
  std::vector<std::unique_ptr<Output>> outputs_;  // the pool: lists plus K per bus
  std::vector<MixOutput> published_;              // this tick's, capacity = pool size
  std::vector<std::unique_ptr<SpeakerSelector>> selectors_;
  std::vector<std::array<float, kFrameSamples>> bus_sums_;
  std::vector<std::vector<ParticipantId>> bus_speakers_;  // per bus, capacity K
  std::array<float, kFrameSamples> zeros_{};
  uint32_t next_output_id_ = 1;
  bool selected_ = false;          // SelectSpeakers() ran for this tick
  bool speakers_changed_ = false;  // what it found
  ParticipantId next_auto_id_ = 0x80000000u;
};

}  // namespace chorus::audio
