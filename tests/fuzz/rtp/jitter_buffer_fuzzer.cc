// A stream of packets derived from the input (sequence numbers, timestamps, arrival times and
// sizes chosen by the fuzzer) inserted into and pulled from one jitter buffer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "pipeline/rtp/jitter_buffer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  chorus::rtp::JitterBuffer buffer(48000);
  int64_t now_us = 0;
  size_t i = 0;
  while (i + 8 <= size) {
    const uint16_t sequence = static_cast<uint16_t>(data[i] | data[i + 1] << 8);
    const uint32_t timestamp = static_cast<uint32_t>(data[i + 2] | data[i + 3] << 8) * 480;
    now_us += data[i + 4] * 1000;
    const size_t length = data[i + 5] % 64;
    const bool pull = data[i + 6] & 1;
    i += 8;
    std::span<const uint8_t> payload(data + i, i + length <= size ? length : size - i);
    (void)buffer.Insert(sequence, timestamp, payload, now_us, data[i - 1] & 1, data[i - 1] >> 1);
    if (pull) {
      chorus::rtp::JitterFrame frame = buffer.Pull();
      for (uint8_t byte : frame.payload) (void)byte;
      for (uint8_t byte : frame.next_payload) (void)byte;
    }
  }
  return 0;
}
