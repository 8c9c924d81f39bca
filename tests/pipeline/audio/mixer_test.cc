#include "pipeline/audio/mixer.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/allocation_counter.h"

namespace chorus::audio {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<int16_t> Tone(double hz, int frame, double amplitude = 8000) {
  std::vector<int16_t> samples(kMixFrame);
  for (size_t i = 0; i < kMixFrame; ++i) {
    double t = (frame * static_cast<double>(kMixFrame) + i) / 48000.0;
    samples[i] = static_cast<int16_t>(amplitude * std::sin(2 * kPi * hz * t));
  }
  return samples;
}

// Amplitude of `hz` in `samples` (a single-bin DFT over whole periods is exact enough here).
double Amplitude(std::span<const int16_t> samples, double hz) {
  double re = 0, im = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    re += samples[i] * std::cos(2 * kPi * hz * i / 48000.0);
    im += samples[i] * std::sin(2 * kPi * hz * i / 48000.0);
  }
  return 2 * std::sqrt(re * re + im * im) / static_cast<double>(samples.size());
}

class MixerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MixerConfig config;
    config.max_participants = 32;
    config.bus_count = 2;
    mixer_ = *AudioMixer::Create(config);
  }
  // Runs `frames` ticks with each slot sending its tone (0 Hz = silence).
  void Run(const std::vector<int>& slots, const std::vector<double>& tones, int frames) {
    for (int f = 0; f < frames; ++f) {
      std::vector<std::vector<int16_t>> inputs;
      for (size_t i = 0; i < slots.size(); ++i) inputs.push_back(Tone(tones[i], f));
      for (size_t i = 0; i < slots.size(); ++i) {
        if (tones[i] == 0) {
          mixer_->SetInput(slots[i], {}, 127);
        } else {
          mixer_->SetInput(slots[i], inputs[i], 20);
        }
      }
      mixer_->Mix();
    }
  }
  std::unique_ptr<AudioMixer> mixer_;
};

TEST_F(MixerTest, EachSpeakerHearsTheOthersAndNotItself) {
  std::vector<int> slots = {mixer_->Add({}), mixer_->Add({}), mixer_->Add({})};
  std::vector<double> tones = {400, 600, 1000};
  Run(slots, tones, 10);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(mixer_->output_kind(slots[i]), AudioMixer::OutputKind::kPersonal);
    auto out = mixer_->output(slots[i]);
    for (size_t j = 0; j < 3; ++j) {
      double amplitude = Amplitude(out, tones[j]);
      if (i == j) {
        EXPECT_LT(amplitude, 2.0) << "own tone heard by " << i;  // exact removal
      } else {
        EXPECT_NEAR(amplitude, 8000, 80) << i << " hears " << j;
      }
    }
  }
}

TEST_F(MixerTest, ListenersWhoAreNotSpeakingShareOneOutput) {
  std::vector<int> slots;
  std::vector<double> tones;
  for (int i = 0; i < 10; ++i) {
    slots.push_back(mixer_->Add({}));
    tones.push_back(i < 2 ? 300.0 + 200 * i : 0.0);
  }
  Run(slots, tones, 5);
  for (int i = 2; i < 10; ++i) {
    EXPECT_EQ(mixer_->output_kind(slots[i]), AudioMixer::OutputKind::kShared);
    EXPECT_EQ(mixer_->shared_output(slots[i]), mixer_->shared_output(slots[2]));
    EXPECT_EQ(mixer_->output(slots[i]).data(), mixer_->output(slots[2]).data());
  }
  // Two personal mixes (the speakers) and one shared one.
  EXPECT_EQ(mixer_->outputs_this_tick(), 3);
}

TEST_F(MixerTest, AtMostKSpeakersAreMixed) {
  std::vector<int> slots;
  std::vector<double> tones;
  for (int i = 0; i < 6; ++i) {
    slots.push_back(mixer_->Add({}));
    tones.push_back(300.0 + 100 * i);
  }
  int listener = mixer_->Add({});
  slots.push_back(listener);
  tones.push_back(0);
  Run(slots, tones, 5);
  EXPECT_EQ(mixer_->selector(0).speakers().size(), 3u);
  int heard = 0;
  for (int i = 0; i < 6; ++i) heard += Amplitude(mixer_->output(listener), tones[i]) > 1000;
  EXPECT_EQ(heard, 3);
}

