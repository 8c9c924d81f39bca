#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace chorus::rtp {

// One RFC 3550 reception report block.
struct ReportBlock {
  uint32_t ssrc = 0;
  uint8_t fraction_lost = 0;         // of 256
  int32_t cumulative_lost = 0;       // 24-bit signed
  uint32_t highest_sequence = 0;     // extended
  uint32_t jitter = 0;               // RTP timestamp units
  uint32_t last_sr = 0;              // middle 32 bits of the NTP time of the last SR
  uint32_t delay_since_last_sr = 0;  // 1/65536 s
};

// What Chorus reads from a compound RTCP packet (RFC 3550 section 6; validity checks of A.2):
// sender info of an SR and up to 8 report blocks. Other packet types are skipped. No allocation.
struct RtcpInfo {
  bool has_sender_report = false;
  uint32_t sender_ssrc = 0;
  uint64_t ntp_timestamp = 0;
  uint32_t rtp_timestamp = 0;
  uint32_t sender_packet_count = 0;
  uint32_t sender_octet_count = 0;
  std::array<ReportBlock, 8> blocks{};
  size_t block_count = 0;
  bool bye = false;
};

enum class RtcpParseResult : uint8_t { kOk, kTooShort, kBadVersion, kBadLength, kBadFirstPacket };

RtcpParseResult ParseRtcp(std::span<const uint8_t> packet, RtcpInfo* out);

// NTP time (RFC 5905: seconds since 1900 in the high 32 bits, fraction in the low) of a Unix time
// in microseconds.
uint64_t NtpFromUnixMicros(int64_t unix_us);

struct SenderReport {
  uint32_t ssrc = 0;
  uint64_t ntp_timestamp = 0;
  uint32_t rtp_timestamp = 0;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;
  // At most one report block (Chorus receives one source per endpoint).
  bool has_block = false;
  ReportBlock block;
};

// Writes an SR (with its optional report block) followed by an SDES CNAME chunk, as RFC 3550
// requires of a compound packet. Returns the size or 0 when `out` is too small.
size_t BuildSenderReport(const SenderReport& report, std::span<const uint8_t> cname,
                         std::span<uint8_t> out);

}  // namespace chorus::rtp
