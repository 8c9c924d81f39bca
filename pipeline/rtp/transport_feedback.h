#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pipeline/rtp/sequence.h"

namespace chorus::rtp {

// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01,
// section 3.1): RTCP transport-layer feedback (PT 205, FMT 15) telling a sender which of the
// packets it numbered with the transport-wide sequence number header extension arrived, and
// when. The sender's congestion controller (a browser's) turns the arrival times into its
// bandwidth estimate.
//
// Wire format, after the 12-byte feedback header (V=2, P, FMT=15, PT=205, length, sender SSRC,
// media source SSRC):
//   base sequence number (16) | packet status count (16)
//   reference time (24, signed, multiples of 64 ms) | feedback packet count (8)
//   packet status chunks (16 bits each), then one receive delta per received packet
//   (1 byte unsigned "small", 2 bytes signed "large or negative", in 250 us units), then padding
//   to 32 bits.
// A chunk is either a run length (T=0: 2-bit symbol, 13-bit run) or a status vector (T=1, S=0:
// fourteen 1-bit symbols, not received / received small; S=1: seven 2-bit symbols). Symbols:
// 0 not received, 1 received with a small delta, 2 received with a large or negative delta,
// 3 reserved. The first received packet's delta is counted from the reference time, each next
// one's from the previous received packet's arrival.
//
// Everything here is allocation-free after construction, never throws and never crashes on any
// input. Thread: whoever owns the object (a media worker).

inline constexpr uint8_t kTransportFeedbackFmt = 15;
// One receive delta tick, and one reference time unit.
inline constexpr int64_t kTransportFeedbackDeltaUs = 250;
inline constexpr int64_t kTransportFeedbackReferenceUs = 64'000;

// The transport-wide sequence number a sender put on an RTP packet (the header extension of
// draft section 2, `id` as negotiated: 2 bytes, big-endian), or nullopt when the packet has none
// or its header does not hold together. Reads only the header: padding-only packets, which a
// sender's bandwidth probes are made of, count as much as any other.
std::optional<uint16_t> ReadTransportSequenceNumber(std::span<const uint8_t> rtp, uint8_t id);

// The fixed part of a parsed feedback message.
struct TransportFeedbackHeader {
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;
  uint16_t base_sequence = 0;
  uint16_t status_count = 0;
  int32_t reference_time = 0;  // the 24-bit field, sign-extended, in 64 ms units
  uint8_t feedback_count = 0;
};

// One packet's status in a parsed message.
struct TransportFeedbackStatus {
  uint16_t sequence = 0;
  bool received = false;
  // When received: reference_time * 64 ms plus the receive deltas up to this packet, in us (the
  // sender's view of the arrival, on the feedback sender's clock).
  int64_t arrival_us = 0;
};

enum class TransportFeedbackParseResult : uint8_t {
  kOk,
  kTooShort,       // shorter than the 20-byte header, or than its length field says
  kNotFeedback,    // not version 2, PT 205, FMT 15
  kBadPadding,     // P set with a padding count of 0 or more than the packet holds
  kEmpty,          // a packet status count of 0
  kBadChunk,       // chunks run past the packet, a reserved symbol, a run of length 0, or a run
                   // longer than the statuses left
  kMissingDelta,   // the receive deltas run past the packet
  kTrailingBytes,  // more than 3 bytes after the last delta (padding is at most 3)
  kTooMany,        // more statuses than the caller's span holds
};
const char* TransportFeedbackParseResultName(TransportFeedbackParseResult result);

// Parses one RTCP packet starting at packet[0] (its length field bounds it; bytes after it are
// ignored, so a compound packet can be walked). On kOk fills `*header` and statuses
// [0, header->status_count) of `statuses`.
TransportFeedbackParseResult ParseTransportFeedback(std::span<const uint8_t> packet,
                                                    TransportFeedbackHeader* header,
                                                    std::span<TransportFeedbackStatus> statuses);

// Writes one feedback message. Reset(), then the status of each sequence number from the base
// in order (AddReceived / AddLost) until one does not fit, then Build(). One per transport;
// about 6 KB, allocated once.
class TransportFeedbackBuilder {
 public:
  // Statuses and bytes in one message: a message stays well under any path's MTU once SRTCP
  // adds its trailer.
  static constexpr size_t kMaxStatuses = 2048;
  static constexpr size_t kMaxBytes = 1100;

