#include "pipeline/rtp/rtcp.h"

#include <algorithm>

namespace chorus::rtp {
namespace {

uint16_t Read16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Read32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
void Write16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Write32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

constexpr uint8_t kSr = 200;
constexpr uint8_t kRr = 201;
constexpr uint8_t kSdes = 202;
constexpr uint8_t kBye = 203;

void ReadBlocks(const uint8_t* p, size_t count, size_t available, RtcpInfo* out) {
  for (size_t i = 0; i < count && (i + 1) * 24 <= available; ++i) {
    if (out->block_count == out->blocks.size()) return;
    const uint8_t* b = p + 24 * i;
    ReportBlock& block = out->blocks[out->block_count++];
    block.ssrc = Read32(b);
    block.fraction_lost = b[4];
    int32_t lost = static_cast<int32_t>(static_cast<uint32_t>(b[5]) << 16 | b[6] << 8 | b[7]);
    if (lost & 0x800000) lost -= 0x1000000;  // sign-extend 24 bits
    block.cumulative_lost = lost;
    block.highest_sequence = Read32(b + 8);
    block.jitter = Read32(b + 12);
    block.last_sr = Read32(b + 16);
    block.delay_since_last_sr = Read32(b + 20);
  }
}

void WriteBlock(uint8_t* b, const ReportBlock& block) {
  Write32(b, block.ssrc);
  b[4] = block.fraction_lost;
  uint32_t lost = static_cast<uint32_t>(std::clamp(block.cumulative_lost, -0x800000, 0x7fffff));
  b[5] = static_cast<uint8_t>(lost >> 16);
  b[6] = static_cast<uint8_t>(lost >> 8);
  b[7] = static_cast<uint8_t>(lost);
  Write32(b + 8, block.highest_sequence);
  Write32(b + 12, block.jitter);
  Write32(b + 16, block.last_sr);
  Write32(b + 20, block.delay_since_last_sr);
}

}  // namespace

RtcpParseResult ParseRtcp(std::span<const uint8_t> packet, RtcpInfo* out) {
  *out = RtcpInfo();
  if (packet.size() < 8) return RtcpParseResult::kTooShort;
  size_t offset = 0;
  bool first = true;
  while (offset < packet.size()) {
    if (packet.size() - offset < 4) return RtcpParseResult::kTooShort;
    const uint8_t* p = packet.data() + offset;
    if ((p[0] >> 6) != 2) return RtcpParseResult::kBadVersion;
    const size_t length = (static_cast<size_t>(Read16(p + 2)) + 1) * 4;
    if (length > packet.size() - offset) return RtcpParseResult::kBadLength;
    const bool padding = p[0] & 0x20;
    const uint8_t type = p[1];
    const uint8_t count = p[0] & 0x1f;
    if (first && type != kSr && type != kRr) return RtcpParseResult::kBadFirstPacket;
    // Padding is allowed only on the last packet of a compound (RFC 3550 A.2).
    if (padding && offset + length != packet.size()) return RtcpParseResult::kBadLength;
    if (type == kSr) {
      if (length < 28) return RtcpParseResult::kBadLength;
      out->has_sender_report = true;
      out->sender_ssrc = Read32(p + 4);
      out->ntp_timestamp = static_cast<uint64_t>(Read32(p + 8)) << 32 | Read32(p + 12);
      out->rtp_timestamp = Read32(p + 16);
      out->sender_packet_count = Read32(p + 20);
      out->sender_octet_count = Read32(p + 24);
      ReadBlocks(p + 28, count, length - 28, out);
    } else if (type == kRr) {
      if (length < 8) return RtcpParseResult::kBadLength;
      out->sender_ssrc = Read32(p + 4);
      ReadBlocks(p + 8, count, length - 8, out);
    } else if (type == kBye) {
      out->bye = true;
    }
    first = false;
    offset += length;
  }
  return RtcpParseResult::kOk;
}

uint64_t NtpFromUnixMicros(int64_t unix_us) {
  constexpr uint64_t kUnixToNtpSeconds = 2208988800ull;
  uint64_t seconds = static_cast<uint64_t>(unix_us / 1'000'000) + kUnixToNtpSeconds;
  uint64_t micros = static_cast<uint64_t>(unix_us % 1'000'000);
  uint64_t fraction = (micros << 32) / 1'000'000;
  return seconds << 32 | fraction;
}

size_t BuildSenderReport(const SenderReport& report, std::span<const uint8_t> cname,
                         std::span<uint8_t> out) {
  const size_t sr_size = 28 + (report.has_block ? 24 : 0);
  // SDES: header 4, SSRC 4, item type+length 2, text, terminating zero(s) to a 32-bit boundary.
  const size_t cname_size = std::min<size_t>(cname.size(), 255);
  const size_t sdes_size = (4 + 4 + 2 + cname_size + 1 + 3) / 4 * 4;
  if (out.size() < sr_size + sdes_size) return 0;
  uint8_t* p = out.data();
  p[0] = static_cast<uint8_t>(0x80 | (report.has_block ? 1 : 0));
  p[1] = kSr;
  Write16(p + 2, static_cast<uint16_t>(sr_size / 4 - 1));
  Write32(p + 4, report.ssrc);
  Write32(p + 8, static_cast<uint32_t>(report.ntp_timestamp >> 32));
  Write32(p + 12, static_cast<uint32_t>(report.ntp_timestamp));
  Write32(p + 16, report.rtp_timestamp);
  Write32(p + 20, report.packet_count);
  Write32(p + 24, report.octet_count);
  if (report.has_block) WriteBlock(p + 28, report.block);
  uint8_t* s = p + sr_size;
  std::fill(s, s + sdes_size, 0);
  s[0] = 0x81;
  s[1] = kSdes;
  Write16(s + 2, static_cast<uint16_t>(sdes_size / 4 - 1));
  Write32(s + 4, report.ssrc);
  s[8] = 1;  // CNAME
  s[9] = static_cast<uint8_t>(cname_size);
  std::copy(cname.begin(), cname.begin() + static_cast<std::ptrdiff_t>(cname_size), s + 10);
  return sr_size + sdes_size;
}

}  // namespace chorus::rtp
