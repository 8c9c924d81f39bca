#include "pipeline/rtp/rtp_packet.h"

#include <algorithm>
#include <cmath>

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

constexpr size_t kFixedHeader = 12;

}  // namespace

RtpParseResult ParseRtp(std::span<const uint8_t> packet, RtpPacketView* out) {
  if (packet.size() < kFixedHeader) return RtpParseResult::kTooShort;
  const uint8_t* p = packet.data();
  if ((p[0] >> 6) != 2) return RtpParseResult::kBadVersion;
  const bool padding = p[0] & 0x20;
  const bool extension = p[0] & 0x10;
  const uint8_t csrc_count = p[0] & 0x0f;
  size_t offset = kFixedHeader + 4u * csrc_count;
  if (packet.size() < offset) return RtpParseResult::kTooShort;
  RtpPacketView view;
  view.marker = p[1] & 0x80;
  view.payload_type = p[1] & 0x7f;
  view.sequence_number = Read16(p + 2);
  view.timestamp = Read32(p + 4);
  view.ssrc = Read32(p + 8);
  view.csrc_count = csrc_count;
  view.csrcs = packet.subspan(kFixedHeader, 4u * csrc_count);
  if (extension) {
    if (packet.size() < offset + 4) return RtpParseResult::kTooShort;
    view.extension_profile = Read16(p + offset);
    size_t words = Read16(p + offset + 2);
    if (packet.size() < offset + 4 + 4 * words) return RtpParseResult::kBadExtension;
    view.extension_data = packet.subspan(offset + 4, 4 * words);
    offset += 4 + 4 * words;
  }
  size_t end = packet.size();
  if (padding) {
    uint8_t count = p[end - 1];
    if (count == 0 || count > end - offset) return RtpParseResult::kBadPadding;
    end -= count;
  }
  if (end <= offset) return RtpParseResult::kEmptyPayload;
  view.payload = packet.subspan(offset, end - offset);
  *out = view;
  return RtpParseResult::kOk;
}

std::span<const uint8_t> RtpPacketView::FindExtension(uint8_t id) const {
  const uint8_t* p = extension_data.data();
  const size_t size = extension_data.size();
  size_t i = 0;
  if (extension_profile == 0xBEDE) {  // RFC 8285 one-byte header
    while (i < size) {
      if (p[i] == 0) {  // padding
        ++i;
        continue;
      }
      uint8_t element_id = p[i] >> 4;
      size_t length = (p[i] & 0x0f) + 1u;
      if (element_id == 15) break;  // reserved: stop parsing
      if (i + 1 + length > size) break;
      if (element_id == id) return extension_data.subspan(i + 1, length);
      i += 1 + length;
    }
  } else if ((extension_profile & 0xfff0) == 0x1000) {  // RFC 8285 two-byte header
    while (i < size) {
      if (p[i] == 0) {
        ++i;
        continue;
      }
      if (i + 2 > size) break;
      uint8_t element_id = p[i];
      size_t length = p[i + 1];
      if (i + 2 + length > size) break;
      if (element_id == id) return extension_data.subspan(i + 2, length);
      i += 2 + length;
    }
  }
  return {};
}

bool IsRtcp(std::span<const uint8_t> packet) {
  if (packet.size() < 2) return false;
  return packet[1] >= 192 && packet[1] <= 223;
}

size_t BuildRtp(const RtpHeader& header, std::span<const uint8_t> payload, std::span<uint8_t> out) {
  const bool extension = header.audio_level_id >= 1 && header.audio_level_id <= 14;
  const size_t header_size = kFixedHeader + (extension ? 8 : 0);
  const size_t size = header_size + payload.size();
  if (size > out.size()) return 0;
  uint8_t* p = out.data();
  p[0] = 0x80 | (extension ? 0x10 : 0);
  p[1] = static_cast<uint8_t>((header.marker ? 0x80 : 0) | (header.payload_type & 0x7f));
  Write16(p + 2, header.sequence_number);
  Write32(p + 4, header.timestamp);
  Write32(p + 8, header.ssrc);
  if (extension) {
    Write16(p + 12, 0xBEDE);
    Write16(p + 14, 1);                                        // one 32-bit word
    p[16] = static_cast<uint8_t>(header.audio_level_id << 4);  // length field 0 = one byte
    p[17] = static_cast<uint8_t>((header.voice_activity ? 0x80 : 0) | (header.audio_level & 0x7f));
    p[18] = 0;
    p[19] = 0;
  }
  std::copy(payload.begin(), payload.end(), p + header_size);
  return size;
}

bool ParseAudioLevel(std::span<const uint8_t> element, bool* voice_activity, uint8_t* level) {
  if (element.empty()) return false;
  *voice_activity = element[0] & 0x80;
  *level = element[0] & 0x7f;
  return true;
}

uint8_t LevelFromSamples(std::span<const int16_t> samples) {
  if (samples.empty()) return 127;
  double sum = 0;
  for (int16_t s : samples) sum += static_cast<double>(s) * s;
  double rms = std::sqrt(sum / static_cast<double>(samples.size())) / 32768.0;
  if (rms <= 0) return 127;
  double dbov = -20.0 * std::log10(rms);
  return static_cast<uint8_t>(std::clamp(dbov, 0.0, 127.0));
}

}  // namespace chorus::rtp
