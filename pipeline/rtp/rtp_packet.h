#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace chorus::rtp {

// Why a datagram is not a valid RTP packet (RFC 3550 section 5.1, RFC 8285).
enum class RtpParseResult : uint8_t {
  kOk,
  kTooShort,      // shorter than the fixed header, its CSRCs or its extension
  kBadVersion,    // version is not 2
  kBadPadding,    // padding count 0 or larger than the packet
  kBadExtension,  // extension length runs past the packet
  kEmptyPayload,  // no payload left
};

// A parsed RTP packet: views into the caller's buffer, valid while it is. No allocation.
struct RtpPacketView {
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint8_t csrc_count = 0;
  std::span<const uint8_t> csrcs;  // 4 bytes each
  uint16_t extension_profile = 0;  // 0 when there is no extension
  std::span<const uint8_t> extension_data;
  std::span<const uint8_t> payload;

  // The element with `id` of an RFC 8285 header extension (one-byte 0xBEDE or two-byte 0x100X
  // form); empty when absent or malformed.
  std::span<const uint8_t> FindExtension(uint8_t id) const;
};

RtpParseResult ParseRtp(std::span<const uint8_t> packet, RtpPacketView* out);

// RFC 5761 demultiplexing: RTCP packet types 192..223 sit where RTP has marker + payload type,
// so a second byte in that range is RTCP (payload types 64..95 are never used for RTP).
bool IsRtcp(std::span<const uint8_t> packet);

// What to write into an RTP packet.
struct RtpHeader {
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  // RFC 6464 audio level to carry with extension id `audio_level_id` (1..14; 0 = none).
  uint8_t audio_level_id = 0;
  bool voice_activity = false;
  uint8_t audio_level = 127;  // -dBov, 0..127
};

// Writes header (+ one-byte extension when asked) + payload into `out`; returns the packet size,
// or 0 when it does not fit.
size_t BuildRtp(const RtpHeader& header, std::span<const uint8_t> payload, std::span<uint8_t> out);

// RFC 6464 client-to-mixer audio level element: V bit and level in -dBov. False when malformed.
bool ParseAudioLevel(std::span<const uint8_t> element, bool* voice_activity, uint8_t* level);

// The level of a frame of 16-bit samples as RFC 6464 -dBov (0 = full-scale RMS, 127 = silence).
uint8_t LevelFromSamples(std::span<const int16_t> samples);

}  // namespace chorus::rtp
