// Any datagram through the RTP parser, its header extensions and the audio level reader.
#include <cstddef>
#include <cstdint>
#include <span>

#include "pipeline/rtp/rtp_packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> packet(data, size);
  (void)chorus::rtp::IsRtcp(packet);
  chorus::rtp::RtpPacketView view;
  if (chorus::rtp::ParseRtp(packet, &view) != chorus::rtp::RtpParseResult::kOk) return 0;
  for (uint8_t id = 0; id < 16; ++id) {
    bool voice = false;
    uint8_t level = 0;
    (void)chorus::rtp::ParseAudioLevel(view.FindExtension(id), &voice, &level);
  }
  return 0;
}
