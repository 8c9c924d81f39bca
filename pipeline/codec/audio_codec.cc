#include "pipeline/codec/audio_codec.h"

#include <cctype>
#include <string>

namespace chorus::codec {

std::string_view CodecName(AudioCodec codec) {
  switch (codec) {
    case AudioCodec::kOpus:
      return "opus";
    case AudioCodec::kPcmu:
      return "PCMU";
    case AudioCodec::kPcma:
      return "PCMA";
    case AudioCodec::kG722:
      return "G722";
  }
  return "";
}

std::optional<AudioCodec> CodecFromName(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "opus") return AudioCodec::kOpus;
  if (lower == "pcmu") return AudioCodec::kPcmu;
  if (lower == "pcma") return AudioCodec::kPcma;
  if (lower == "g722") return AudioCodec::kG722;
  return std::nullopt;
}

uint32_t RtpClockRate(AudioCodec codec) { return codec == AudioCodec::kOpus ? 48000 : 8000; }

int CodecSampleRate(AudioCodec codec) {
  switch (codec) {
    case AudioCodec::kOpus:
      return 48000;
    case AudioCodec::kG722:
      return 16000;
    default:
      return 8000;
  }
}

uint32_t TimestampIncrement(AudioCodec codec) { return RtpClockRate(codec) / 50; }

int StaticPayloadType(AudioCodec codec) {
  switch (codec) {
    case AudioCodec::kPcmu:
      return 0;
    case AudioCodec::kPcma:
      return 8;
    case AudioCodec::kG722:
      return 9;
    default:
      return -1;
  }
}

}  // namespace chorus::codec
