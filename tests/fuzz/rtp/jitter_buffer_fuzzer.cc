// A stream of packets derived from the input (sequence numbers, timestamps, SSRCs, arrival times,
// levels and sizes chosen by the fuzzer) inserted into one jitter buffer, with Pulls on a fake
// 20 ms tick between them. Checks that returned spans stay inside the buffer's payload sizes and
// that the gauges stay within their documented ranges.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>

#include "pipeline/base/clock.h"
#include "pipeline/rtp/jitter_buffer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chorus::rtp;
  chorus::base::FakeClock clock(0);
  JitterBufferConfig config;
  config.capacity_packets = 16;  // small, so overflow paths are reached
  config.max_payload_bytes = 64;
  JitterBuffer buffer(config, clock);
  uint8_t payload[80] = {};
  int64_t arrival_us = 0;
  size_t i = 0;
  while (i + 8 <= size) {
    const uint8_t* p = data + i;
    i += 8;
    RtpPacketView view;
    view.sequence_number = static_cast<uint16_t>(p[0] | p[1] << 8);
    view.timestamp = static_cast<uint32_t>(p[2] | p[3] << 8) * 480;
    view.ssrc = p[6] >> 6;
    view.marker = p[6] & 1;
    view.payload = std::span<const uint8_t>(payload, p[5] % 80);
    arrival_us += (p[4] & 0x7f) * 1000;
    std::optional<AudioLevel> level;
    if (p[7] & 0x80)
      level = AudioLevel{.voice_activity = (p[7] & 0x40) != 0,
                         .level = static_cast<uint8_t>(p[7] & 0x7f)};
    (void)buffer.Insert(view, arrival_us, level);
    const int pulls = (p[6] >> 1) & 3;
    for (int k = 0; k < pulls; ++k) {
      clock.AdvanceUs(20'000);
      JitterFrame frame;
      (void)buffer.Pull(&frame);
      if (frame.payload.size() > config.max_payload_bytes ||
          frame.next_payload.size() > config.max_payload_bytes) {
        std::abort();
      }
      for (uint8_t byte : frame.payload) (void)byte;
      for (uint8_t byte : frame.next_payload) (void)byte;
      const JitterStats& stats = buffer.stats();
      if (stats.target_delay_ms < config.min_delay_ms ||
          stats.target_delay_ms > config.max_delay_ms) {
        std::abort();
      }
    }
    if (p[4] & 0x80) {
      chorus::rtp::RtpPacketView next = view;
      next.sequence_number = static_cast<uint16_t>(view.sequence_number + 1);
      next.timestamp = view.timestamp + 960;
      (void)buffer.Insert(next, arrival_us);
      chorus::rtp::JitterFrame next_frame;
      (void)buffer.Pull(&next_frame);
    }
  }
  return 0;
}
