// The mixer's kernels per instruction set (samples/s) and one Mix() tick for sessions of 3 to 1000
// participants with 3 active speakers (ticks/s, participants/s).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/audio/mixer.h"
#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio {
namespace {

const char* const kSets[] = {"scalar", "avx2", "avx512"};

void BM_Accumulate(benchmark::State& state) {
  const MixKernels* k = KernelsFor(kSets[state.range(0)]);
  if (k == nullptr) {
    state.SkipWithError("instruction set not available on this CPU");
    return;
  }
  state.SetLabel(k->name);
  std::vector<int16_t> in(960, 1234);
  std::vector<float> acc(960, 0.0f);
  for (auto _ : state) {
    k->accumulate(acc.data(), in.data(), 0.7f, in.size());
    benchmark::DoNotOptimize(acc.data());
  }
  state.SetItemsProcessed(state.iterations() * 960);
}
BENCHMARK(BM_Accumulate)->DenseRange(0, 2);

void BM_Subtract(benchmark::State& state) {
  const MixKernels* k = KernelsFor(kSets[state.range(0)]);
  if (k == nullptr) {
    state.SkipWithError("instruction set not available on this CPU");
    return;
  }
  state.SetLabel(k->name);
  std::vector<int16_t> in(960, 1234);
  std::vector<float> sum(960, 5.0f), out(960);
  for (auto _ : state) {
    k->subtract(out.data(), sum.data(), in.data(), 0.7f, in.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 960);
}
BENCHMARK(BM_Subtract)->DenseRange(0, 2);

void BM_GainToInt16(benchmark::State& state) {
  const MixKernels* k = KernelsFor(kSets[state.range(0)]);
  if (k == nullptr) {
    state.SkipWithError("instruction set not available on this CPU");
    return;
  }
  state.SetLabel(k->name);
  std::vector<float> in(960, 40000.0f);
  std::vector<int16_t> out(960);
  for (auto _ : state) {
    k->apply_gain_to_int16(out.data(), in.data(), 1.0f, 0.8f, in.size());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 960);
}
BENCHMARK(BM_GainToInt16)->DenseRange(0, 2);

void BM_Energy(benchmark::State& state) {
  const MixKernels* k = KernelsFor(kSets[state.range(0)]);
  if (k == nullptr) {
    state.SkipWithError("instruction set not available on this CPU");
    return;
  }
  state.SetLabel(k->name);
  std::vector<int16_t> in(960, -1234);
  for (auto _ : state) benchmark::DoNotOptimize(k->energy(in.data(), in.size()));
  state.SetItemsProcessed(state.iterations() * 960);
}
BENCHMARK(BM_Energy)->DenseRange(0, 2);

// One tick of a session: N participants, the first three talking, the others silent.
void BM_MixTick(benchmark::State& state) {
  const int participants = static_cast<int>(state.range(0));
  MixerConfig config;
  config.max_participants = static_cast<size_t>(participants);
  auto mixer = *AudioMixer::Create(config);
  std::vector<int> slots;
  for (int i = 0; i < participants; ++i) slots.push_back(mixer->Add({}));
  std::vector<std::vector<int16_t>> voices(3, std::vector<int16_t>(kMixFrame));
  for (int v = 0; v < 3; ++v) {
    for (size_t i = 0; i < kMixFrame; ++i) {
      voices[v][i] = static_cast<int16_t>(8000 * std::sin(0.01 * (v + 1) * static_cast<double>(i)));
    }
  }
  for (auto _ : state) {
    for (int i = 0; i < participants; ++i) {
      if (i < 3) {
        mixer->SetInput(slots[i], voices[i], 20);
      } else {
        mixer->SetInput(slots[i], {}, 127);
      }
    }
    mixer->Mix();
    benchmark::DoNotOptimize(mixer->output(slots.back()).data());
  }
  state.SetLabel(std::string(ActiveSimdName()));
  state.SetItemsProcessed(state.iterations() * participants);  // participants served per second
  state.counters["outputs"] = mixer->outputs_this_tick();
}
BENCHMARK(BM_MixTick)->Arg(3)->Arg(5)->Arg(10)->Arg(50)->Arg(200)->Arg(1000);

}  // namespace
}  // namespace chorus::audio
