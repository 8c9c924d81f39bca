#include "pipeline/audio/mixer.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/tone.h"

namespace chorus::audio {
namespace {

constexpr double kPi = 3.14159265358979323846;

// One 20 ms frame of a sine (frame index `frame`), continuous across frames.
std::vector<int16_t> Tone(double hz, int frame, double amplitude = 8000) {
  std::vector<int16_t> samples(kFrameSamples);
  for (size_t i = 0; i < kFrameSamples; ++i) {
    const double t = (frame * static_cast<double>(kFrameSamples) + i) / kSampleRateHz;
    samples[i] = static_cast<int16_t>(std::lrint(amplitude * std::sin(2 * kPi * hz * t)));
  }
  return samples;
}

// Amplitude of `hz` in a frame: one DFT bin (whole periods of 50 Hz multiples fit the frame).
double Amplitude(std::span<const int16_t> samples, double hz) {
  return chorus::testing::ToneAmplitude(samples, hz, kSampleRateHz);
}

struct Source {
  ParticipantId id;
  double hz;  // 0: silent
  double amplitude = 8000;
};

class MixerTest : public ::testing::Test {
 protected:
  void Create(int bus_count = 1, size_t max_participants = 32) {
    MixerConfig config;
    config.max_participants = max_participants;
    config.bus_count = bus_count;
    auto mixer = AudioMixer::Create(config);
    ASSERT_TRUE(mixer.ok()) << mixer.status();
    mixer_ = *std::move(mixer);
  }
  void Add(ParticipantId id, const ParticipantConfig& config = {}) {
    ASSERT_TRUE(mixer_->AddParticipant(id, config).ok());
  }
  // One tick: each source sends its tone with an RFC 6464 level of -20 dBov.
  void Tick(const std::vector<Source>& sources) {
    std::vector<std::vector<int16_t>> frames;
    frames.reserve(sources.size());
    for (const Source& s : sources) frames.push_back(Tone(s.hz, tick_, s.amplitude));
    for (size_t i = 0; i < sources.size(); ++i) {
      if (sources[i].hz == 0) continue;
      EXPECT_EQ(AudioMixer::InputResult::kOk, mixer_->SetFrame(sources[i].id, frames[i], 20));
    }
    mixer_->Mix();
    ++tick_;
  }
  void Run(const std::vector<Source>& sources, int ticks) {
    for (int t = 0; t < ticks; ++t) Tick(sources);
  }
  std::span<const int16_t> Heard(ParticipantId id) const {
    const int index = mixer_->OutputIndex(id);
    if (index < 0) return {};
    return mixer_->outputs()[static_cast<size_t>(index)].frame;
  }

