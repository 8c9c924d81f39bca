// RTP/RTCP parse and build, and the jitter buffer, per packet (items per second).
#include <array>
#include <cstdint>
#include <span>

#include "benchmark/benchmark.h"
#include "pipeline/base/clock.h"
#include "pipeline/rtp/audio_level.h"
#include "pipeline/rtp/jitter_buffer.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"

namespace chorus::rtp {
namespace {

// An Opus-sized packet (100 bytes of payload) with the RFC 6464 audio level extension.
size_t MakeAudioPacket(std::span<uint8_t> out) {
  RtpPacketBuilder builder;
  builder.set_payload_type(111);
  builder.set_sequence_number(1000);
  builder.set_timestamp(48000);
  builder.set_ssrc(0x12345678);
  const std::array<uint8_t, 1> level = {0x80 | 30};
  builder.AddExtension(1, level);
  std::array<uint8_t, 100> payload{};
  return builder.Build(payload, out);
}

void BM_ParseRtp(benchmark::State& state) {
  std::array<uint8_t, 1500> packet{};
  const size_t size = MakeAudioPacket(packet);
  for (auto _ : state) {
    RtpPacketView view;
    benchmark::DoNotOptimize(ParseRtp(std::span<const uint8_t>(packet.data(), size), &view));
    benchmark::DoNotOptimize(ParseAudioLevel(view.FindExtension(1)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseRtp);

void BM_BuildRtp(benchmark::State& state) {
  std::array<uint8_t, 1500> out{};
  std::array<uint8_t, 100> payload{};
  RtpPacketBuilder builder;
  builder.set_payload_type(111);
  builder.set_ssrc(0x12345678);
  std::array<uint8_t, 1> level = {0x80 | 30};
  builder.AddExtension(1, level);
  uint16_t sequence = 0;
  for (auto _ : state) {
    builder.set_sequence_number(sequence++);
    builder.set_timestamp(sequence * 960u);
    benchmark::DoNotOptimize(builder.Build(payload, out));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildRtp);

void BM_ParseRtcpCompound(benchmark::State& state) {
  // SR with one report block + SDES CNAME + generic NACK (3 numbers) + PLI: 88 bytes.
  std::array<uint8_t, 256> packet{};
  ReportBlock block{.ssrc = 2, .fraction_lost = 3, .cumulative_lost = 10, .jitter = 40};
  size_t n = BuildSr(1, SenderInfo{.ntp_timestamp = 1ull << 40}, std::span(&block, 1), packet);
  const std::array<uint8_t, 6> cname = {'c', 'h', 'o', 'r', 'u', 's'};
  n += BuildSdesCname(1, cname, std::span(packet).subspan(n));
  const std::array<uint16_t, 3> lost = {100, 101, 103};
  n += BuildNack(1, 2, lost, std::span(packet).subspan(n));
  n += BuildPli(1, 2, std::span(packet).subspan(n));
  for (auto _ : state) {
    RtcpInfo info;
    benchmark::DoNotOptimize(ParseRtcp(std::span<const uint8_t>(packet.data(), n), &info));
    benchmark::DoNotOptimize(info.block_count);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseRtcpCompound);

// One Insert and one Pull per iteration: a 20 ms Opus stream with a fixed jitter pattern
// (0..30 ms) and one packet in 50 lost.
void BM_JitterBufferInsertPull(benchmark::State& state) {
  base::FakeClock clock(0);
  JitterBuffer buffer(JitterBufferConfig{}, clock);
  std::array<uint8_t, 1500> packet{};
  const size_t size = MakeAudioPacket(packet);
  RtpPacketView view;
  ParseRtp(std::span<const uint8_t>(packet.data(), size), &view);
  uint32_t n = 0;
  for (auto _ : state) {
    view.sequence_number = static_cast<uint16_t>(n);
    view.timestamp = n * 960;
    const int64_t arrival_us = int64_t{n} * 20'000 + (n * 7919 % 31) * 1000;
    if (n % 50 != 17) {
      benchmark::DoNotOptimize(
          buffer.Insert(view, arrival_us, AudioLevel{.voice_activity = true, .level = 30}));
    }
    clock.SetUs(int64_t{n} * 20'000 + 20'000);
    JitterFrame frame;
    benchmark::DoNotOptimize(buffer.Pull(&frame));
    ++n;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["played"] = static_cast<double>(buffer.stats().played);
  state.counters["target_ms"] = buffer.stats().target_delay_ms;
}
BENCHMARK(BM_JitterBufferInsertPull);

}  // namespace
}  // namespace chorus::rtp
