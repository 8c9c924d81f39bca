// The mixer's kernels per instruction set (items = samples/s) and one Mix() tick for sessions of
// 3 to 1000 participants with 3 active speakers (items = ticks/s; the participants/s counter).
// Run: chorus_audio_benchmark --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// and read the medians.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/audio/mixer.h"
#include "pipeline/audio/simd/mix_kernels.h"

namespace chorus::audio {
namespace {

constexpr const char* kSets[] = {"scalar", "avx2", "avx512"};
constexpr size_t kSamples = kFrameSamples;

const MixKernels* SetUp(benchmark::State& state) {
  const MixKernels* k = KernelsFor(kSets[state.range(0)]);
  if (k == nullptr) {
    state.SkipWithError("instruction set not available on this CPU");
    return nullptr;
  }
  state.SetLabel(k->name);
  return k;
}

std::vector<int16_t> Pcm() {
  std::vector<int16_t> pcm(kSamples);
  for (size_t i = 0; i < kSamples; ++i) pcm[i] = static_cast<int16_t>(20000 * std::sin(0.05 * i));
  return pcm;
}

std::vector<float> Mixed() {
  std::vector<float> mix(kSamples);
  for (size_t i = 0; i < kSamples; ++i) mix[i] = 60000.0f * std::sin(0.05f * i);
  return mix;
}

void BM_Accumulate(benchmark::State& state) {
  const MixKernels* k = SetUp(state);
  if (k == nullptr) return;
  const auto in = Pcm();
  std::vector<float> acc(kSamples, 0.0f);
  for (auto _ : state) {
    k->accumulate(acc.data(), in.data(), 0.7f, kSamples);
    benchmark::DoNotOptimize(acc.data());
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
}

void BM_Subtract(benchmark::State& state) {
  const MixKernels* k = SetUp(state);
  if (k == nullptr) return;
  const auto in = Pcm();
  const auto sum = Mixed();
  std::vector<float> out(kSamples);
  for (auto _ : state) {
    k->subtract(out.data(), sum.data(), in.data(), 0.7f, kSamples);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
}

void BM_AddScaled(benchmark::State& state) {
  const MixKernels* k = SetUp(state);
  if (k == nullptr) return;
  const auto a = Mixed();
  const auto b = Mixed();
  std::vector<float> out(kSamples);
  for (auto _ : state) {
    k->add_scaled(out.data(), a.data(), b.data(), 0.25f, kSamples);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
}

void BM_Peak(benchmark::State& state) {
  const MixKernels* k = SetUp(state);
  if (k == nullptr) return;
  const auto mix = Mixed();
  for (auto _ : state) benchmark::DoNotOptimize(k->peak(mix.data(), kSamples));
  state.SetItemsProcessed(state.iterations() * kSamples);
}

void BM_PeakInt16(benchmark::State& state) {
  const MixKernels* k = SetUp(state);
  if (k == nullptr) return;
  const auto pcm = Pcm();
  for (auto _ : state) benchmark::DoNotOptimize(k->peak_int16(pcm.data(), kSamples));
  state.SetItemsProcessed(state.iterations() * kSamples);
}

void BM_Energy(benchmark::State& state) {
  const MixKernels* k = SetUp(state);
  if (k == nullptr) return;
  const auto pcm = Pcm();
  for (auto _ : state) benchmark::DoNotOptimize(k->energy(pcm.data(), kSamples));
  state.SetItemsProcessed(state.iterations() * kSamples);
}

void BM_ToInt16(benchmark::State& state) {
  const MixKernels* k = SetUp(state);
  if (k == nullptr) return;
  const auto mix = Mixed();
  std::vector<int16_t> out(kSamples);
  for (auto _ : state) {
    k->to_int16(out.data(), mix.data(), kSamples);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
}

void BM_ApplyGainToInt16(benchmark::State& state) {
  const MixKernels* k = SetUp(state);
  if (k == nullptr) return;
  const auto mix = Mixed();
  std::vector<int16_t> out(kSamples);
  for (auto _ : state) {
    k->apply_gain_to_int16(out.data(), mix.data(), 0.9f, 0.5f, kSamples);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
}

#define CHORUS_KERNEL_BENCHMARK(fn) BENCHMARK(fn)->DenseRange(0, 2)->ArgName("set")
CHORUS_KERNEL_BENCHMARK(BM_Accumulate);
CHORUS_KERNEL_BENCHMARK(BM_Subtract);
CHORUS_KERNEL_BENCHMARK(BM_AddScaled);
CHORUS_KERNEL_BENCHMARK(BM_Peak);
CHORUS_KERNEL_BENCHMARK(BM_PeakInt16);
CHORUS_KERNEL_BENCHMARK(BM_Energy);
CHORUS_KERNEL_BENCHMARK(BM_ToInt16);
CHORUS_KERNEL_BENCHMARK(BM_ApplyGainToInt16);

// One tick of a session: `participants` on the floor, three of them talking (with RFC 6464
// levels), everyone else silent; the active SIMD table (CHORUS_SIMD to compare).
void BM_MixTick(benchmark::State& state) {
  const auto participants = static_cast<ParticipantId>(state.range(0));
  MixerConfig config;
  config.max_participants = participants;
  auto mixer = *AudioMixer::Create(config);
  for (ParticipantId id = 0; id < participants; ++id) {
    if (!mixer->AddParticipant(id, {}).ok()) {
      state.SkipWithError("add failed");
      return;
    }
  }
  std::vector<std::vector<int16_t>> voices(3, Pcm());
  for (int t = 0; t < 10; ++t) {  // speakers selected before timing
    for (ParticipantId id = 0; id < 3; ++id) mixer->SetFrame(id, voices[id], 20);
    mixer->Mix();
  }
  for (auto _ : state) {
    for (ParticipantId id = 0; id < 3; ++id) mixer->SetFrame(id, voices[id], 20);
    mixer->Mix();
    benchmark::DoNotOptimize(mixer->outputs().data());
  }
  state.SetLabel(std::string(ActiveSimdName()) + ", " + std::to_string(mixer->outputs().size()) +
                 " outputs");
  state.SetItemsProcessed(state.iterations());
  state.counters["participants/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * participants, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MixTick)->Arg(3)->Arg(5)->Arg(10)->Arg(50)->Arg(200)->Arg(1000);

}  // namespace
}  // namespace chorus::audio
