#pragma once

// Hand-built RTP and RTCP packets for the SRTP tests (independent of chorus_rtp on purpose: these
// tests check protection, not parsing).

#include <cstddef>
#include <cstdint>
#include <span>

namespace chorus::srtp::testing {

// Writes an RTP packet (RFC 3550, 5.1) with `payload_bytes` bytes of `fill` into `out`; returns
// its length.
inline size_t WriteRtp(std::span<uint8_t> out, uint8_t payload_type, uint16_t sequence,
                       uint32_t timestamp, uint32_t ssrc, size_t payload_bytes, uint8_t fill) {
  out[0] = 0x80;
  out[1] = payload_type & 0x7f;
  out[2] = static_cast<uint8_t>(sequence >> 8);
  out[3] = static_cast<uint8_t>(sequence);
  for (int i = 0; i < 4; ++i) {
    out[4 + i] = static_cast<uint8_t>(timestamp >> (24 - 8 * i));
    out[8 + i] = static_cast<uint8_t>(ssrc >> (24 - 8 * i));
  }
  for (size_t i = 0; i < payload_bytes; ++i) out[12 + i] = fill;
  return 12 + payload_bytes;
}

// Writes an RTCP receiver report without report blocks (RFC 3550, 6.4.2): 8 bytes.
inline size_t WriteRtcpReceiverReport(std::span<uint8_t> out, uint32_t ssrc) {
  out[0] = 0x80;
  out[1] = 201;
  out[2] = 0;
  out[3] = 1;
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<uint8_t>(ssrc >> (24 - 8 * i));
  return 8;
}

}  // namespace chorus::srtp::testing
