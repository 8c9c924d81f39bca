#include "pipeline/rtp/telephone_event.h"

namespace chorus::rtp {

std::optional<TelephoneEvent> ParseTelephoneEvent(std::span<const uint8_t> payload) {
  if (payload.size() < 4) return std::nullopt;
  TelephoneEvent event;
  event.event = payload[0];
  event.end = (payload[1] & 0x80) != 0;
  event.volume = payload[1] & 0x3f;
  event.duration = static_cast<uint16_t>((payload[2] << 8) | payload[3]);
  return event;
}

char KeypadDigit(uint8_t event) {
  if (event <= 9) return static_cast<char>('0' + event);
  if (event == 10) return '*';
  if (event == 11) return '#';
  return 0;
}

}  // namespace chorus::rtp
