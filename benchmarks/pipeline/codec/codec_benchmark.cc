// Codec cost per 20 ms frame (items/s = frames/s), Opus at 32 kbit/s mono.
#include <cmath>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/codec/audio_decoder.h"
#include "pipeline/codec/audio_encoder.h"

namespace chorus::codec {
namespace {

std::vector<int16_t> Speechlike(int frame) {
  std::vector<int16_t> samples(960);
  for (int i = 0; i < 960; ++i) {
    double t = (frame * 960 + i) / 48000.0;
    samples[i] = static_cast<int16_t>(6000 * std::sin(2 * 3.14159 * 220 * t) +
                                      2000 * std::sin(2 * 3.14159 * 1330 * t));
  }
  return samples;
}

void BM_Encode(benchmark::State& state) {
  const auto codec = static_cast<AudioCodec>(state.range(0));
  state.SetLabel(std::string(CodecName(codec)));
  auto encoder = *AudioEncoder::Create({.codec = codec});
  std::vector<std::vector<int16_t>> frames;
  for (int f = 0; f < 50; ++f) frames.push_back(Speechlike(f));
  std::vector<uint8_t> out(1500);
  size_t f = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(encoder->Encode(frames[f++ % frames.size()], out));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Encode)->DenseRange(0, 3);

void BM_Decode(benchmark::State& state) {
  const auto codec = static_cast<AudioCodec>(state.range(0));
  state.SetLabel(std::string(CodecName(codec)));
  auto encoder = *AudioEncoder::Create({.codec = codec});
  auto decoder = *AudioDecoder::Create(codec);
  std::vector<std::vector<uint8_t>> packets;
  std::vector<uint8_t> out(1500);
  for (int f = 0; f < 60; ++f) {
    int size = encoder->Encode(Speechlike(f), out);
    if (size > 0) packets.emplace_back(out.begin(), out.begin() + size);
  }
  std::vector<int16_t> pcm(960);
  size_t f = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(decoder->Decode(packets[f++ % packets.size()], pcm));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decode)->DenseRange(0, 3);

}  // namespace
}  // namespace chorus::codec
