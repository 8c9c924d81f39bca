// SRTP protect + unprotect of one audio packet (160-byte payload) per suite (items/s = packets/s).
#include <array>
#include <vector>

#include "benchmark/benchmark.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_session.h"

namespace chorus::srtp {
namespace {

void BM_ProtectUnprotect(benchmark::State& state) {
  const auto suite = static_cast<SrtpSuite>(state.range(0));
  state.SetLabel(std::string(SuiteName(suite)));
  SrtpKeyMaterial key = SrtpKeyMaterial::Generate(suite);
  auto sender = *SrtpSession::Create(key, Direction::kOutbound);
  auto receiver = *SrtpSession::Create(key, Direction::kInbound);
  std::vector<uint8_t> payload(160, 7);
  std::array<uint8_t, 1500> buffer;
  uint16_t sequence = 0;
  for (auto _ : state) {
    rtp::RtpHeader header;
    header.sequence_number = sequence++;
    size_t length = rtp::BuildRtp(header, payload, std::span<uint8_t>(buffer.data(), 1400));
    size_t out = 0;
    sender->ProtectRtp(buffer, length, &out);
    receiver->UnprotectRtp(buffer, out, &length);
    benchmark::DoNotOptimize(length);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProtectUnprotect)->DenseRange(0, 2);

}  // namespace
}  // namespace chorus::srtp
