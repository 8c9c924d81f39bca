#include "pipeline/video/rtp_video.h"

#include <algorithm>
#include <iterator>

namespace chorus::video {
namespace {

constexpr uint8_t kStartCode[4] = {0, 0, 0, 1};
constexpr uint8_t kStapA = 24;
constexpr uint8_t kFuA = 28;

// The NAL units of an Annex B buffer (start codes of 3 or 4 bytes), without their start codes.
std::vector<std::span<const uint8_t>> SplitAnnexB(std::span<const uint8_t> data) {
  std::vector<std::span<const uint8_t>> units;
  size_t i = 0;
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t start = kNone;
  auto flush = [&](size_t end) {
    if (start != kNone && end > start) units.push_back(data.subspan(start, end - start));
  };
  while (i + 3 <= data.size()) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      size_t end = i;
      if (end > 0 && data[end - 1] == 0) --end;  // a 4-byte start code
      flush(end);
      i += 3;
      start = i;
    } else {
      ++i;
    }
  }
  flush(data.size());
  return units;
}

// Whether an H.264 RTP payload surely starts an access unit (a whole frame) on its own: an
// access unit delimiter or a sequence parameter set (what begins every keyframe our clients
// send), alone or first in a STAP-A. A slice, PPS or SEI may be the middle of a frame whose
// first packets have not arrived yet; such frames are recognised by sequence continuity instead.
bool H264BeginsAccessUnit(std::span<const uint8_t> packet) {
  if (packet.empty()) return false;
  uint8_t type = packet[0] & 0x1f;
  if (type == kStapA) {
    if (packet.size() < 4) return false;
    type = packet[3] & 0x1f;
  }
  return type == 7 || type == 9;
}

}  // namespace

std::vector<std::vector<uint8_t>> PacketizeVp8(std::span<const uint8_t> frame, size_t max_payload) {
  std::vector<std::vector<uint8_t>> packets;
  if (max_payload < 2) return packets;
  const size_t chunk = max_payload - 1;
  for (size_t offset = 0; offset < frame.size(); offset += chunk) {
    const size_t size = std::min(chunk, frame.size() - offset);
    std::vector<uint8_t> packet;
    packet.reserve(size + 1);
    packet.push_back(offset == 0 ? 0x10 : 0x00);  // S on the first, partition 0
    packet.insert(packet.end(), frame.begin() + static_cast<ptrdiff_t>(offset),
                  frame.begin() + static_cast<ptrdiff_t>(offset + size));
    packets.push_back(std::move(packet));
  }
  return packets;
}

std::vector<std::vector<uint8_t>> PacketizeH264(std::span<const uint8_t> frame,
                                                size_t max_payload) {
  std::vector<std::vector<uint8_t>> packets;
  if (max_payload < 3) return packets;
  for (std::span<const uint8_t> nal : SplitAnnexB(frame)) {
    if (nal.size() <= max_payload) {
      packets.emplace_back(nal.begin(), nal.end());
      continue;
    }
    const uint8_t header = nal[0];
    const uint8_t indicator = static_cast<uint8_t>((header & 0xe0) | kFuA);
    const size_t chunk = max_payload - 2;
    for (size_t offset = 1; offset < nal.size(); offset += chunk) {
      const size_t size = std::min(chunk, nal.size() - offset);
      uint8_t fu = header & 0x1f;
      if (offset == 1) fu |= 0x80;                  // S
      if (offset + size == nal.size()) fu |= 0x40;  // E
      std::vector<uint8_t> packet = {indicator, fu};
      packet.insert(packet.end(), nal.begin() + static_cast<ptrdiff_t>(offset),
                    nal.begin() + static_cast<ptrdiff_t>(offset + size));
      packets.push_back(std::move(packet));
    }
  }
  return packets;
}

