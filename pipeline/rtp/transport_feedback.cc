#include "pipeline/rtp/transport_feedback.h"

#include <algorithm>

#include "pipeline/rtp/byte_io.h"
#include "pipeline/rtp/rtcp.h"
#include "pipeline/rtp/rtp_packet.h"

namespace chorus::rtp {
namespace {

using internal::Read16;
using internal::Read24;
using internal::Read32;
using internal::Write16;
using internal::Write24;
using internal::Write32;

// Header, sender and media SSRCs, base sequence number, status count, reference time, count.
constexpr size_t kFixedSize = 20;
constexpr int64_t kTicksPerReference = kTransportFeedbackReferenceUs / kTransportFeedbackDeltaUs;
constexpr uint16_t kMaxRun = 0x1fff;

// Status symbols, as the 2-bit form writes them.
constexpr uint8_t kNotReceived = 0;
constexpr uint8_t kSmallDelta = 1;
constexpr uint8_t kLargeDelta = 2;
constexpr uint8_t kReserved = 3;

// Division rounding towards minus infinity (arrival times may be on any time line).
int64_t FloorDiv(int64_t value, int64_t divisor) {
  const int64_t quotient = value / divisor;
  return (value % divisor != 0 && value < 0) ? quotient - 1 : quotient;
}

size_t RoundUp4(size_t size) { return (size + 3) & ~size_t{3}; }

}  // namespace

std::optional<uint16_t> ReadTransportSequenceNumber(std::span<const uint8_t> rtp, uint8_t id) {
  if (rtp.size() < 12 || (rtp[0] >> 6) != 2 || (rtp[0] & 0x10) == 0 || id == 0) {
    return std::nullopt;
  }
  const size_t header = 12 + 4 * static_cast<size_t>(rtp[0] & 0x0f);
  if (rtp.size() < header + 4) return std::nullopt;
  const uint16_t profile = Read16(rtp.data() + header);
  const size_t length = 4 * static_cast<size_t>(Read16(rtp.data() + header + 2));
  if (rtp.size() - header - 4 < length) return std::nullopt;
  RtpExtensionIterator elements(profile, rtp.subspan(header + 4, length));
  RtpExtension element;
  while (elements.Next(&element)) {
    if (element.id != id) continue;
    if (element.data.size() < 2) return std::nullopt;
    return Read16(element.data.data());
  }
  return std::nullopt;
}

const char* TransportFeedbackParseResultName(TransportFeedbackParseResult result) {
  switch (result) {
    case TransportFeedbackParseResult::kOk:
      return "ok";
    case TransportFeedbackParseResult::kTooShort:
      return "too_short";
    case TransportFeedbackParseResult::kNotFeedback:
      return "not_feedback";
    case TransportFeedbackParseResult::kBadPadding:
      return "bad_padding";
    case TransportFeedbackParseResult::kEmpty:
      return "empty";
    case TransportFeedbackParseResult::kBadChunk:
      return "bad_chunk";
    case TransportFeedbackParseResult::kMissingDelta:
      return "missing_delta";
    case TransportFeedbackParseResult::kTrailingBytes:
      return "trailing_bytes";
    case TransportFeedbackParseResult::kTooMany:
      return "too_many";
  }
  return "unknown";
}

TransportFeedbackParseResult ParseTransportFeedback(std::span<const uint8_t> packet,
                                                    TransportFeedbackHeader* header,
                                                    std::span<TransportFeedbackStatus> statuses) {
  using Result = TransportFeedbackParseResult;
  if (packet.size() < 4) return Result::kTooShort;
  const uint8_t* p = packet.data();
  if ((p[0] >> 6) != 2 || p[1] != kRtcpRtpfb || (p[0] & 0x1f) != kTransportFeedbackFmt) {
    return Result::kNotFeedback;
  }
  const size_t length = (static_cast<size_t>(Read16(p + 2)) + 1) * 4;
  if (length > packet.size() || length < kFixedSize) return Result::kTooShort;
  size_t end = length;
  if ((p[0] & 0x20) != 0) {
    const uint8_t pad = p[length - 1];
    if (pad == 0 || pad > length - kFixedSize) return Result::kBadPadding;
    end -= pad;
  }
  TransportFeedbackHeader parsed;
  parsed.sender_ssrc = Read32(p + 4);
  parsed.media_ssrc = Read32(p + 8);
  parsed.base_sequence = Read16(p + 12);
  parsed.status_count = Read16(p + 14);
  const uint32_t reference = Read24(p + 16);
  parsed.reference_time =
      static_cast<int32_t>(reference) - ((reference & 0x800000) != 0 ? 0x1000000 : 0);
  parsed.feedback_count = p[19];
  const size_t count = parsed.status_count;
  if (count == 0) return Result::kEmpty;
  if (count > statuses.size()) return Result::kTooMany;

  // The chunks: each status's symbol, kept in arrival_us until the deltas are read.
  size_t pos = kFixedSize;
  size_t decoded = 0;
  auto put = [&](uint8_t symbol) {
    TransportFeedbackStatus& status = statuses[decoded];
    status.sequence = static_cast<uint16_t>(parsed.base_sequence + decoded);
    status.received = symbol != kNotReceived;
    status.arrival_us = symbol;
    ++decoded;
  };
  while (decoded < count) {
    if (end - pos < 2) return Result::kBadChunk;
    const uint16_t chunk = Read16(p + pos);
    pos += 2;
    if ((chunk & 0x8000) == 0) {  // run length
      const auto symbol = static_cast<uint8_t>((chunk >> 13) & 0x3);
      const size_t run = chunk & kMaxRun;
      if (symbol == kReserved || run == 0 || run > count - decoded) return Result::kBadChunk;
      for (size_t i = 0; i < run; ++i) put(symbol);
    } else if ((chunk & 0x4000) == 0) {  // fourteen 1-bit symbols
      for (int i = 0; i < 14 && decoded < count; ++i) {
        put(static_cast<uint8_t>((chunk >> (13 - i)) & 0x1));
      }
    } else {  // seven 2-bit symbols
      for (int i = 0; i < 7 && decoded < count; ++i) {
        const auto symbol = static_cast<uint8_t>((chunk >> (12 - 2 * i)) & 0x3);
        if (symbol == kReserved) return Result::kBadChunk;
        put(symbol);
      }
    }
  }
  // The deltas, in 250 us ticks from the reference time.
  int64_t ticks = static_cast<int64_t>(parsed.reference_time) * kTicksPerReference;
  for (size_t i = 0; i < count; ++i) {
    TransportFeedbackStatus& status = statuses[i];
    if (!status.received) {
      status.arrival_us = 0;
      continue;
    }
    if (status.arrival_us == kSmallDelta) {
      if (end - pos < 1) return Result::kMissingDelta;
      ticks += p[pos];
      pos += 1;
    } else {
      if (end - pos < 2) return Result::kMissingDelta;
      ticks += static_cast<int16_t>(Read16(p + pos));
      pos += 2;
    }
    status.arrival_us = ticks * kTransportFeedbackDeltaUs;
  }
  if (end - pos > 3) return Result::kTrailingBytes;
  *header = parsed;
  return Result::kOk;
}

// ----- Builder -----

TransportFeedbackBuilder::TransportFeedbackBuilder()
    : symbols_(kMaxStatuses), deltas_(kMaxStatuses) {}

void TransportFeedbackBuilder::Reset(uint32_t sender_ssrc, uint32_t media_ssrc,
                                     uint16_t base_sequence, uint8_t feedback_count,
                                     int64_t fallback_reference_us) {
  sender_ssrc_ = sender_ssrc;
  media_ssrc_ = media_ssrc;
  base_sequence_ = base_sequence;
  feedback_count_ = feedback_count;
  fallback_reference_us_ = fallback_reference_us;
  have_reference_ = false;
  reference_ = 0;
  last_ticks_ = 0;
  count_ = 0;
  delta_bytes_ = 0;
}

size_t TransportFeedbackBuilder::WorstSizeWith(size_t delta_bytes) const {
  const size_t statuses = count_ + 1;
  return RoundUp4(kFixedSize + 2 * ((statuses + 6) / 7) + delta_bytes_ + delta_bytes);
}

bool TransportFeedbackBuilder::AddReceived(int64_t arrival_us) {
  if (count_ == kMaxStatuses) return false;
  const int64_t ticks = FloorDiv(arrival_us, kTransportFeedbackDeltaUs);
  const int64_t reference =
      have_reference_ ? reference_ : FloorDiv(arrival_us, kTransportFeedbackReferenceUs);
  const int64_t previous = have_reference_ ? last_ticks_ : reference * kTicksPerReference;
  const int64_t delta = ticks - previous;
  if (delta < INT16_MIN || delta > INT16_MAX) return false;
  const bool small = delta >= 0 && delta <= 0xff;
  const size_t bytes = small ? 1 : 2;
  if (WorstSizeWith(bytes) > kMaxBytes) return false;
  have_reference_ = true;
  reference_ = reference;
  last_ticks_ = ticks;
  symbols_[count_] = small ? kSmallDelta : kLargeDelta;
  deltas_[count_] = static_cast<int16_t>(delta);
  ++count_;
  delta_bytes_ += bytes;
  return true;
}

bool TransportFeedbackBuilder::AddLost() {
  if (count_ == kMaxStatuses || WorstSizeWith(0) > kMaxBytes) return false;
  symbols_[count_] = kNotReceived;
  deltas_[count_] = 0;
  ++count_;
  return true;
}

size_t TransportFeedbackBuilder::WriteChunks(uint8_t* p) const {
  // Greedy: a run of 14 or more equal symbols (or the identical rest) as one run-length chunk;
  // otherwise a vector of fourteen 1-bit symbols when the next ones are all "not received" or
  // "small delta", else of seven 2-bit symbols. Every chunk but the last covers at least seven
  // statuses (WorstSizeWith() counts on it); a last vector may describe fewer than it holds:
  // the status count says where they end.
  size_t written = 0;
  size_t i = 0;
  while (i < count_) {
    const uint8_t symbol = symbols_[i];
    size_t run = 1;
    while (i + run < count_ && symbols_[i + run] == symbol && run < kMaxRun) ++run;
    uint16_t chunk = 0;
    if (run >= 14 || i + run == count_) {
      chunk = static_cast<uint16_t>(symbol << 13 | run);
      i += run;
    } else {
      const size_t wide = std::min<size_t>(14, count_ - i);
      bool one_bit = true;
      for (size_t j = 0; j < wide; ++j) one_bit &= symbols_[i + j] <= kSmallDelta;
      if (one_bit) {
        chunk = 0x8000;
        for (size_t j = 0; j < wide; ++j) {
          chunk |= static_cast<uint16_t>(symbols_[i + j] << (13 - j));
        }
        i += wide;
      } else {
        const size_t narrow = std::min<size_t>(7, count_ - i);
        chunk = 0xc000;
        for (size_t j = 0; j < narrow; ++j) {
          chunk |= static_cast<uint16_t>(symbols_[i + j] << (12 - 2 * j));
        }
        i += narrow;
      }
    }
    Write16(p + written, chunk);
    written += 2;
  }
  return written;
}

size_t TransportFeedbackBuilder::Build(std::span<uint8_t> out) const {
  if (count_ == 0) return 0;
  // What WorstSizeWith() allowed for, so every message that was accepted fits in kMaxBytes.
  const size_t worst = RoundUp4(kFixedSize + 2 * ((count_ + 6) / 7) + delta_bytes_);
  if (out.size() < worst) return 0;
  uint8_t* p = out.data();
  const int64_t reference = have_reference_
                                ? reference_
                                : FloorDiv(fallback_reference_us_, kTransportFeedbackReferenceUs);
  size_t pos = kFixedSize;
  pos += WriteChunks(p + pos);
  for (size_t i = 0; i < count_; ++i) {
    if (symbols_[i] == kSmallDelta) {
      p[pos++] = static_cast<uint8_t>(deltas_[i]);
    } else if (symbols_[i] == kLargeDelta) {
      Write16(p + pos, static_cast<uint16_t>(deltas_[i]));
      pos += 2;
    }
  }
  // RFC 3550 padding to 32 bits: zeros, the last byte the count (what browsers write and read).
  const size_t size = RoundUp4(pos);
  const size_t pad = size - pos;
  for (size_t i = 0; i < pad; ++i) p[pos + i] = 0;
  if (pad > 0) p[size - 1] = static_cast<uint8_t>(pad);
  p[0] = static_cast<uint8_t>(0x80 | (pad > 0 ? 0x20 : 0) | kTransportFeedbackFmt);
  p[1] = kRtcpRtpfb;
  Write16(p + 2, static_cast<uint16_t>(size / 4 - 1));
  Write32(p + 4, sender_ssrc_);
  Write32(p + 8, media_ssrc_);
  Write16(p + 12, base_sequence_);
  Write16(p + 14, static_cast<uint16_t>(count_));
  Write24(p + 16, static_cast<uint32_t>(reference) & 0xffffff);
  p[19] = feedback_count_;
  return size;
}

// ----- Recorder -----

TransportFeedbackRecorder::TransportFeedbackRecorder(uint32_t sender_ssrc)
    : sender_ssrc_(sender_ssrc), arrivals_(kWindow, -1) {}

void TransportFeedbackRecorder::OnPacket(uint16_t sequence, uint32_t media_ssrc,
                                         int64_t arrival_us) {
  const int64_t number = unwrapper_.Unwrap(sequence);
  if (!started_) {
    started_ = true;
    next_ = number;
    highest_ = number - 1;
    time_base_us_ = arrival_us;
  }
  if (number < next_) {
    ++late_;  // reported lost already (or long before the first packet)
    return;
  }
  constexpr auto kWindowSize = static_cast<int64_t>(kWindow);
  if (number >= next_ + kWindowSize) {
    // Far ahead of what was reported: the oldest unreported numbers are given up, so the window
    // holds this one.
    const int64_t new_next = number - kWindowSize + 1;
    for (int64_t n = next_; n < new_next && n <= highest_; ++n) {
      arrivals_[static_cast<size_t>(n % kWindowSize)] = -1;
    }
    next_ = new_next;
  }
  int64_t& slot = arrivals_[static_cast<size_t>(number % kWindowSize)];
  if (slot < 0)
    slot = std::max<int64_t>(0, arrival_us - time_base_us_);  // a duplicate keeps the first
  if (number > highest_) highest_ = number;
  media_ssrc_ = media_ssrc;
}

size_t TransportFeedbackRecorder::BuildNext(std::span<uint8_t> out) {
  if (!pending()) return 0;
  constexpr auto kWindowSize = static_cast<int64_t>(kWindow);
  builder_.Reset(sender_ssrc_, media_ssrc_, static_cast<uint16_t>(next_), feedback_count_,
                 last_reported_arrival_us_);
  int64_t number = next_;
  int64_t last_arrival = last_reported_arrival_us_;
  for (; number <= highest_; ++number) {
    const int64_t arrival = arrivals_[static_cast<size_t>(number % kWindowSize)];
    if (arrival < 0) {
      if (!builder_.AddLost()) break;
    } else {
      if (!builder_.AddReceived(arrival)) break;
      last_arrival = arrival;
    }
  }
  const size_t size = builder_.Build(out);
  if (size == 0) return 0;
  for (int64_t n = next_; n < number; ++n) arrivals_[static_cast<size_t>(n % kWindowSize)] = -1;
  next_ = number;
  last_reported_arrival_us_ = last_arrival;
  ++feedback_count_;
  ++messages_;
  return size;
}

}  // namespace chorus::rtp
