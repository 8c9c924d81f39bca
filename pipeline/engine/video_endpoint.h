#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/engine/bitrate_tiers.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/session_types.h"
#include "pipeline/net/event_loop.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/srtp/srtp_session.h"
#include "pipeline/video/picture.h"
#include "pipeline/video/rtp_video.h"
#include "pipeline/video/video_codec.h"

namespace chorus::engine {

// One participant's video stream on a video worker: its own UDP socket, SRTP both ways, frames
// reassembled and decoded as they arrive (the latest picture is what the others see of it), and
// the view composed for it sent back. RTCP on the same port (RFC 5761): PLI and FIR from the
// participant ask for a keyframe of its view; a frame that does not decode sends it a PLI.
// Loss recovery by retransmission (RFC 4585 generic NACK) both ways: a gap in what the
// participant sends is asked for at once with a NACK (a retransmission that arrives before the
// next frame completes saves the frame and the PLI), and NACKs from the participant are answered
// from a history of the last kHistory packets sent to it, resent as they were sent (same
// sequence number, same SRTP packet).
// Thread: the video worker that owns it.
class VideoEndpoint final : public net::EventLoop::Handler {
 public:
  static absl::StatusOr<std::unique_ptr<VideoEndpoint>> Create(
      const std::string& id, bool secure, srtp::SrtpSuite suite, const VideoConfig& config,
      std::unique_ptr<net::DatagramIo> socket, EngineStats* stats);
  ~VideoEndpoint() override;

  const std::string& id() const { return id_; }
  const VideoConfig& config() const { return config_; }
  const VideoAnswer& answer() const { return answer_; }
  int fd() const { return socket_->fd(); }
  // Join order in the session (earlier joins come first in layouts).
  uint64_t order = 0;
  // A content stream (screen sharing): received and shown, never sent a view. `owner` is the
  // endpoint it belongs to; `sharing` whether its owner shares it now.
  bool is_content = false;
  std::string owner;
  bool sharing = false;
  // The camera this viewer sees large (routing.pinned); empty = the room's layout.
  std::string pinned;
  // False while its participant waits in the lobby (routing.admitted): its packets are dropped
  // (counted as not_admitted), it is in nobody's tiles and is sent no view.
  bool admitted = true;
  // When the latest picture was decoded (CLOCK_MONOTONIC us; 0 = never).
  int64_t last_picture_us() const { return last_picture_us_; }

  static constexpr int kMaxDatagramsPerWakeup = 64;
  void OnReadable() override;

  // The latest picture of the participant (empty until its first keyframe decoded).
  const video::Picture& picture() const { return picture_; }
  bool has_picture() const { return !picture_.empty(); }

  // The largest RTP payload a view frame is cut into.
  static constexpr size_t kMaxPayload = 1180;
  // Sends one frame of its view, already cut into RTP payloads (once per view, for every viewer
  // of it), `rtp_timestamp` on the 90 kHz clock.
  void SendFrame(const std::vector<std::vector<uint8_t>>& payloads, uint32_t rtp_timestamp);
  // An RTCP sender report about every 5 s: the NTP wall-clock time paired with the video RTP
  // timestamp of now, on the same wall clock as the audio stream's reports and under the same
  // CNAME, so the participant can line the two up (lip sync).
  void MaybeSendReport(int64_t now_us, uint32_t rtp_timestamp);
  // Asks the participant for a keyframe (RTCP PLI), at most every 500 ms.
  void RequestKeyframe(int64_t now_us);
  // Asks the participant to keep its video under `bitrate_bps` (RTCP REMB): every second, and at
  // once (at most every 200 ms) when the cap falls by a fifth.
  void MaybeSendRemb(int64_t now_us, uint64_t bitrate_bps);
  uint64_t remb_bitrate_bps() const { return remb_sent_bps_; }
  // Whether the participant asked for a keyframe of its view since the last call.
  bool TakeKeyframeRequest();
  // The participant asked for a keyframe of its view some other way than RTCP (SIP INFO).
  void AskForKeyframe() { keyframe_requested_ = true; }
  // The bitrate tier of its view it is sent (bitrate_tiers.h), moved by the REMB and the loss
  // reports it sent since the last call; once per video tick.
  int UpdateTier(int64_t now_us) {
    return tier_.Update(static_cast<uint64_t>(config_.bitrate_bps), bytes_sent_, now_us);
  }
  int bitrate_tier() const { return tier_.tier(); }
  // What it was sent over the last second, bit/s (0 before a whole second).
  uint64_t sent_bps() const { return tier_.send_bps(); }

  // Packets of the view kept for retransmission (about 1 s of 1080p).
  static constexpr size_t kHistory = 256;
  // A gap in the participant's sequence numbers wider than this is not asked for (a restart or
  // a long outage: the keyframe request covers it).
  static constexpr int kMaxNackGap = 32;
  // The same packet is resent at most once per this interval however often it is asked for.
  static constexpr int64_t kRetransmitIntervalUs = 100'000;

