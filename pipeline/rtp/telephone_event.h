#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace chorus::rtp {

// One RFC 4733 telephone-event payload (section 2.3): the event (0-9, 10 = '*', 11 = '#', 12-15
// A-D, 16 flash; other events exist), whether it is the event's end, its volume (-dBm0) and its
// duration so far, in RTP clock units. Every packet of one key press carries the press's start
// timestamp in its RTP header; the end is sent up to three times.
struct TelephoneEvent {
  uint8_t event = 0;
  bool end = false;
  uint8_t volume = 0;
  uint16_t duration = 0;
};

// The first event of `payload` (a sender may append others: ignored), or nothing when it is
// shorter than the 4 bytes of one event.
std::optional<TelephoneEvent> ParseTelephoneEvent(std::span<const uint8_t> payload);

// The key of a keypad event: '0'-'9', '*', '#'; 0 for any other event.
char KeypadDigit(uint8_t event);

}  // namespace chorus::rtp