bool ParseVp8Payload(std::span<const uint8_t> packet, bool* frame_start,
                     std::span<const uint8_t>* payload) {
  if (packet.empty()) return false;
  size_t at = 1;
  const uint8_t first = packet[0];
  if (first & 0x80) {  // X: extension byte
    if (at >= packet.size()) return false;
    const uint8_t ext = packet[at++];
    if (ext & 0x80) {  // I: picture id, 7 or 15 bits
      if (at >= packet.size()) return false;
      at += (packet[at] & 0x80) ? 2 : 1;
    }
    if (ext & 0x40) ++at;                   // L: TL0PICIDX
    if (ext & 0x30) ++at;                   // T or K: TID/Y/KEYIDX
    if (at >= packet.size()) return false;  // a descriptor with nothing after it
  }
  if (at >= packet.size()) return false;
  *frame_start = (first & 0x10) != 0 && (first & 0x0f) == 0;
  *payload = packet.subspan(at);
  return true;
}

bool AppendH264Payload(std::span<const uint8_t> packet, std::vector<uint8_t>* annexb,
                       bool* frame_start) {
  if (packet.empty() || (packet[0] & 0x80)) return false;  // F must be 0
  const uint8_t type = packet[0] & 0x1f;
  if (type >= 1 && type <= 23) {
    annexb->insert(annexb->end(), std::begin(kStartCode), std::end(kStartCode));
    annexb->insert(annexb->end(), packet.begin(), packet.end());
    *frame_start = true;
    return true;
  }
  if (type == kStapA) {
    // Check every unit's length before appending any.
    size_t at = 1;
    while (at < packet.size()) {
      if (at + 2 > packet.size()) return false;
      const size_t size = (size_t{packet[at]} << 8) | packet[at + 1];
      if (size == 0 || at + 2 + size > packet.size()) return false;
      at += 2 + size;
    }
    if (at == 1) return false;
    for (at = 1; at < packet.size();) {
      const size_t size = (size_t{packet[at]} << 8) | packet[at + 1];
      annexb->insert(annexb->end(), std::begin(kStartCode), std::end(kStartCode));
      annexb->insert(annexb->end(), packet.begin() + static_cast<ptrdiff_t>(at + 2),
                     packet.begin() + static_cast<ptrdiff_t>(at + 2 + size));
      at += 2 + size;
    }
    *frame_start = true;
    return true;
  }
  if (type == kFuA) {
    if (packet.size() < 3) return false;
    const uint8_t fu = packet[1];
    const bool start = (fu & 0x80) != 0;
    if (start) {
      annexb->insert(annexb->end(), std::begin(kStartCode), std::end(kStartCode));
      annexb->push_back(static_cast<uint8_t>((packet[0] & 0xe0) | (fu & 0x1f)));
    }
    annexb->insert(annexb->end(), packet.begin() + 2, packet.end());
    *frame_start = start;
    return true;
  }
  return false;  // STAP-B, MTAP16/24, FU-B: not in packetization-mode 1 from our clients
}

bool H264ForwardableAsSent(std::span<const uint8_t> frame, uint8_t max_level_idc) {
  for (std::span<const uint8_t> nal : SplitAnnexB(frame)) {
    if (nal.size() < 4 || (nal[0] & 0x1f) != 7) continue;  // an SPS: header, profile, flags, level
    const uint8_t profile = nal[1];
    const uint8_t constraints = nal[2];
    const bool constrained_baseline =
        (profile == 66 && (constraints & 0x40) != 0) || (constraints & 0xc0) == 0xc0;
    return constrained_baseline && nal[3] <= max_level_idc;
  }
  return false;
}

bool IsKeyframe(VideoCodec codec, std::span<const uint8_t> frame) {
  if (frame.empty()) return false;
  if (codec == VideoCodec::kVp8) return (frame[0] & 0x01) == 0;
  for (std::span<const uint8_t> nal : SplitAnnexB(frame)) {
    if (!nal.empty() && (nal[0] & 0x1f) == 5) return true;
  }
  return false;
}

