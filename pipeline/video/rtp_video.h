#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace chorus::video {

enum class VideoCodec : uint8_t { kVp8, kH264 };

// ----- Packetizing: one encoded frame into RTP payloads -----

// VP8 (RFC 7741): a one-byte payload descriptor (S set on the first packet of the frame,
// partition index 0) before each fragment. Payloads of at most `max_payload` bytes.
std::vector<std::vector<uint8_t>> PacketizeVp8(std::span<const uint8_t> frame, size_t max_payload);

// H.264 (RFC 6184, packetization-mode 1): `frame` in Annex B (start codes); each NAL unit that
// fits goes as a single-NAL packet, a larger one as FU-A fragments.
std::vector<std::vector<uint8_t>> PacketizeH264(std::span<const uint8_t> frame, size_t max_payload);

// ----- Depacketizing -----

// Parses a VP8 payload descriptor (all the optional fields of RFC 7741 section 4.2). Sets
// `*frame_start` (S set and partition 0) and `*payload` (what follows the descriptor). False for
// a malformed descriptor.
bool ParseVp8Payload(std::span<const uint8_t> packet, bool* frame_start,
                     std::span<const uint8_t>* payload);

// Appends the NAL units of an H.264 RTP payload (single NAL, STAP-A, FU-A) to `annexb` with
// start codes. `*frame_start` is set for a packet that begins a NAL unit. False for a malformed or
// unsupported payload (STAP-B, MTAP, FU-B), appending nothing.
bool AppendH264Payload(std::span<const uint8_t> packet, std::vector<uint8_t>* annexb,
                       bool* frame_start);

// Whether an H.264 keyframe (Annex B) is one every receiver of Chorus's own H.264 can decode as
// it is: its sequence parameter set says constrained baseline (profile_idc 66 with
// constraint_set1, or constraint_set0 and set1 together) at a level no higher than `max_level_idc`
// (Chorus announces profile-level-id 42e01f: level 3.1, 31). False without an SPS.
bool H264ForwardableAsSent(std::span<const uint8_t> frame, uint8_t max_level_idc);

// Whether an encoded frame (VP8 bytes, or H.264 Annex B) is a keyframe: VP8's inverse key frame
// flag (RFC 6386 section 9.1), or an H.264 IDR slice.
bool IsKeyframe(VideoCodec codec, std::span<const uint8_t> frame);

// Puts a stream's RTP packets back into whole frames: packets of one timestamp, in sequence
// order, complete when the marker packet arrived and no sequence number between the frame's
// first packet and it is missing. Bounded: at most kMaxPackets per frame and kMaxFrames frames in
// flight; older incomplete frames are dropped (counted) when a newer one completes. No
// allocation per packet once warm except the frame's own buffer.
class FrameAssembler {
 public:
  static constexpr size_t kMaxPackets = 512;
  static constexpr size_t kMaxFrames = 8;

  explicit FrameAssembler(VideoCodec codec) : codec_(codec) {}

  enum class Result : uint8_t { kPending, kFrame, kMalformed, kTooLate };
  // Takes one packet's payload. On kFrame, `*frame` holds the whole encoded frame (VP8 bytes, or
  // H.264 Annex B) of timestamp `*timestamp`.
  Result Insert(uint16_t sequence, uint32_t timestamp, bool marker,
                std::span<const uint8_t> payload, std::vector<uint8_t>* frame,
                uint32_t* out_timestamp);

  // Frames that could not be completed (a packet lost) and were given up.
  uint64_t dropped_frames() const { return dropped_frames_; }

 private:
  struct Packet {
    std::vector<uint8_t> payload;
    uint16_t sequence = 0;
    bool marker = false;
  };
  struct Pending {
    // By sequence relative to `ref` (256 before the first packet seen), so that the order
    // survives a wrap of the 16-bit sequence number inside the frame.
    std::map<uint16_t, Packet> packets;
    uint16_t ref = 0;
  };
  bool Complete(const Pending& pending, uint32_t timestamp) const;
  bool Assemble(const Pending& pending, std::vector<uint8_t>* frame) const;

  // The timestamps of the last kRecent sequence numbers seen: a frame whose first packet follows
  // a packet of another timestamp is known to be whole from there.
  static constexpr size_t kRecent = 1024;
  struct Recent {
    bool valid = false;
    uint16_t sequence = 0;
    uint32_t timestamp = 0;
  };

  VideoCodec codec_;
  std::array<Recent, kRecent> recent_{};
  std::map<uint32_t, Pending> pending_;  // by timestamp
  bool have_last_ = false;
  uint32_t last_timestamp_ = 0;  // of the last frame delivered
  uint16_t last_marker_ = 0;     // its marker packet's sequence
  uint64_t dropped_frames_ = 0;
};

}  // namespace chorus::video
