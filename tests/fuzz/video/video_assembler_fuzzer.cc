// RTP video payloads as they come from the network (VP8 descriptors, H.264 single NAL units,
// STAP-A, FU-A, and anything else) fed to one frame assembler per codec, with sequence numbers,
// timestamps and marker bits chosen by the fuzzer. Checks that assembled frames are never larger
// than what was put in.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "pipeline/video/rtp_video.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chorus::video;
  FrameAssembler vp8(VideoCodec::kVp8);
  FrameAssembler h264(VideoCodec::kH264);
  std::vector<uint8_t> frame;
  size_t total = 0;
  size_t i = 0;
  while (i + 5 <= size) {
    const uint16_t sequence = static_cast<uint16_t>(data[i] | data[i + 1] << 8);
    const uint32_t timestamp = static_cast<uint32_t>(data[i + 2] % 16) * 3000;
    const bool marker = data[i + 3] & 1;
    const size_t length = std::min<size_t>(data[i + 4], size - i - 5);
    std::span<const uint8_t> payload(data + i + 5, length);
    i += 5 + length;
    total += length;
    uint32_t out = 0;
    for (FrameAssembler* assembler : {&vp8, &h264}) {
      if (assembler->Insert(sequence, timestamp, marker, payload, &frame, &out) ==
          FrameAssembler::Result::kFrame) {
        // H.264 adds a 4-byte start code per NAL unit; the smallest unit is a one-byte
        // single-NAL packet, which becomes five bytes.
        if (frame.size() > 5 * total) std::abort();
      }
    }
    bool start = false;
    std::span<const uint8_t> vp8_payload;
    if (ParseVp8Payload(payload, &start, &vp8_payload) && vp8_payload.size() > payload.size()) {
      std::abort();
    }
  }
  return 0;
}
