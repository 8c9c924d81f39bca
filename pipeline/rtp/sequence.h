#pragma once

#include <cstdint>

namespace chorus::rtp {

// Extends 16-bit RTP sequence numbers to 64 bits across wrap-around (RFC 3550 A.1): a number is
// taken as the closest one to the last seen, so reordering across the wrap works.
class SequenceUnwrapper {
 public:
  int64_t Unwrap(uint16_t sequence) {
    if (!started_) {
      started_ = true;
      last_ = sequence;
      return last_;
    }
    int64_t delta = static_cast<int16_t>(static_cast<uint16_t>(sequence - (last_ & 0xffff)));
    int64_t value = last_ + delta;
    if (value > last_) last_ = value;
    return value;
  }
  void Reset() { started_ = false; }

 private:
  bool started_ = false;
  int64_t last_ = 0;
};

// The same for 32-bit RTP timestamps.
class TimestampUnwrapper {
 public:
  int64_t Unwrap(uint32_t timestamp) {
    if (!started_) {
      started_ = true;
      last_ = timestamp;
      return last_;
    }
    int64_t delta = static_cast<int32_t>(static_cast<uint32_t>(timestamp - (last_ & 0xffffffff)));
    int64_t value = last_ + delta;
    if (value > last_) last_ = value;
    return value;
  }
  void Reset() { started_ = false; }

 private:
  bool started_ = false;
  int64_t last_ = 0;
};

}  // namespace chorus::rtp
