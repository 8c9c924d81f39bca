#pragma once

#include <cstdint>

namespace chorus::rtp {

// Extends 16-bit RTP sequence numbers (RFC 3550 section 5.1) to a monotonic 64-bit count across
// wrap-around. Each number is placed at the value closest to the highest one seen so far (within
// +/-32768), so a packet reordered across the wrap (65535 arriving after 0) unwraps to -1 + 65536*k
// rather than to a new cycle. Values may be negative when the stream starts near 0 and an older
// packet arrives. Thread: whoever owns it (a media worker); no allocation, cannot fail.
class SequenceUnwrapper {
 public:
  // What `sequence` would unwrap to, without remembering it.
  int64_t Peek(uint16_t sequence) const {
    if (!started_) return sequence;
    const int64_t delta =
        static_cast<int16_t>(static_cast<uint16_t>(sequence - static_cast<uint16_t>(highest_)));
    return highest_ + delta;
  }
  // Unwraps `sequence` and advances the highest value seen when it is newer.
  int64_t Unwrap(uint16_t sequence) {
    const int64_t value = Peek(sequence);
    if (!started_ || value > highest_) highest_ = value;
    started_ = true;
    return value;
  }
  bool started() const { return started_; }
  int64_t highest() const { return highest_; }
  void Reset() {
    started_ = false;
    highest_ = 0;
  }

 private:
  bool started_ = false;
  int64_t highest_ = 0;
};

// The same for 32-bit RTP timestamps: each is placed within +/-2^31 of the highest seen.
class TimestampUnwrapper {
 public:
  int64_t Peek(uint32_t timestamp) const {
    if (!started_) return timestamp;
    const int64_t delta =
        static_cast<int32_t>(static_cast<uint32_t>(timestamp - static_cast<uint32_t>(highest_)));
    return highest_ + delta;
  }
  int64_t Unwrap(uint32_t timestamp) {
    const int64_t value = Peek(timestamp);
    if (!started_ || value > highest_) highest_ = value;
    started_ = true;
    return value;
  }
  bool started() const { return started_; }
  int64_t highest() const { return highest_; }
  void Reset() {
    started_ = false;
    highest_ = 0;
  }

 private:
  bool started_ = false;
  int64_t highest_ = 0;
};

}  // namespace chorus::rtp
