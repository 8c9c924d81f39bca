#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

// Existing callers read the RFC 6464 level through this header.
#include "pipeline/rtp/audio_level.h"

namespace chorus::rtp {

// Why a datagram is not a valid RTP packet (RFC 3550 section 5.1 and A.1, RFC 8285). The caller
// drops the packet and counts it under RtpParseResultName().
enum class RtpParseResult : uint8_t {
  kOk,
  kTooShort,      // shorter than the 12-byte fixed header
  kBadVersion,    // version is not 2
  kBadPadding,    // P bit set with a padding count of 0 or larger than what follows the header
  kBadCsrcCount,  // the CC field announces more CSRCs than the packet holds
  kBadExtension,  // the extension header or its length runs past the packet, or an RFC 8285
                  // element runs past the extension
  kEmptyPayload,  // no payload left (Chorus carries audio: padding-only packets are dropped)
};

// A short stable name for metrics labels ("too_short", ...).
const char* RtpParseResultName(RtpParseResult result);

// RFC 8285 header extension profiles ("defined by profile" field).
inline constexpr uint16_t kOneByteExtensionProfile = 0xBEDE;
inline constexpr uint16_t kTwoByteExtensionProfile = 0x1000;  // 0x100X: X = appbits
inline constexpr bool IsTwoByteProfile(uint16_t profile) { return (profile & 0xfff0) == 0x1000; }

// One element of an RFC 8285 header extension: its id and data (a view into the packet).
struct RtpExtension {
  uint8_t id = 0;
  std::span<const uint8_t> data;
};

// Walks the elements of an RFC 8285 extension block in order, skipping padding bytes. Stops at
// the end, at an element that would run past the block, and (one-byte form) at id 15, which
// RFC 8285 section 4.2 reserves and tells receivers to stop at. A block with another profile
// (not RFC 8285) yields nothing. No allocation.
class RtpExtensionIterator {
 public:
  RtpExtensionIterator() = default;
  RtpExtensionIterator(uint16_t profile, std::span<const uint8_t> data)
      : profile_(profile), data_(data) {}
  // Fills `out` with the next element; false at the end.
  bool Next(RtpExtension* out);

 private:
  uint16_t profile_ = 0;
  std::span<const uint8_t> data_;
  size_t offset_ = 0;
};

// A parsed RTP packet: views into the caller's buffer, valid while that buffer is. Copyable, no
// allocation.
struct RtpPacketView {
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint8_t csrc_count = 0;
  std::span<const uint8_t> csrcs;  // csrc_count big-endian 32-bit words
  bool has_extension = false;
  uint16_t extension_profile = 0;           // 0 when there is no extension
  std::span<const uint8_t> extension_data;  // after the 4-byte extension header
  std::span<const uint8_t> payload;
  uint8_t padding_size = 0;  // bytes of padding after the payload (including the count byte)

  // CSRC number `index` (< csrc_count).
  uint32_t csrc(size_t index) const;
  // The elements of an RFC 8285 extension (one-byte 0xBEDE or two-byte 0x100X form).
  RtpExtensionIterator Extensions() const {
    return RtpExtensionIterator(extension_profile, extension_data);
  }
  // The data of the first element with `id`; empty when absent (or the extension is not
  // RFC 8285). Note that a two-byte element may legitimately be empty.
  std::span<const uint8_t> FindExtension(uint8_t id) const;
};

// Parses `packet` strictly (RFC 3550 section 5.1; RFC 8285 element layout checked when the
// profile is 0xBEDE or 0x100X). On kOk fills `*out`; otherwise leaves it untouched. Any thread,
// no allocation; never crashes on any input.
RtpParseResult ParseRtp(std::span<const uint8_t> packet, RtpPacketView* out);

// RFC 5761 section 4 demultiplexing of RTP and RTCP on one port: version 2 and a second byte of
// 192..223 (RTCP packet types 192..223, where RTP would have the marker bit set and payload type
// 64..95, which RFC 5761 forbids for RTP on a muxed port). Needs at least 8 bytes (RTCP header
// and SSRC).
bool IsRtcp(std::span<const uint8_t> packet);

// Version 2, at least the fixed header, and not RTCP by the rule above (a cheap test before the
// full parse, for demultiplexing against STUN/DTLS per RFC 7983).
bool LooksLikeRtp(std::span<const uint8_t> packet);

// Writes an RTP packet into a caller's buffer: fixed header, CSRCs, an RFC 8285 extension block
// and the payload. The extension uses the one-byte form (0xBEDE) when every element has an id of
// 1..14 and 1..16 bytes of data, the two-byte form (0x1000) otherwise. Element data is referenced,
// not copied: it must outlive Build(). One per sending stream is fine; no allocation.
class RtpPacketBuilder {
 public:
  static constexpr size_t kMaxCsrcs = 15;
  static constexpr size_t kMaxExtensions = 16;

  void set_marker(bool marker) { marker_ = marker; }
  void set_payload_type(uint8_t payload_type) { payload_type_ = payload_type & 0x7f; }
  void set_sequence_number(uint16_t sequence_number) { sequence_number_ = sequence_number; }
  void set_timestamp(uint32_t timestamp) { timestamp_ = timestamp; }
  void set_ssrc(uint32_t ssrc) { ssrc_ = ssrc; }
  // Padding bytes to append (0 = none; otherwise 1..255 including the count byte).
  void set_padding_size(uint8_t padding_size) { padding_size_ = padding_size; }
  // False when 15 CSRCs are already there.
  bool AddCsrc(uint32_t csrc);
  // False when `id` is 0 (or above 255), `data` longer than 255 bytes, or 16 elements are there.
  bool AddExtension(uint8_t id, std::span<const uint8_t> data);
  // Forgets CSRCs and extensions (header fields stay).
  void ClearCsrcsAndExtensions();

  // Writes the packet; returns its size, or 0 when it does not fit in `out`.
  size_t Build(std::span<const uint8_t> payload, std::span<uint8_t> out) const;
  // Size Build() would write for `payload_size` bytes of payload.
  size_t Size(size_t payload_size) const;

 private:
  bool OneByteForm() const;
  size_t ExtensionDataSize() const;  // elements, before padding to 32 bits

  bool marker_ = false;
  uint8_t payload_type_ = 0;
  uint16_t sequence_number_ = 0;
  uint32_t timestamp_ = 0;
  uint32_t ssrc_ = 0;
  uint8_t padding_size_ = 0;
  std::array<uint32_t, kMaxCsrcs> csrcs_{};
  size_t csrc_count_ = 0;
  std::array<RtpExtension, kMaxExtensions> extensions_{};
  size_t extension_count_ = 0;
};

// The header of the audio packets Chorus sends (existing callers; RtpPacketBuilder does more).
struct RtpHeader {
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  // RFC 6464 audio level to carry with extension id `audio_level_id` (1..14; 0 = none).
  uint8_t audio_level_id = 0;
  bool voice_activity = false;
  uint8_t audio_level = kSilentLevel;  // -dBov, 0..127
};

// Writes header (+ the one-byte audio level extension when asked) + payload into `out`; returns
// the packet size, or 0 when it does not fit.
size_t BuildRtp(const RtpHeader& header, std::span<const uint8_t> payload, std::span<uint8_t> out);

}  // namespace chorus::rtp
