// Any datagram through the compound RTCP parser.
#include <cstddef>
#include <cstdint>
#include <span>

#include "pipeline/rtp/rtcp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  chorus::rtp::RtcpInfo info;
  (void)chorus::rtp::ParseRtcp(std::span<const uint8_t>(data, size), &info);
  return 0;
}
