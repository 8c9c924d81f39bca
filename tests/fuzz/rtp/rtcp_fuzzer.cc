// Any datagram through the compound RTCP parser; whatever parses is rebuilt from its fields and
// must parse again.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "pipeline/rtp/rtcp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chorus::rtp;
  RtcpInfo info;
  if (ParseRtcp(std::span<const uint8_t>(data, size), &info) != RtcpParseResult::kOk) return 0;
  if (info.block_count > info.blocks.size() || info.nack_count > info.nack_sequences.size() ||
      info.fir_count > info.fir.size() || info.bye_count > info.bye_ssrcs.size()) {
    std::abort();
  }
  if (!info.cname.empty() &&
      (info.cname.data() < data || info.cname.data() + info.cname.size() > data + size)) {
    std::abort();
  }
  std::array<uint8_t, 4096> out{};
  const std::span<const ReportBlock> blocks(info.blocks.data(), info.block_count);
  size_t n = info.has_sender_report ? BuildSr(info.sender_ssrc,
                                              SenderInfo{.ntp_timestamp = info.ntp_timestamp,
                                                         .rtp_timestamp = info.rtp_timestamp,
                                                         .packet_count = info.sender_packet_count,
                                                         .octet_count = info.sender_octet_count},
                                              blocks, out)
                                    : BuildRr(info.sender_ssrc, blocks, out);
  if (n == 0) std::abort();
  if (info.has_cname && !info.cname.empty()) {
    n += BuildSdesCname(info.cname_ssrc, info.cname, std::span(out).subspan(n));
  }
  if (info.has_nack) {
    n += BuildNack(info.nack_sender_ssrc, info.nack_media_ssrc,
                   std::span<const uint16_t>(info.nack_sequences.data(), info.nack_count),
                   std::span(out).subspan(n));
  }
  if (info.has_pli)
    n += BuildPli(info.pli_sender_ssrc, info.pli_media_ssrc, std::span(out).subspan(n));
  if (info.fir_count > 0) {
    n += BuildFir(info.fir_sender_ssrc, std::span<const FirEntry>(info.fir.data(), info.fir_count),
                  std::span(out).subspan(n));
  }
  if (info.bye_count > 0) {
    n += BuildBye(std::span<const uint32_t>(info.bye_ssrcs.data(), info.bye_count),
                  std::span(out).subspan(n));
  }
  RtcpInfo again;
  if (ParseRtcp(std::span<const uint8_t>(out.data(), n), &again) != RtcpParseResult::kOk ||
      again.block_count != info.block_count || again.has_pli != info.has_pli) {
    std::abort();
  }
  return 0;
}