  std::unique_ptr<AudioMixer> mixer_;
  int tick_ = 0;
};

TEST_F(MixerTest, EachSpeakerHearsTheOtherTwoAndNotItself) {
  Create();
  for (ParticipantId id : {1, 2, 3, 4}) Add(id);
  const std::vector<Source> sources = {{1, 450}, {2, 650}, {3, 850}, {4, 0}};
  Run(sources, 10);
  const std::map<ParticipantId, double> tone = {{1, 450}, {2, 650}, {3, 850}};
  for (ParticipantId listener : {1, 2, 3}) {
    const auto heard = Heard(listener);
    ASSERT_EQ(kFrameSamples, heard.size());
    for (auto [speaker, hz] : tone) {
      if (speaker == listener) {
        EXPECT_LT(Amplitude(heard, hz), 2.0) << listener << " hears itself";
      } else {
        EXPECT_NEAR(8000, Amplitude(heard, hz), 80) << listener << " misses " << speaker;
      }
    }
  }
  // The silent participant hears all three.
  for (auto [speaker, hz] : tone) EXPECT_NEAR(8000, Amplitude(Heard(4), hz), 80);
}

TEST_F(MixerTest, ListenersWhoAreNotSpeakingShareOneOutput) {
  Create();
  for (ParticipantId id = 1; id <= 13; ++id) Add(id);
  std::vector<Source> sources = {{1, 450}, {2, 650}, {3, 850}};
  for (ParticipantId id = 4; id <= 13; ++id) sources.push_back({id, 0});
  Run(sources, 10);
  // Three mix-minus outputs and one shared by the ten listeners: four encodes a tick.
  ASSERT_EQ(4u, mixer_->outputs().size());
  const int shared = mixer_->OutputIndex(4);
  for (ParticipantId id = 5; id <= 13; ++id) EXPECT_EQ(shared, mixer_->OutputIndex(id));
  EXPECT_FALSE(mixer_->outputs()[static_cast<size_t>(shared)].has_excluded);
  EXPECT_EQ(3u, mixer_->outputs()[static_cast<size_t>(shared)].contributors.size());
  std::set<int> speaker_outputs;
  for (ParticipantId id : {1, 2, 3}) {
    const MixOutput& out = mixer_->outputs()[static_cast<size_t>(mixer_->OutputIndex(id))];
    EXPECT_TRUE(out.has_excluded);
    EXPECT_EQ(id, out.excluded);
    ASSERT_EQ(2u, out.contributors.size());
    for (const Contributor& c : out.contributors) {
      EXPECT_NE(id, c.id);
      EXPECT_EQ(20, c.level_dbov);
    }
    speaker_outputs.insert(mixer_->OutputIndex(id));
  }
  EXPECT_EQ(3u, speaker_outputs.size());
  EXPECT_EQ(0u, speaker_outputs.count(shared));
}

TEST_F(MixerTest, OutputIdsStayWhileTheirKeysStay) {
  Create();
  for (ParticipantId id : {1, 2, 3}) Add(id);
  Run({{1, 450}, {2, 650}, {3, 0}}, 5);
  std::map<ParticipantId, uint32_t> ids;
  for (ParticipantId id : {1, 2, 3}) {
    ids[id] = mixer_->outputs()[static_cast<size_t>(mixer_->OutputIndex(id))].output_id;
  }
  for (int t = 0; t < 30; ++t) {
    Tick({{1, 450}, {2, 650}, {3, 0}});
    for (ParticipantId id : {1, 2, 3}) {
      ASSERT_EQ(ids[id], mixer_->outputs()[static_cast<size_t>(mixer_->OutputIndex(id))].output_id);
    }
  }
  // Speaker 2 falls silent: after its hang time it hears the shared mix again.
  Run({{1, 450}, {2, 0}, {3, 0}}, 40);
  EXPECT_EQ(mixer_->OutputIndex(3), mixer_->OutputIndex(2));
  EXPECT_EQ(ids[3], mixer_->outputs()[static_cast<size_t>(mixer_->OutputIndex(2))].output_id);
  EXPECT_EQ(ids[1], mixer_->outputs()[static_cast<size_t>(mixer_->OutputIndex(1))].output_id);
}

TEST_F(MixerTest, MutedAndWaitingParticipantsAreNotHeard) {
  Create();
  ParticipantConfig muted;
  muted.muted = true;
  ParticipantConfig waiting;
  waiting.admitted = false;
  Add(1);
  Add(2, muted);
  Add(3, waiting);
  Add(4);
  Run({{1, 450}, {2, 650}, {3, 850}, {4, 0}}, 10);
  EXPECT_NEAR(8000, Amplitude(Heard(4), 450), 80);
  EXPECT_LT(Amplitude(Heard(4), 650), 2.0);
  EXPECT_LT(Amplitude(Heard(4), 850), 2.0);
  // The muted participant still hears the room; the waiting one gets nothing at all.
  EXPECT_NEAR(8000, Amplitude(Heard(2), 450), 80);
  EXPECT_EQ(-1, mixer_->OutputIndex(3));
  EXPECT_TRUE(Heard(3).empty());
  EXPECT_FALSE(mixer_->IsSpeaker(2));
  EXPECT_FALSE(mixer_->IsSpeaker(3));

  // Admitted and unmuted: heard from then on.
  ASSERT_TRUE(mixer_->UpdateParticipant(3, ParticipantConfig{}).ok());
  ASSERT_TRUE(mixer_->UpdateParticipant(2, ParticipantConfig{}).ok());
  Run({{1, 450}, {2, 650}, {3, 850}, {4, 0}}, 10);
  EXPECT_NEAR(8000, Amplitude(Heard(4), 650), 80);
  EXPECT_NEAR(8000, Amplitude(Heard(4), 850), 80);
  EXPECT_GE(mixer_->OutputIndex(3), 0);
}

TEST_F(MixerTest, InputGainScalesTheVoice) {
  Create();
  ParticipantConfig quieter;
  quieter.input_gain = 0.5f;
  ParticipantConfig louder;
  louder.input_gain = 2.0f;
  Add(1, quieter);
  Add(2, louder);
  Add(3);
  Run({{1, 450}, {2, 650, 4000}, {3, 0}}, 10);
  EXPECT_NEAR(4000, Amplitude(Heard(3), 450), 40);
  EXPECT_NEAR(8000, Amplitude(Heard(3), 650), 80);
}

// The mix-minus of each speaker equals the naive sum of the others (within int16 rounding),
// delayed by the limiter's look-ahead (the signals stay under its threshold).
TEST_F(MixerTest, MixMinusMatchesANaiveSumOfTheOthers) {
  Create();
  const std::vector<float> gains = {1.0f, 0.5f, 1.5f, 1.0f};
  for (ParticipantId id = 1; id <= 4; ++id) {
    ParticipantConfig config;
    config.input_gain = gains[id - 1];
    Add(id, config);
  }
  const std::vector<Source> sources = {{1, 450, 5000}, {2, 650, 7000}, {3, 850, 4000}, {4, 0}};
  std::map<ParticipantId, std::vector<double>> previous;
  for (int t = 0; t < 20; ++t) {
    Tick(sources);
    if (t < 5) continue;  // speakers selected, outputs settled
    const int frame = tick_ - 1;
    for (ParticipantId listener = 1; listener <= 4; ++listener) {
      std::vector<double> naive(kFrameSamples, 0.0);
      for (const Source& s : sources) {
        if (s.id == listener || s.hz == 0) continue;
        const auto tone = Tone(s.hz, frame, s.amplitude);
        for (size_t i = 0; i < kFrameSamples; ++i) naive[i] += tone[i] * gains[s.id - 1];
      }
      const auto heard = Heard(listener);
      if (t > 5) {
        const auto& prev = previous[listener];
        for (size_t i = 0; i < kFrameSamples; ++i) {
          const size_t d = Limiter::kLatencySamples;
          const double expected = i < d ? prev[kFrameSamples - d + i] : naive[i - d];
          ASSERT_LE(std::abs(heard[i] - std::lrint(expected)), 1)
              << "listener " << listener << " tick " << t << " sample " << i;
        }
      }
      previous[listener] = naive;
    }
  }
}

TEST_F(MixerTest, LanguageBusWithTheFloorDuckedUnderIt) {
  Create(/*bus_count=*/2);
  ParticipantConfig interpreter;  // hears the floor, speaks into bus 1
  interpreter.speak_bus = 1;
  ParticipantConfig listener;  // hears bus 1, the floor at 0.25 under it
  listener.listens = ListenList({{1, 1.0f}, {0, 0.25f}});
  Add(1);  // a floor speaker
  Add(2, interpreter);
  Add(3, listener);
  Add(4);  // a floor listener
  Run({{1, 450}, {2, 650}, {3, 0}, {4, 0}}, 10);
  EXPECT_NEAR(8000, Amplitude(Heard(3), 650), 80);
  EXPECT_NEAR(2000, Amplitude(Heard(3), 450), 40);
  EXPECT_NEAR(8000, Amplitude(Heard(4), 450), 80);
  EXPECT_LT(Amplitude(Heard(4), 650), 2.0);  // the floor does not hear the interpretation
  EXPECT_NEAR(8000, Amplitude(Heard(2), 450), 80);
  EXPECT_LT(Amplitude(Heard(2), 650), 2.0);
  // The interpreter is a selected speaker of bus 1 but does not hear bus 1: it shares the floor
  // listeners' output.
  EXPECT_EQ(mixer_->OutputIndex(4), mixer_->OutputIndex(2));
  ASSERT_EQ(1u, mixer_->speakers(1).size());
  EXPECT_EQ(2u, mixer_->speakers(1)[0]);
}

// The shorthand (listen_bus + floor_gain) leads with the channel: while the channel speaks the
// floor is at floor_gain, once it has been silent for the hold the floor ramps back to full.
TEST_F(MixerTest, TheFloorReturnsWhenTheChannelFallsSilentAndDucksWhenItSpeaksAgain) {
  Create(/*bus_count=*/2);
  ParticipantConfig interpreter;
  interpreter.speak_bus = 1;
  ParticipantConfig listener;
  listener.listen_bus = 1;
  listener.floor_gain = 0.1f;
  ParticipantConfig muted_floor = listener;  // a listener who wants no floor under the channel
  muted_floor.floor_gain = 0.0f;
  Add(1);  // floor speaker, 450 Hz
  Add(2, interpreter);
  Add(3, listener);
  Add(4, muted_floor);
  const std::vector<Source> both = {{1, 450}, {2, 650}};
  const std::vector<Source> floor_only = {{1, 450}};
  Run(both, 30);
  EXPECT_NEAR(8000, Amplitude(Heard(3), 650), 80);
  EXPECT_NEAR(800, Amplitude(Heard(3), 450), 20);  // ducked to 0.1
  EXPECT_LT(Amplitude(Heard(4), 450), 2.0);        // muted under the channel
  // The interpreter stops. Within the hold (600 ms) the floor stays ducked.
  Run(floor_only, 20);
  EXPECT_NEAR(800, Amplitude(Heard(3), 450), 20);
  // Then it ramps back (400 ms for a full swing), one small step per sample: no click.
  int max_step = 0;
  std::vector<int16_t> last(Heard(3).begin(), Heard(3).end());
  for (int t = 0; t < 40; ++t) {
    Tick(floor_only);
    std::span<const int16_t> heard = Heard(3);
    max_step = std::max(max_step, std::abs(heard[0] - last.back()));
    for (size_t i = 1; i < heard.size(); ++i) {
      max_step = std::max(max_step, std::abs(heard[i] - heard[i - 1]));
    }
    last.assign(heard.begin(), heard.end());
  }
  // A full-level 450 Hz sine of amplitude 8000 moves at most 8000 x 2 pi x 450 / 48000 = 471
  // per sample; a gain step would add far more.
  EXPECT_LT(max_step, 480);
  EXPECT_NEAR(8000, Amplitude(Heard(3), 450), 80);
  EXPECT_NEAR(8000, Amplitude(Heard(4), 450), 80);  // the muted floor came back too
  // The interpreter speaks again: the floor goes back under it within the duck ramp (60 ms).
  Run(both, 8);
  EXPECT_NEAR(800, Amplitude(Heard(3), 450), 20);
  EXPECT_LT(Amplitude(Heard(4), 450), 2.0);
  EXPECT_NEAR(8000, Amplitude(Heard(3), 650), 80);
}

// A floor speaker who listens to a language channel hears the channel and the ducked floor, but
// never its own voice, also while the floor's gain is ramping: its output equals, sample for
// sample, what a second mixer produces where it says nothing.
TEST_F(MixerTest, MixMinusStaysExactWhileTheFloorRamps) {
  MixerConfig config;
  config.bus_count = 2;
  auto with_voice = AudioMixer::Create(config);
  auto without_voice = AudioMixer::Create(config);
  ASSERT_TRUE(with_voice.ok() && without_voice.ok());
  ParticipantConfig interpreter;
  interpreter.speak_bus = 1;
  ParticipantConfig speaking_listener;  // speaks on the floor, listens to bus 1
  speaking_listener.listen_bus = 1;
  speaking_listener.floor_gain = 0.2f;
  for (AudioMixer* mixer : {with_voice->get(), without_voice->get()}) {
    ASSERT_TRUE(mixer->AddParticipant(1, speaking_listener).ok());
    ASSERT_TRUE(mixer->AddParticipant(2, interpreter).ok());
    ASSERT_TRUE(mixer->AddParticipant(3, ParticipantConfig{}).ok());  // another floor speaker
  }
  int worst = 0;
  for (int t = 0; t < 240; ++t) {
    const bool interpreting = (t / 45) % 2 == 0;  // the floor ducks, returns, ducks...
    const std::vector<int16_t> own = Tone(450, t);
    const std::vector<int16_t> other = Tone(850, t);
    const std::vector<int16_t> interpretation = Tone(650, t);
    for (AudioMixer* mixer : {with_voice->get(), without_voice->get()}) {
      if (mixer == with_voice->get()) mixer->SetFrame(1, own, 20);
      mixer->SetFrame(3, other, 20);
      if (interpreting) mixer->SetFrame(2, interpretation, 20);
      mixer->Mix();
    }
    if (t < 20) continue;  // both settled: speakers selected, outputs created
    ASSERT_TRUE((*with_voice)->IsSpeaker(1));
    const auto heard = (*with_voice)->outputs()[(*with_voice)->OutputIndex(1)].frame;
    const auto reference = (*without_voice)->outputs()[(*without_voice)->OutputIndex(1)].frame;
    for (size_t i = 0; i < kFrameSamples; ++i) {
      worst = std::max(worst, std::abs(heard[i] - reference[i]));
    }
  }
  EXPECT_LE(worst, 2);  // float rounding only
}

TEST_F(MixerTest, LevelsAreMeasuredWhenThePacketHadNone) {
  MixerConfig config;
  config.max_participants = 4;
  config.max_speakers = 1;
  mixer_ = *AudioMixer::Create(config);
  for (ParticipantId id : {1, 2, 3}) Add(id);
  for (int t = 0; t < 10; ++t) {
    const auto quiet = Tone(450, t, 300);
    const auto loud = Tone(650, t, 10000);
    mixer_->SetFrame(1, quiet);
    mixer_->SetFrame(2, loud);
    mixer_->Mix();
  }
  EXPECT_TRUE(mixer_->IsSpeaker(2));
  EXPECT_FALSE(mixer_->IsSpeaker(1));
  const MixOutput& heard = mixer_->outputs()[static_cast<size_t>(mixer_->OutputIndex(3))];
  ASSERT_EQ(1u, heard.contributors.size());
  EXPECT_EQ(2u, heard.contributors[0].id);
  EXPECT_NEAR(13, heard.contributors[0].level_dbov, 1);  // 10000 peak sine: -13 dBov RMS
}

TEST_F(MixerTest, ControlErrorsAndBadInput) {
  Create(/*bus_count=*/1, /*max_participants=*/2);
  Add(1);
  EXPECT_EQ(absl::StatusCode::kAlreadyExists, mixer_->AddParticipant(1, {}).code());
  ParticipantConfig bad_bus;
  bad_bus.speak_bus = 1;
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, mixer_->AddParticipant(2, bad_bus).code());
  ParticipantConfig bad_gain;
  bad_gain.input_gain = NAN;
  EXPECT_EQ(absl::StatusCode::kInvalidArgument, mixer_->AddParticipant(2, bad_gain).code());
  Add(2);
  EXPECT_EQ(absl::StatusCode::kResourceExhausted, mixer_->AddParticipant(3, {}).code());
  EXPECT_EQ(absl::StatusCode::kNotFound, mixer_->RemoveParticipant(9).code());
  EXPECT_EQ(absl::StatusCode::kNotFound, mixer_->UpdateParticipant(9, {}).code());
  const std::vector<int16_t> short_frame(100, 1000);
  EXPECT_EQ(AudioMixer::InputResult::kBadFrameSize, mixer_->SetFrame(1, short_frame, 20));
  EXPECT_EQ(AudioMixer::InputResult::kUnknownParticipant, mixer_->SetFrame(9, short_frame, 20));
  mixer_->Mix();
  EXPECT_FALSE(mixer_->IsSpeaker(1));
  EXPECT_TRUE(mixer_->RemoveParticipant(1).ok());
  EXPECT_FALSE(mixer_->Contains(1));
  EXPECT_TRUE(mixer_->AddParticipant(3, {}).ok());
  EXPECT_FALSE(AudioMixer::Create(MixerConfig{.max_participants = 0}).ok());
}

}  // namespace
}  // namespace chorus::audio