FrameAssembler::Result FrameAssembler::Insert(uint16_t sequence, uint32_t timestamp, bool marker,
                                              std::span<const uint8_t> payload,
                                              std::vector<uint8_t>* frame,
                                              uint32_t* out_timestamp) {
  if (payload.empty()) return Result::kMalformed;
  if (have_last_ && static_cast<int32_t>(timestamp - last_timestamp_) <= 0) {
    return Result::kTooLate;
  }
  auto [it, inserted] = pending_.try_emplace(timestamp);
  Pending& pending = it->second;
  if (inserted) pending.ref = static_cast<uint16_t>(sequence - 256);
  if (pending.packets.size() >= kMaxPackets) return Result::kMalformed;
  recent_[sequence % kRecent] = Recent{true, sequence, timestamp};
  Packet& packet = pending.packets[static_cast<uint16_t>(sequence - pending.ref)];
  packet.payload.assign(payload.begin(), payload.end());
  packet.sequence = sequence;
  packet.marker = marker;
  if (pending_.size() > kMaxFrames) {
    // The oldest frame in flight is given up.
    auto oldest = pending_.begin();
    for (auto candidate = pending_.begin(); candidate != pending_.end(); ++candidate) {
      if (static_cast<int32_t>(candidate->first - oldest->first) < 0) oldest = candidate;
    }
    if (oldest->first != timestamp) {
      pending_.erase(oldest);
      ++dropped_frames_;
    }
  }
  auto current = pending_.find(timestamp);
  if (current == pending_.end() || !Complete(current->second, timestamp)) return Result::kPending;
  frame->clear();
  const bool ok = Assemble(current->second, frame);
  const uint16_t marker_sequence = std::prev(current->second.packets.end())->second.sequence;
  pending_.erase(current);
  // Frames older than this one can no longer be used.
  for (auto older = pending_.begin(); older != pending_.end();) {
    if (static_cast<int32_t>(older->first - timestamp) < 0) {
      older = pending_.erase(older);
      ++dropped_frames_;
    } else {
      ++older;
    }
  }
  if (!ok) return Result::kMalformed;
  have_last_ = true;
  last_timestamp_ = timestamp;
  last_marker_ = marker_sequence;
  *out_timestamp = timestamp;
  return Result::kFrame;
}

bool FrameAssembler::Complete(const Pending& pending, uint32_t timestamp) const {
  if (pending.packets.empty()) return false;
  const Packet& last = std::prev(pending.packets.end())->second;
  if (!last.marker) return false;
  // Contiguous from the first packet held to the marker.
  uint16_t expected = pending.packets.begin()->first;
  for (const auto& [key, packet] : pending.packets) {
    if (key != expected) return false;
    ++expected;
  }
  const Packet& first = pending.packets.begin()->second;
  if (have_last_ && static_cast<uint16_t>(first.sequence - last_marker_) == 1) return true;
  // The packet just before belongs to another frame: this one is the first.
  const Recent& before = recent_[static_cast<uint16_t>(first.sequence - 1) % kRecent];
  if (before.valid && before.sequence == static_cast<uint16_t>(first.sequence - 1) &&
      before.timestamp != timestamp) {
    return true;
  }
  // Otherwise the first packet must begin a frame.
  bool start = false;
  if (codec_ == VideoCodec::kVp8) {
    std::span<const uint8_t> payload;
    return ParseVp8Payload(first.payload, &start, &payload) && start;
  }
  return H264BeginsAccessUnit(first.payload);
}

bool FrameAssembler::Assemble(const Pending& pending, std::vector<uint8_t>* frame) const {
  for (const auto& [key, packet] : pending.packets) {
    bool start = false;
    if (codec_ == VideoCodec::kVp8) {
      std::span<const uint8_t> payload;
      if (!ParseVp8Payload(packet.payload, &start, &payload)) return false;
      frame->insert(frame->end(), payload.begin(), payload.end());
    } else if (!AppendH264Payload(packet.payload, frame, &start)) {
      return false;
    }
  }
  return !frame->empty();
}

}  // namespace chorus::video