  TransportFeedbackBuilder();

  // Starts a message about packets from `base_sequence`. `fallback_reference_us` is the
  // reference time used should no packet of the message be received (a time on the same line
  // as the arrivals, e.g. the last arrival reported before).
  void Reset(uint32_t sender_ssrc, uint32_t media_ssrc, uint16_t base_sequence,
             uint8_t feedback_count, int64_t fallback_reference_us);
  // The next sequence number arrived at `arrival_us` (any time line; the first received
  // packet's arrival rounded down to 64 ms becomes the reference time). False, and nothing
  // added, when the message is full or the delta from the previous received packet is beyond
  // +/-8.192 s: the message ends before this packet.
  bool AddReceived(int64_t arrival_us);
  // The next sequence number was not received. False when the message is full.
  bool AddLost();
  size_t status_count() const { return count_; }
  // Writes the message into `out`; its size (a multiple of 4), or 0 when nothing was added or
  // `out` is too small.
  size_t Build(std::span<uint8_t> out) const;

 private:
  // The message's size if one more status with a delta of `delta_bytes` were added, counting
  // every chunk as a 7-symbol vector (the most chunks the encoding can need) and the padding.
  size_t WorstSizeWith(size_t delta_bytes) const;
  // Writes the chunks for symbols_[0, count_) at `p`; returns the bytes written.
  size_t WriteChunks(uint8_t* p) const;

  uint32_t sender_ssrc_ = 0;
  uint32_t media_ssrc_ = 0;
  uint16_t base_sequence_ = 0;
  uint8_t feedback_count_ = 0;
  int64_t fallback_reference_us_ = 0;
  bool have_reference_ = false;
  int64_t reference_ = 0;   // in 64 ms units
  int64_t last_ticks_ = 0;  // the last received arrival, in 250 us ticks
  size_t count_ = 0;
  size_t delta_bytes_ = 0;
  std::vector<uint8_t> symbols_;  // kMaxStatuses
  std::vector<int16_t> deltas_;   // kMaxStatuses, one per status (used for received ones)
};

// The receive side of a transport: remembers when each packet carrying a transport-wide
// sequence number arrived, and writes the feedback messages about them. OnPacket() on every
// such packet; every 50 to 100 ms, BuildNext() until it returns 0. Packets that arrive after
// the feedback about their sequence number was written were reported lost and are ignored
// (late_packets()). Sequence numbers far ahead of what was reported (a gap wider than kWindow)
// give up the oldest unreported ones. Allocates only when constructed (about 22 KB).
class TransportFeedbackRecorder {
 public:
  static constexpr size_t kWindow = 2048;

  explicit TransportFeedbackRecorder(uint32_t sender_ssrc);

  // A packet of `media_ssrc` numbered `sequence` arrived at `arrival_us` (a monotonic clock).
  void OnPacket(uint16_t sequence, uint32_t media_ssrc, int64_t arrival_us);
  // Whether packets arrived that no message has reported yet.
  bool pending() const { return started_ && next_ <= highest_; }
  // Writes the next message about what has not been reported into `out`; its size, or 0 when
  // nothing is left (or `out` is too small to hold one).
  size_t BuildNext(std::span<uint8_t> out);
  uint64_t late_packets() const { return late_; }
  uint64_t messages() const { return messages_; }

 private:
  const uint32_t sender_ssrc_;
  TransportFeedbackBuilder builder_;
  SequenceUnwrapper unwrapper_;
  // Arrival (us after time_base_us_) per sequence number modulo kWindow; -1: not received. Only
  // numbers in [next_, highest_] are ever set.
  std::vector<int64_t> arrivals_;
  bool started_ = false;
  int64_t next_ = 0;     // the first unwrapped number not yet reported
  int64_t highest_ = 0;  // the highest received
  int64_t time_base_us_ = 0;
  int64_t last_reported_arrival_us_ = 0;
  uint32_t media_ssrc_ = 0;
  uint8_t feedback_count_ = 0;
  uint64_t late_ = 0;
  uint64_t messages_ = 0;
};

}  // namespace chorus::rtp
