#include "pipeline/sdp/session_description.h"

namespace chorus::sdp {

std::string_view DirectionName(Direction direction) {
  switch (direction) {
    case Direction::kSendRecv:
      return "sendrecv";
    case Direction::kSendOnly:
      return "sendonly";
    case Direction::kRecvOnly:
      return "recvonly";
    case Direction::kInactive:
      return "inactive";
  }
  return "inactive";
}

std::string_view MediaKindName(MediaKind kind) {
  switch (kind) {
    case MediaKind::kAudio:
      return "audio";
    case MediaKind::kVideo:
      return "video";
    case MediaKind::kUnsupported:
      return "unsupported";
  }
  return "unsupported";
}

const PayloadFormat* MediaSection::FindPayloadFormat(uint8_t payload_type) const {
  for (const PayloadFormat& format : payload_formats) {
    if (format.payload_type == payload_type) return &format;
  }
  return nullptr;
}

}  // namespace chorus::sdp