  // ----- Forwarding: a viewer who sees this camera alone is sent its frames as they came -----
  // A whole frame as the participant encoded it (VP8 bytes, or H.264 Annex B).
  struct ReceivedFrame {
    std::vector<uint8_t> bytes;
    uint32_t timestamp = 0;  // the participant's RTP timestamp (90 kHz)
    bool keyframe = false;
  };
  // Set by the session for a camera someone may be forwarded: the frames received are kept, in
  // order, each decodable after the one before (after a lost frame, nothing until a keyframe),
  // until ClearReceivedFrames() at the end of the session's tick.
  bool keep_frames = false;
  std::span<const ReceivedFrame> received_frames() const {
    return std::span<const ReceivedFrame>(received_.data(), received_count_);
  }
  void ClearReceivedFrames() {
    received_count_ = 0;
    received_bytes_ = 0;
  }
  // At most this many frames, and bytes, are kept between two ticks (beyond: the chain restarts
  // at the next keyframe, asked for). Cameras send in bursts, and a busy machine delays a tick:
  // 64 frames are 2 s at 30 frames/s.
  static constexpr size_t kMaxReceivedFrames = 64;
  static constexpr size_t kMaxReceivedBytes = 8 << 20;
  // Whether anyone sees this camera in a composed view (set by the session every tick). While
  // nobody does, only its keyframes are decoded (its picture stays recent and its size known):
  // forwarding spares the decoder too. When someone does again, decoding resumes at the next
  // keyframe, asked for at once.
  void SetDecodeNeeded(bool needed, int64_t now_us);
  // Added by the session to the view clock's timestamps of composed frames, so that the
  // timestamps it is sent stay continuous across a switch from forwarded frames (which follow
  // the camera's clock) back to a composed view.
  uint32_t timestamp_shift = 0;
  // When the participant's last keyframe arrived (CLOCK_MONOTONIC us; 0 = never).
  int64_t last_keyframe_us() const { return last_keyframe_us_; }
  // VP8 always; H.264 when the camera's last keyframe was one every receiver of Chorus's H.264
  // decodes as it is (video::H264ForwardableAsSent): its frames may be forwarded.
  bool forwardable_as_sent() const { return forwardable_as_sent_; }
  // The RTP timestamp of the last frame sent to it (0 before any).
  uint32_t last_timestamp() const { return last_timestamp_; }

  uint64_t frames_decoded() const { return frames_decoded_; }
  uint64_t nacks_sent() const { return nacks_sent_; }
  uint64_t packets_retransmitted() const { return retransmitted_; }
  uint64_t frames_sent() const { return frames_sent_; }
  uint64_t keyframe_requests_sent() const { return plis_sent_; }
  uint64_t packets_received() const { return packets_received_; }

 private:
  VideoEndpoint(const std::string& id, const VideoConfig& config,
                std::unique_ptr<net::DatagramIo> socket, EngineStats* stats);
  void HandleDatagram(size_t length, int64_t now_us);
  void HandleRtcp(size_t length, int64_t now_us);
  // Asks for the packets between the highest sequence number seen and `sequence` (a gap).
  void NackGap(uint16_t sequence);
  void Retransmit(uint16_t sequence, int64_t now_us);
  // Protects and sends send_buffer_[0, length); an RTP packet sent is kept in the history under
  // `sequence`.
  void Send(size_t length, bool rtcp, uint16_t sequence = 0);

  const std::string id_;
  const VideoConfig config_;
  VideoAnswer answer_;
  std::unique_ptr<net::DatagramIo> socket_;
  EngineStats* const stats_;
  std::unique_ptr<srtp::SrtpSession> inbound_;   // null for plain RTP
  std::unique_ptr<srtp::SrtpSession> outbound_;  // null for plain RTP
  std::unique_ptr<video::FrameAssembler> assembler_;
  std::unique_ptr<video::VideoDecoder> decoder_;
  // After a lost or undecodable frame, later frames depend on what is missing: they are skipped
  // (the tile keeps its last good picture) until a keyframe, asked for with PLI, arrives.
  bool waiting_for_keyframe_ = true;
  bool decode_needed_ = true;
  bool decoder_waits_keyframe_ = false;  // decoding resumed: from the next keyframe
  std::vector<ReceivedFrame> received_;  // the first received_count_ are this tick's
  size_t received_count_ = 0;
  size_t received_bytes_ = 0;
  uint64_t assembler_drops_seen_ = 0;
  video::Picture picture_;
  std::vector<uint8_t> frame_;  // reassembly output, reused
  uint32_t remote_ssrc_ = 0;
  uint16_t sequence_ = 0;
  uint32_t last_timestamp_ = 0;  // of the last frame sent
  int64_t last_keyframe_us_ = 0;
  bool forwardable_as_sent_ = false;
  bool keyframe_requested_ = true;  // a new viewer starts with a keyframe
  int64_t last_pli_us_ = -1'000'000'000;
  uint64_t packets_received_ = 0;
  uint64_t frames_decoded_ = 0;
  uint64_t frames_sent_ = 0;
  uint64_t plis_sent_ = 0;
  int64_t last_picture_us_ = 0;
  uint64_t packets_sent_ = 0;
  uint64_t octets_sent_ = 0;
  uint64_t bytes_sent_ = 0;  // every datagram sent (media, retransmissions, RTCP), for the tier
  // Sent packets, as sent (after SRTP), slot = sequence % kHistory; allocated once.
  struct Sent {
    uint16_t sequence = 0;
    uint16_t length = 0;  // 0 = empty
    int64_t resent_us = 0;
  };
  static constexpr size_t kHistorySlotBytes = 1600;
  std::vector<Sent> history_;
  std::vector<uint8_t> history_bytes_;
  bool have_highest_ = false;
  uint16_t highest_sequence_ = 0;  // the participant's, for gap detection
  uint64_t nacks_sent_ = 0;
  uint64_t retransmitted_ = 0;
  int64_t last_report_us_ = 0;
  int64_t last_remb_us_ = 0;
  uint64_t remb_sent_bps_ = 0;
  ViewerTier tier_;
  alignas(16) std::array<uint8_t, 2048> receive_buffer_{};
  alignas(16) std::array<uint8_t, 1600> send_buffer_{};
};

}  // namespace chorus::engine