TEST_F(MixerTest, MutedAndWaitingParticipantsAreNotHeardAndWaitingOnesHearNothing) {
  ParticipantConfig muted;
  muted.muted = true;
  ParticipantConfig waiting;
  waiting.admitted = false;
  std::vector<int> slots = {mixer_->Add({}), mixer_->Add(muted), mixer_->Add(waiting),
                            mixer_->Add({})};
  std::vector<double> tones = {400, 600, 1000, 0};
  Run(slots, tones, 5);
  auto out = mixer_->output(slots[3]);
  EXPECT_GT(Amplitude(out, 400), 7000);
  EXPECT_LT(Amplitude(out, 600), 2);
  EXPECT_LT(Amplitude(out, 1000), 2);
  EXPECT_EQ(mixer_->output_kind(slots[2]), AudioMixer::OutputKind::kNone);
  EXPECT_TRUE(mixer_->output(slots[2]).empty());
}

TEST_F(MixerTest, InputGainAndLanguageBusesWithTheFloorDucked) {
  ParticipantConfig quiet;
  quiet.input_gain = 0.5f;
  ParticipantConfig interpreter;
  interpreter.speak_bus = 1;
  interpreter.listen_bus = 0;
  ParticipantConfig language_listener;
  language_listener.listen_bus = 1;
  language_listener.floor_gain = 0.25f;
  std::vector<int> slots = {mixer_->Add(quiet), mixer_->Add(interpreter),
                            mixer_->Add(language_listener), mixer_->Add({})};
  std::vector<double> tones = {400, 700, 0, 0};
  Run(slots, tones, 5);
  auto floor_listener = mixer_->output(slots[3]);
  EXPECT_NEAR(Amplitude(floor_listener, 400), 4000, 60);
  EXPECT_LT(Amplitude(floor_listener, 700), 2);  // the language bus is not on the floor
  auto language = mixer_->output(slots[2]);
  EXPECT_NEAR(Amplitude(language, 700), 8000, 80);
  EXPECT_NEAR(Amplitude(language, 400), 1000, 40);  // floor ducked to a quarter
}

TEST_F(MixerTest, MixMinusEqualsANaivePerListenerSum) {
  std::vector<int> slots = {mixer_->Add({}), mixer_->Add({}), mixer_->Add({})};
  std::vector<double> tones = {350, 550, 950};
  Run(slots, tones, 3);
  for (size_t i = 0; i < 3; ++i) {
    auto out = mixer_->output(slots[i]);
    for (size_t s = 0; s < kMixFrame; ++s) {
      double naive = 0;
      for (size_t j = 0; j < 3; ++j) {
        if (j != i) naive += Tone(tones[j], 2)[s];
      }
      EXPECT_NEAR(out[s], naive, 1.0);
    }
  }
}

TEST_F(MixerTest, MixAllocatesNothing) {
  MixerConfig config;
  config.max_participants = 16;
  auto mixer = *AudioMixer::Create(config);
  std::vector<int> slots;
  for (int i = 0; i < 16; ++i) slots.push_back(mixer->Add({}));
  std::vector<std::vector<int16_t>> inputs;
  for (int i = 0; i < 16; ++i) inputs.push_back(Tone(200.0 + 50 * i, 0, i < 4 ? 8000 : 10));
  chorus::testing::ScopedAllocationCounter allocations;
  for (int tick = 0; tick < 1000; ++tick) {
    for (int i = 0; i < 16; ++i) mixer->SetInput(slots[i], inputs[i], i < 4 ? 20 : 90);
    mixer->Mix();
  }
  EXPECT_EQ(allocations.count(), 0);
}

}  // namespace
}  // namespace chorus::audio
