#include "pipeline/rtp/rtp_packet.h"

#include <algorithm>

#include "pipeline/rtp/byte_io.h"

namespace chorus::rtp {
namespace {

using internal::Read16;
using internal::Read32;
using internal::Write16;
using internal::Write32;

constexpr size_t kFixedHeader = 12;

enum class Step : uint8_t { kElement, kEnd, kMalformed };

// One step of an RFC 8285 walk from `*offset`: skips padding, then reads one element.
Step NextElement(uint16_t profile, std::span<const uint8_t> data, size_t* offset,
                 RtpExtension* out) {
  const size_t size = data.size();
  size_t i = *offset;
  if (profile == kOneByteExtensionProfile) {
    while (i < size && data[i] == 0) ++i;  // padding
    if (i >= size) {
      *offset = size;
      return Step::kEnd;
    }
    const uint8_t id = data[i] >> 4;
    if (id == 15) {  // RFC 8285 section 4.2: stop processing here
      *offset = size;
      return Step::kEnd;
    }
    const size_t length = (data[i] & 0x0f) + 1u;
    if (length > size - i - 1) return Step::kMalformed;
    out->id = id;
    out->data = data.subspan(i + 1, length);
    *offset = i + 1 + length;
    return Step::kElement;
  }
  if (IsTwoByteProfile(profile)) {
    while (i < size && data[i] == 0) ++i;  // padding
    if (i >= size) {
      *offset = size;
      return Step::kEnd;
    }
    if (size - i < 2) return Step::kMalformed;
    const size_t length = data[i + 1];
    if (length > size - i - 2) return Step::kMalformed;
    out->id = data[i];
    out->data = data.subspan(i + 2, length);
    *offset = i + 2 + length;
    return Step::kElement;
  }
  return Step::kEnd;  // not RFC 8285: nothing to walk
}

}  // namespace

const char* RtpParseResultName(RtpParseResult result) {
  switch (result) {
    case RtpParseResult::kOk:
      return "ok";
    case RtpParseResult::kTooShort:
      return "too_short";
    case RtpParseResult::kBadVersion:
      return "bad_version";
    case RtpParseResult::kBadPadding:
      return "bad_padding";
    case RtpParseResult::kBadCsrcCount:
      return "bad_csrc_count";
    case RtpParseResult::kBadExtension:
      return "bad_extension";
    case RtpParseResult::kEmptyPayload:
      return "empty_payload";
  }
  return "unknown";
}

bool RtpExtensionIterator::Next(RtpExtension* out) {
  if (offset_ >= data_.size()) return false;
  if (NextElement(profile_, data_, &offset_, out) == Step::kElement) return true;
  offset_ = data_.size();
  return false;
}

uint32_t RtpPacketView::csrc(size_t index) const {
  if (index >= csrcs.size() / 4) return 0;
  return Read32(csrcs.data() + 4 * index);
}

std::span<const uint8_t> RtpPacketView::FindExtension(uint8_t id) const {
  RtpExtensionIterator it = Extensions();
  RtpExtension element;
  while (it.Next(&element)) {
    if (element.id == id) return element.data;
  }
  return {};
}

RtpParseResult ParseRtp(std::span<const uint8_t> packet, RtpPacketView* out) {
  if (packet.size() < kFixedHeader) return RtpParseResult::kTooShort;
  const uint8_t* p = packet.data();
  if ((p[0] >> 6) != 2) return RtpParseResult::kBadVersion;
  const bool padding = (p[0] & 0x20) != 0;
  const bool extension = (p[0] & 0x10) != 0;
  const uint8_t csrc_count = p[0] & 0x0f;
  size_t offset = kFixedHeader + 4u * csrc_count;
  if (packet.size() < offset) return RtpParseResult::kBadCsrcCount;

  RtpPacketView view;
  view.marker = (p[1] & 0x80) != 0;
  view.payload_type = p[1] & 0x7f;
  view.sequence_number = Read16(p + 2);
  view.timestamp = Read32(p + 4);
  view.ssrc = Read32(p + 8);
  view.csrc_count = csrc_count;
  view.csrcs = packet.subspan(kFixedHeader, 4u * csrc_count);
  if (extension) {
    if (packet.size() - offset < 4) return RtpParseResult::kBadExtension;
    view.has_extension = true;
    view.extension_profile = Read16(p + offset);
    const size_t bytes = 4u * Read16(p + offset + 2);
    if (packet.size() - offset - 4 < bytes) return RtpParseResult::kBadExtension;
    view.extension_data = packet.subspan(offset + 4, bytes);
    offset += 4 + bytes;
    size_t walk = 0;
    RtpExtension element;
    Step step;
    while ((step = NextElement(view.extension_profile, view.extension_data, &walk, &element)) ==
           Step::kElement) {
    }
    if (step == Step::kMalformed) return RtpParseResult::kBadExtension;
  }
  size_t end = packet.size();
  if (padding) {
    const uint8_t count = p[end - 1];
    if (count == 0 || count > end - offset) return RtpParseResult::kBadPadding;
    end -= count;
    view.padding_size = count;
  }
  if (end == offset) return RtpParseResult::kEmptyPayload;
  view.payload = packet.subspan(offset, end - offset);
  *out = view;
  return RtpParseResult::kOk;
}

bool IsRtcp(std::span<const uint8_t> packet) {
  if (packet.size() < 8) return false;
  return (packet[0] >> 6) == 2 && packet[1] >= 192 && packet[1] <= 223;
}

bool LooksLikeRtp(std::span<const uint8_t> packet) {
  if (packet.size() < kFixedHeader) return false;
  return (packet[0] >> 6) == 2 && !(packet[1] >= 192 && packet[1] <= 223);
}

bool RtpPacketBuilder::AddCsrc(uint32_t csrc) {
  if (csrc_count_ == kMaxCsrcs) return false;
  csrcs_[csrc_count_++] = csrc;
  return true;
}

bool RtpPacketBuilder::AddExtension(uint8_t id, std::span<const uint8_t> data) {
  if (id == 0 || data.size() > 255 || extension_count_ == kMaxExtensions) return false;
  extensions_[extension_count_++] = RtpExtension{.id = id, .data = data};
  return true;
}

void RtpPacketBuilder::ClearCsrcsAndExtensions() {
  csrc_count_ = 0;
  extension_count_ = 0;
}

bool RtpPacketBuilder::OneByteForm() const {
  for (size_t i = 0; i < extension_count_; ++i) {
    const RtpExtension& e = extensions_[i];
    if (e.id > 14 || e.data.empty() || e.data.size() > 16) return false;
  }
  return true;
}

size_t RtpPacketBuilder::ExtensionDataSize() const {
  const size_t per_element = OneByteForm() ? 1 : 2;
  size_t size = 0;
  for (size_t i = 0; i < extension_count_; ++i) size += per_element + extensions_[i].data.size();
  return size;
}

size_t RtpPacketBuilder::Size(size_t payload_size) const {
  size_t size = kFixedHeader + 4 * csrc_count_;
  if (extension_count_ > 0) size += 4 + (ExtensionDataSize() + 3) / 4 * 4;
  return size + payload_size + padding_size_;
}

size_t RtpPacketBuilder::Build(std::span<const uint8_t> payload, std::span<uint8_t> out) const {
  const size_t size = Size(payload.size());
  if (size > out.size()) return 0;
  uint8_t* p = out.data();
  const bool extension = extension_count_ > 0;
  p[0] = static_cast<uint8_t>(0x80 | (padding_size_ > 0 ? 0x20 : 0) | (extension ? 0x10 : 0) |
                              csrc_count_);
  p[1] = static_cast<uint8_t>((marker_ ? 0x80 : 0) | payload_type_);
  Write16(p + 2, sequence_number_);
  Write32(p + 4, timestamp_);
  Write32(p + 8, ssrc_);
  size_t offset = kFixedHeader;
  for (size_t i = 0; i < csrc_count_; ++i, offset += 4) Write32(p + offset, csrcs_[i]);
  if (extension) {
    const bool one_byte = OneByteForm();
    const size_t data_size = ExtensionDataSize();
    const size_t padded = (data_size + 3) / 4 * 4;
    Write16(p + offset, one_byte ? kOneByteExtensionProfile : kTwoByteExtensionProfile);
    Write16(p + offset + 2, static_cast<uint16_t>(padded / 4));
    offset += 4;
    for (size_t i = 0; i < extension_count_; ++i) {
      const RtpExtension& e = extensions_[i];
      if (one_byte) {
        p[offset++] = static_cast<uint8_t>(e.id << 4 | (e.data.size() - 1));
      } else {
        p[offset++] = e.id;
        p[offset++] = static_cast<uint8_t>(e.data.size());
      }
      std::copy(e.data.begin(), e.data.end(), p + offset);
      offset += e.data.size();
    }
    std::fill(p + offset, p + offset + (padded - data_size), uint8_t{0});
    offset += padded - data_size;
  }
  std::copy(payload.begin(), payload.end(), p + offset);
  offset += payload.size();
  if (padding_size_ > 0) {
    std::fill(p + offset, p + offset + padding_size_ - 1, uint8_t{0});
    p[offset + padding_size_ - 1] = padding_size_;
    offset += padding_size_;
  }
  return offset;
}

size_t BuildRtp(const RtpHeader& header, std::span<const uint8_t> payload, std::span<uint8_t> out) {
  RtpPacketBuilder builder;
  builder.set_marker(header.marker);
  builder.set_payload_type(header.payload_type);
  builder.set_sequence_number(header.sequence_number);
  builder.set_timestamp(header.timestamp);
  builder.set_ssrc(header.ssrc);
  std::array<uint8_t, 1> level{};
  if (header.audio_level_id >= 1 && header.audio_level_id <= 14) {
    WriteAudioLevel(
        AudioLevel{.voice_activity = header.voice_activity, .level = header.audio_level}, level);
    builder.AddExtension(header.audio_level_id, level);
  }
  return builder.Build(payload, out);
}

}  // namespace chorus::rtp
