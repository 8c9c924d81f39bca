#include "pipeline/rtp/rtcp.h"

#include <algorithm>

#include "pipeline/rtp/byte_io.h"

namespace chorus::rtp {
namespace {

using internal::Read16;
using internal::Read24;
using internal::Read32;
using internal::Write16;
using internal::Write24;
using internal::Write32;

constexpr size_t kHeader = 4;
constexpr size_t kReportBlockSize = 24;
constexpr size_t kSenderInfoSize = 20;
constexpr size_t kFeedbackHeader = 12;  // header + sender SSRC + media SSRC
constexpr uint8_t kFmtNack = 1;
constexpr uint8_t kFmtPli = 1;
constexpr uint8_t kFmtFir = 4;
constexpr uint8_t kFmtAfb = 15;  // application layer feedback: REMB
constexpr uint8_t kSdesCname = 1;

void ReadBlocks(const uint8_t* p, size_t count, RtcpInfo* out) {
  for (size_t i = 0; i < count; ++i) {
    if (out->block_count == out->blocks.size()) {
      out->blocks_truncated = true;
      return;
    }
    const uint8_t* b = p + kReportBlockSize * i;
    ReportBlock& block = out->blocks[out->block_count++];
    block.ssrc = Read32(b);
    block.fraction_lost = b[4];
    const uint32_t lost = Read24(b + 5);
    // Sign-extend the 24-bit field.
    block.cumulative_lost = static_cast<int32_t>(lost) - ((lost & 0x800000) ? 0x1000000 : 0);
    block.highest_sequence = Read32(b + 8);
    block.jitter = Read32(b + 12);
    block.last_sr = Read32(b + 16);
    block.delay_since_last_sr = Read32(b + 20);
  }
}

void WriteBlock(uint8_t* b, const ReportBlock& block) {
  Write32(b, block.ssrc);
  b[4] = block.fraction_lost;
  const int32_t lost = std::clamp(block.cumulative_lost, -0x800000, 0x7fffff);
  Write24(b + 5, static_cast<uint32_t>(lost) & 0xffffff);
  Write32(b + 8, block.highest_sequence);
  Write32(b + 12, block.jitter);
  Write32(b + 16, block.last_sr);
  Write32(b + 20, block.delay_since_last_sr);
}

// Writes the common header: version 2, no padding, `count` in the 5-bit field.
void WriteHeader(uint8_t* p, uint8_t count, uint8_t type, size_t size) {
  p[0] = static_cast<uint8_t>(0x80 | (count & 0x1f));
  p[1] = type;
  Write16(p + 2, static_cast<uint16_t>(size / 4 - 1));
}

RtcpParseResult ParseSdes(std::span<const uint8_t> body, size_t chunks, RtcpInfo* out) {
  size_t pos = kHeader;
  for (size_t c = 0; c < chunks; ++c) {
    if (body.size() - pos < 4) return RtcpParseResult::kBadSdes;
    const uint32_t ssrc = Read32(body.data() + pos);
    pos += 4;
    while (true) {
      if (pos >= body.size()) return RtcpParseResult::kBadSdes;  // no terminating null item
      const uint8_t type = body[pos];
      if (type == 0) {
        pos = (pos + 1 + 3) / 4 * 4;  // null item, then pad the chunk to 32 bits
        if (pos > body.size()) return RtcpParseResult::kBadSdes;
        break;
      }
      if (body.size() - pos < 2) return RtcpParseResult::kBadSdes;
      const size_t length = body[pos + 1];
      if (body.size() - pos - 2 < length) return RtcpParseResult::kBadSdes;
      if (type == kSdesCname && !out->has_cname) {
        out->has_cname = true;
        out->cname_ssrc = ssrc;
        out->cname = body.subspan(pos + 2, length);
      }
      pos += 2 + length;
    }
  }
  return RtcpParseResult::kOk;
}

void ParseNack(std::span<const uint8_t> body, RtcpInfo* out) {
  const uint32_t sender = Read32(body.data() + 4);
  const uint32_t media = Read32(body.data() + 8);
  if (!out->has_nack) {
    out->has_nack = true;
    out->nack_sender_ssrc = sender;
    out->nack_media_ssrc = media;
  } else if (media != out->nack_media_ssrc) {
    out->nack_truncated = true;
    return;
  }
  const size_t entries = (body.size() - kFeedbackHeader) / 4;
  for (size_t i = 0; i < entries; ++i) {
    const uint8_t* e = body.data() + kFeedbackHeader + 4 * i;
    const uint16_t pid = Read16(e);
    const uint16_t blp = Read16(e + 2);
    for (int bit = -1; bit < 16; ++bit) {
      if (bit >= 0 && (blp & (1u << bit)) == 0) continue;
      if (out->nack_count == out->nack_sequences.size()) {
        out->nack_truncated = true;
        return;
      }
      out->nack_sequences[out->nack_count++] = static_cast<uint16_t>(pid + bit + 1);
    }
  }
}

void ParseFir(std::span<const uint8_t> body, RtcpInfo* out) {
  out->fir_sender_ssrc = Read32(body.data() + 4);
  const size_t entries = (body.size() - kFeedbackHeader) / 8;
  for (size_t i = 0; i < entries; ++i) {
    if (out->fir_count == out->fir.size()) {
      out->fir_truncated = true;
      return;
    }
    const uint8_t* e = body.data() + kFeedbackHeader + 8 * i;
    out->fir[out->fir_count++] = FirEntry{.ssrc = Read32(e), .sequence_number = e[4]};
  }
}

// A REMB (draft-alvestrand-rmcat-remb section 2.2) in an application layer feedback packet;
// false when it is another application's (or too short for its SSRC list).
bool ParseRemb(std::span<const uint8_t> body, RtcpInfo* out) {
  if (body.size() < kFeedbackHeader + 8) return false;
  const uint8_t* p = body.data() + kFeedbackHeader;
  if (p[0] != 'R' || p[1] != 'E' || p[2] != 'M' || p[3] != 'B') return false;
  if (body.size() < kFeedbackHeader + 8 + 4 * static_cast<size_t>(p[4])) return false;
  if (out->has_remb) return true;  // the first one counts
  const unsigned exponent = p[5] >> 2;
  const uint64_t mantissa = (static_cast<uint64_t>(p[5] & 0x3) << 16) | Read16(p + 6);
  out->has_remb = true;
  out->remb_sender_ssrc = Read32(body.data() + 4);
  out->remb_bitrate_bps = mantissa == 0 ? 0
                          : exponent > 63 - 18 && (mantissa >> (64 - exponent)) != 0
                              ? UINT64_MAX
                              : mantissa << exponent;
  return true;
}

}  // namespace

const char* RtcpParseResultName(RtcpParseResult result) {
  switch (result) {
    case RtcpParseResult::kOk:
      return "ok";
    case RtcpParseResult::kTooShort:
      return "too_short";
    case RtcpParseResult::kBadVersion:
      return "bad_version";
    case RtcpParseResult::kBadLength:
      return "bad_length";
    case RtcpParseResult::kBadFirstPacket:
      return "bad_first_packet";
    case RtcpParseResult::kBadPadding:
      return "bad_padding";
    case RtcpParseResult::kBadSdes:
      return "bad_sdes";
  }
  return "unknown";
}

RtcpParseResult ParseRtcp(std::span<const uint8_t> packet, RtcpInfo* out) {
  *out = RtcpInfo();
  if (packet.size() < 8) return RtcpParseResult::kTooShort;
  size_t offset = 0;
  bool first = true;
  while (offset < packet.size()) {
    const size_t remaining = packet.size() - offset;
    if (remaining < kHeader) return RtcpParseResult::kBadLength;
    const uint8_t* p = packet.data() + offset;
    if ((p[0] >> 6) != 2) return RtcpParseResult::kBadVersion;
    const size_t length = (static_cast<size_t>(Read16(p + 2)) + 1) * 4;
    if (length > remaining) return RtcpParseResult::kBadLength;
    const bool padding = (p[0] & 0x20) != 0;
    const uint8_t count = p[0] & 0x1f;
    const uint8_t type = p[1];
    const bool last = length == remaining;
    // A compound packet starts with a report (RFC 3550 A.2); a reduced-size one (RFC 5506, which
    // WebRTC negotiates with a=rtcp-rsize) may be feedback alone: a PLI, a NACK, a REMB.
    if (first && type != kRtcpSr && type != kRtcpRr && type != kRtcpRtpfb && type != kRtcpPsfb) {
      return RtcpParseResult::kBadFirstPacket;
    }
    // RFC 3550 A.2: padding only on the last packet, and never on the first.
    if (padding && (first || !last)) return RtcpParseResult::kBadPadding;
    size_t body_size = length;
    if (padding) {
      const uint8_t pad = p[length - 1];
      if (pad == 0 || pad > length - kHeader) return RtcpParseResult::kBadPadding;
      body_size -= pad;
    }
    const std::span<const uint8_t> body(p, body_size);
    switch (type) {
      case kRtcpSr: {
        const size_t needed = kHeader + 4 + kSenderInfoSize + kReportBlockSize * count;
        if (body.size() < needed) return RtcpParseResult::kBadLength;
        if (first) {
          out->has_sender_report = true;
          out->sender_ssrc = Read32(p + 4);
          out->ntp_timestamp = static_cast<uint64_t>(Read32(p + 8)) << 32 | Read32(p + 12);
          out->rtp_timestamp = Read32(p + 16);
          out->sender_packet_count = Read32(p + 20);
          out->sender_octet_count = Read32(p + 24);
        }
        ReadBlocks(p + 28, count, out);
        break;
      }
      case kRtcpRr: {
        if (body.size() < kHeader + 4 + kReportBlockSize * count) {
          return RtcpParseResult::kBadLength;
        }
        if (first) out->sender_ssrc = Read32(p + 4);
        ReadBlocks(p + 8, count, out);
        break;
      }
      case kRtcpSdes: {
        const RtcpParseResult result = ParseSdes(body, count, out);
        if (result != RtcpParseResult::kOk) return result;
        break;
      }
      case kRtcpBye: {
        const size_t ssrcs_end = kHeader + 4u * count;
        if (body.size() < ssrcs_end) return RtcpParseResult::kBadLength;
        // An optional reason: a length byte and text, which must fit.
        if (body.size() > ssrcs_end && body[ssrcs_end] > body.size() - ssrcs_end - 1) {
          return RtcpParseResult::kBadLength;
        }
        out->bye = true;
        for (size_t i = 0; i < count && out->bye_count < out->bye_ssrcs.size(); ++i) {
          out->bye_ssrcs[out->bye_count++] = Read32(p + kHeader + 4 * i);
        }
        break;
      }
      case kRtcpApp:
        if (body.size() < 12) return RtcpParseResult::kBadLength;
        ++out->app_count;
        break;
      case kRtcpRtpfb:
        if (body.size() < kFeedbackHeader) return RtcpParseResult::kBadLength;
        if (count == kFmtNack) {
          ParseNack(body, out);
        } else {
          ++out->skipped_count;
        }
        break;
      case kRtcpPsfb:
        if (body.size() < kFeedbackHeader) return RtcpParseResult::kBadLength;
        if (count == kFmtPli) {
          out->has_pli = true;
          out->pli_sender_ssrc = Read32(p + 4);
          out->pli_media_ssrc = Read32(p + 8);
        } else if (count == kFmtFir) {
          ParseFir(body, out);
        } else if (count == kFmtAfb) {
          if (!ParseRemb(body, out)) ++out->skipped_count;  // another application's
        } else {
          ++out->skipped_count;
        }
        break;
      default:
        ++out->skipped_count;
        break;
    }
    first = false;
    offset += length;
  }
  return RtcpParseResult::kOk;
}

size_t BuildSr(uint32_t ssrc, const SenderInfo& info, std::span<const ReportBlock> blocks,
               std::span<uint8_t> out) {
  if (blocks.size() > 31) return 0;
  const size_t size = kHeader + 4 + kSenderInfoSize + kReportBlockSize * blocks.size();
  if (out.size() < size) return 0;
  uint8_t* p = out.data();
  WriteHeader(p, static_cast<uint8_t>(blocks.size()), kRtcpSr, size);
  Write32(p + 4, ssrc);
  Write32(p + 8, static_cast<uint32_t>(info.ntp_timestamp >> 32));
  Write32(p + 12, static_cast<uint32_t>(info.ntp_timestamp));
  Write32(p + 16, info.rtp_timestamp);
  Write32(p + 20, info.packet_count);
  Write32(p + 24, info.octet_count);
  for (size_t i = 0; i < blocks.size(); ++i) WriteBlock(p + 28 + kReportBlockSize * i, blocks[i]);
  return size;
}

size_t BuildRr(uint32_t ssrc, std::span<const ReportBlock> blocks, std::span<uint8_t> out) {
  if (blocks.size() > 31) return 0;
  const size_t size = kHeader + 4 + kReportBlockSize * blocks.size();
  if (out.size() < size) return 0;
  uint8_t* p = out.data();
  WriteHeader(p, static_cast<uint8_t>(blocks.size()), kRtcpRr, size);
  Write32(p + 4, ssrc);
  for (size_t i = 0; i < blocks.size(); ++i) WriteBlock(p + 8 + kReportBlockSize * i, blocks[i]);
  return size;
}

size_t BuildSdesCname(uint32_t ssrc, std::span<const uint8_t> cname, std::span<uint8_t> out) {
  if (cname.empty() || cname.size() > 255) return 0;
  // Header, SSRC, item type + length + text, then a null item and zeros to a 32-bit boundary.
  const size_t size = (kHeader + 4 + 2 + cname.size() + 1 + 3) / 4 * 4;
  if (out.size() < size) return 0;
  uint8_t* p = out.data();
  std::fill(p, p + size, uint8_t{0});
  WriteHeader(p, 1, kRtcpSdes, size);
  Write32(p + 4, ssrc);
  p[8] = kSdesCname;
  p[9] = static_cast<uint8_t>(cname.size());
  std::copy(cname.begin(), cname.end(), p + 10);
  return size;
}

size_t BuildBye(std::span<const uint32_t> ssrcs, std::span<uint8_t> out) {
  if (ssrcs.empty() || ssrcs.size() > 31) return 0;
  const size_t size = kHeader + 4 * ssrcs.size();
  if (out.size() < size) return 0;
  uint8_t* p = out.data();
  WriteHeader(p, static_cast<uint8_t>(ssrcs.size()), kRtcpBye, size);
  for (size_t i = 0; i < ssrcs.size(); ++i) Write32(p + kHeader + 4 * i, ssrcs[i]);
  return size;
}

size_t BuildNack(uint32_t sender_ssrc, uint32_t media_ssrc, std::span<const uint16_t> sequences,
                 std::span<uint8_t> out) {
  if (sequences.empty() || out.size() < kFeedbackHeader + 4) return 0;
  uint8_t* p = out.data();
  size_t offset = kFeedbackHeader;
  size_t i = 0;
  while (i < sequences.size()) {
    if (out.size() - offset < 4) return 0;
    const uint16_t pid = sequences[i++];
    uint16_t blp = 0;
    while (i < sequences.size()) {
      const uint16_t distance = static_cast<uint16_t>(sequences[i] - pid);
      if (distance == 0) {  // a repeat of the PID
        ++i;
        continue;
      }
      if (distance > 16) break;
      blp = static_cast<uint16_t>(blp | 1u << (distance - 1));
      ++i;
    }
    Write16(p + offset, pid);
    Write16(p + offset + 2, blp);
    offset += 4;
  }
  if (offset / 4 - 1 > 0xffff) return 0;
  WriteHeader(p, kFmtNack, kRtcpRtpfb, offset);
  Write32(p + 4, sender_ssrc);
  Write32(p + 8, media_ssrc);
  return offset;
}

size_t BuildPli(uint32_t sender_ssrc, uint32_t media_ssrc, std::span<uint8_t> out) {
  if (out.size() < kFeedbackHeader) return 0;
  uint8_t* p = out.data();
  WriteHeader(p, kFmtPli, kRtcpPsfb, kFeedbackHeader);
  Write32(p + 4, sender_ssrc);
  Write32(p + 8, media_ssrc);
  return kFeedbackHeader;
}

size_t BuildRemb(uint32_t sender_ssrc, uint64_t bitrate_bps, std::span<const uint32_t> media_ssrcs,
                 std::span<uint8_t> out) {
  if (media_ssrcs.empty() || media_ssrcs.size() > 255) return 0;
  const size_t size = kFeedbackHeader + 8 + 4 * media_ssrcs.size();
  if (out.size() < size) return 0;
  uint8_t exponent = 0;
  uint64_t mantissa = bitrate_bps;
  while (mantissa > 0x3ffff) {
    mantissa >>= 1;
    ++exponent;
  }
  uint8_t* p = out.data();
  WriteHeader(p, 15, kRtcpPsfb, size);
  Write32(p + 4, sender_ssrc);
  Write32(p + 8, 0);  // the media source is named in the FCI
  p[12] = 'R';
  p[13] = 'E';
  p[14] = 'M';
  p[15] = 'B';
  p[16] = static_cast<uint8_t>(media_ssrcs.size());
  p[17] = static_cast<uint8_t>((exponent << 2) | ((mantissa >> 16) & 0x3));
  p[18] = static_cast<uint8_t>((mantissa >> 8) & 0xff);
  p[19] = static_cast<uint8_t>(mantissa & 0xff);
  for (size_t i = 0; i < media_ssrcs.size(); ++i) Write32(p + 20 + 4 * i, media_ssrcs[i]);
  return size;
}

size_t BuildFir(uint32_t sender_ssrc, std::span<const FirEntry> entries, std::span<uint8_t> out) {
  if (entries.empty()) return 0;
  const size_t size = kFeedbackHeader + 8 * entries.size();
  if (out.size() < size || size / 4 - 1 > 0xffff) return 0;
  uint8_t* p = out.data();
  WriteHeader(p, kFmtFir, kRtcpPsfb, size);
  Write32(p + 4, sender_ssrc);
  Write32(p + 8, 0);  // RFC 5104 section 4.3.1.2: the media source SSRC field is unused
  for (size_t i = 0; i < entries.size(); ++i) {
    uint8_t* e = p + kFeedbackHeader + 8 * i;
    Write32(e, entries[i].ssrc);
    e[4] = entries[i].sequence_number;
    e[5] = e[6] = e[7] = 0;
  }
  return size;
}

uint64_t NtpFromUnixMicros(int64_t unix_us) {
  constexpr uint64_t kUnixToNtpSeconds = 2208988800ull;
  const uint64_t seconds = static_cast<uint64_t>(unix_us / 1'000'000) + kUnixToNtpSeconds;
  const uint64_t micros = static_cast<uint64_t>(unix_us % 1'000'000);
  const uint64_t fraction = (micros << 32) / 1'000'000;
  return seconds << 32 | fraction;
}

uint32_t CompactNtpFromMicros(int64_t duration_us) {
  if (duration_us <= 0) return 0;
  const int64_t units =
      duration_us / 1'000'000 * 65536 + duration_us % 1'000'000 * 65536 / 1'000'000;
  return units > 0xffffffffll ? 0xffffffffu : static_cast<uint32_t>(units);
}

int64_t MicrosFromCompactNtp(uint32_t compact) {
  return static_cast<int64_t>(compact >> 16) * 1'000'000 +
         (static_cast<int64_t>(compact & 0xffff) * 1'000'000 + 32768) / 65536;
}

int64_t RoundTripMicros(uint32_t arrival_compact_ntp, uint32_t last_sr,
                        uint32_t delay_since_last_sr) {
  if (last_sr == 0) return -1;
  const uint32_t rtt = arrival_compact_ntp - last_sr - delay_since_last_sr;
  // A negative result (clock skew, a bogus report) wraps to a huge value: report it as 0.
  if (rtt > 0x80000000u) return 0;
  return MicrosFromCompactNtp(rtt);
}

size_t BuildSenderReport(const SenderReport& report, std::span<const uint8_t> cname,
                         std::span<uint8_t> out) {
  const SenderInfo info{.ntp_timestamp = report.ntp_timestamp,
                        .rtp_timestamp = report.rtp_timestamp,
                        .packet_count = report.packet_count,
                        .octet_count = report.octet_count};
  const size_t sr = BuildSr(report.ssrc, info,
                            report.has_block ? std::span<const ReportBlock>(&report.block, 1)
                                             : std::span<const ReportBlock>(),
                            out);
  if (sr == 0) return 0;
  const size_t sdes = BuildSdesCname(report.ssrc, cname.first(std::min<size_t>(cname.size(), 255)),
                                     out.subspan(sr));
  if (sdes == 0) return 0;
  return sr + sdes;
}

}  // namespace chorus::rtp
