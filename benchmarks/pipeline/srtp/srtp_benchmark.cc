// SRTP cost per packet: protect and unprotect of one RTP packet with a 160-byte payload (20 ms of
// G.711, about that of Opus) and a 1200-byte payload (a video packet), for each suite.
// items/s = packets/s; bytes/s counts payload bytes.
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"
#include "pipeline/srtp/srtp_suite.h"

namespace chorus::srtp {
namespace {

constexpr size_t kBufferBytes = 1500;

size_t WriteRtp(uint8_t* out, uint16_t sequence, size_t payload_bytes) {
  const uint8_t header[12] = {0x80,
                              111,
                              static_cast<uint8_t>(sequence >> 8),
                              static_cast<uint8_t>(sequence),
                              0,
                              0,
                              0,
                              0,
                              0x12,
                              0x34,
                              0x56,
                              0x78};
  std::memcpy(out, header, sizeof(header));
  std::memset(out + 12, 0x5a, payload_bytes);
  return 12 + payload_bytes;
}

void SetCounters(benchmark::State& state, SrtpSuite suite, size_t payload_bytes) {
  state.SetLabel(std::string(SuiteName(suite)));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(payload_bytes));
}

void BM_ProtectRtp(benchmark::State& state) {
  const auto suite = static_cast<SrtpSuite>(state.range(0));
  const auto payload_bytes = static_cast<size_t>(state.range(1));
  auto sender = *SrtpSession::Create(SrtpKeyMaterial::Generate(suite), Direction::kOutbound);
  std::array<uint8_t, kBufferBytes> buffer{};
  const size_t length = WriteRtp(buffer.data(), 0, payload_bytes);
  uint16_t sequence = 0;
  for (auto _ : state) {
    ++sequence;  // a new index each packet, as a sender does
    buffer[2] = static_cast<uint8_t>(sequence >> 8);
    buffer[3] = static_cast<uint8_t>(sequence);
    size_t out = 0;
    if (sender->ProtectRtp(buffer, length, &out) != SrtpResult::kOk) {
      state.SkipWithError("protect failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
  SetCounters(state, suite, payload_bytes);
}

void BM_UnprotectRtp(benchmark::State& state) {
  const auto suite = static_cast<SrtpSuite>(state.range(0));
  const auto payload_bytes = static_cast<size_t>(state.range(1));
  const SrtpKeyMaterial key = SrtpKeyMaterial::Generate(suite);
  auto sender = *SrtpSession::Create(key, Direction::kOutbound);
  auto receiver = *SrtpSession::Create(key, Direction::kInbound);
  // Protected packets prepared ahead in batches (outside the timing), since each index can be
  // unprotected only once; the loop copies one into the receive buffer and unprotects it.
  constexpr size_t kBatch = 2048;
  std::vector<std::array<uint8_t, kBufferBytes>> batch(kBatch);
  std::vector<size_t> lengths(kBatch);
  uint16_t sequence = 0;
  auto refill = [&] {
    for (size_t i = 0; i < kBatch; ++i) {
      const size_t length = WriteRtp(batch[i].data(), sequence++, payload_bytes);
      sender->ProtectRtp(batch[i], length, &lengths[i]);
    }
  };
  refill();
  std::array<uint8_t, kBufferBytes> buffer{};
  size_t next = 0;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      refill();
      next = 0;
      state.ResumeTiming();
    }
    std::memcpy(buffer.data(), batch[next].data(), lengths[next]);
    size_t out = 0;
    if (receiver->UnprotectRtp(buffer, lengths[next], &out) != SrtpResult::kOk) {
      state.SkipWithError("unprotect failed");
      break;
    }
    ++next;
    benchmark::DoNotOptimize(out);
  }
  SetCounters(state, suite, payload_bytes);
}

// A lecture's protections: each listener has its own key, so 1,000 contexts take turns and each
// packet finds its context out of the nearest caches. One 120-byte packet (an Opus frame with its
// header) per listener in turn, each in the listener's own buffer, as a server's tick sends them.
void BM_ProtectRtpThousandListeners(benchmark::State& state) {
  const auto suite = static_cast<SrtpSuite>(state.range(0));
  constexpr size_t kListeners = 1000;
  constexpr size_t kPayloadBytes = 108;
  std::vector<std::unique_ptr<SrtpSession>> senders;
  for (size_t i = 0; i < kListeners; ++i) {
    senders.push_back(*SrtpSession::Create(SrtpKeyMaterial::Generate(suite), Direction::kOutbound));
  }
  std::vector<std::array<uint8_t, kBufferBytes>> buffers(kListeners);
  uint16_t sequence = 0;
  size_t next = 0;
  for (auto _ : state) {
    if (next == kListeners) {
      next = 0;
      ++sequence;
    }
    const size_t length = WriteRtp(buffers[next].data(), sequence, kPayloadBytes);
    size_t out = 0;
    if (senders[next]->ProtectRtp(buffers[next], length, &out) != SrtpResult::kOk) {
      state.SkipWithError("protect failed");
      break;
    }
    benchmark::DoNotOptimize(out);
    ++next;
  }
  SetCounters(state, suite, kPayloadBytes);
}

void SuitesAndSizes(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgNames({"suite", "payload"});
  for (int suite = 0; suite <= 2; ++suite) {
    for (int payload : {160, 1200}) benchmark->Args({suite, payload});
  }
}

BENCHMARK(BM_ProtectRtp)->Apply(SuitesAndSizes);
BENCHMARK(BM_UnprotectRtp)->Apply(SuitesAndSizes);
BENCHMARK(BM_ProtectRtpThousandListeners)->ArgName("suite")->DenseRange(0, 2);

}  // namespace
}  // namespace chorus::srtp
