#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/codec/audio_decoder.h"
#include "pipeline/codec/audio_encoder.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/engine/opus_loss.h"
#include "pipeline/engine/session_types.h"
#include "pipeline/net/event_loop.h"
#include "pipeline/net/udp_socket.h"
#include "pipeline/rtp/jitter_buffer.h"
#include "pipeline/rtp/receive_statistics.h"
#include "pipeline/rtp/rtp_packet.h"
#include "pipeline/srtp/srtp_session.h"

namespace chorus::engine {

// One participant's audio stream on a media node: its UDP socket (RTP and RTCP multiplexed,
// RFC 5761), SRTP contexts in both directions, receive statistics, adaptive jitter buffer,
// decoder, and the RTP state of what it is sent (own SSRC, sequence numbers, timestamps, SRTP
// context), plus a personal encoder used while it is a selected speaker (its mix-minus is its
// own).
//
// Thread: the owning session's worker thread only. Receive and send allocate nothing.
class AudioEndpoint final : public net::EventLoop::Handler {
 public:
  static constexpr int kFrameSamples = 960;  // 20 ms at 48 kHz

  static absl::StatusOr<std::unique_ptr<AudioEndpoint>> Create(
      const EndpointConfig& config, std::unique_ptr<net::DatagramIo> socket, EngineStats* stats);
  ~AudioEndpoint() override;

  const std::string& id() const { return config_.id; }
  // The endpoint's slot in the session's mixer (set by the session).
  int mixer_slot = -1;
  const EndpointConfig& config() const { return config_; }
  const EndpointAnswer& answer() const { return answer_; }
  int fd() const { return socket_->fd(); }
  Routing& routing() { return config_.routing; }

  // Receive path: reads what the socket holds, at most kMaxDatagramsPerWakeup at a time so a
  // flood on one endpoint cannot hold the worker away from its tick (epoll comes back for more).
  static constexpr int kMaxDatagramsPerWakeup = 64;
  void OnReadable() override;

  // Tick: one 20 ms frame of what the participant said.
  //   kNothing   nothing to mix (not started, silence/DTX, not admitted);
  //   kFrame     frame() holds it, decoded or concealed;
  //   kHeld      a packet that came with its RFC 6464 level (level()) is held undecoded until the
  //              mixer has chosen whom it hears: DecodeHeld() if this participant is heard,
  //              SkipHeld() if not, in the same tick. Most of a large room talks unheard (the
  //              mixer takes at most K speakers per bus), and their frames need no decoding.
  enum class Pulled : uint8_t { kNothing, kFrame, kHeld };
  Pulled PullFrame(int64_t now_us);
  void DecodeHeld();
  void SkipHeld();
  // The packet held this tick (kHeld), before DecodeHeld() or SkipHeld(); empty otherwise.
  std::span<const uint8_t> held() const { return held_; }
  std::span<const int16_t> frame() const { return frame_; }
  // Level of the last frame as RFC 6464 -dBov (0 loudest, 127 silence), from the packet's
  // audio-level extension when present, else measured.
  uint8_t level() const { return level_; }
  // Arrival time (CLOCK_MONOTONIC, us) of the packet behind the last frame; 0 when concealed.
  int64_t frame_arrival_us() const { return frame_arrival_us_; }
  // The packet behind this tick's frame, as it came, when it may be forwarded to a listener who
  // hears this participant alone: an Opus packet of 20 ms that decoded cleanly, or that was
  // held and skipped (not heard in a mix). Empty otherwise (nothing came, the frame was
  // concealed, another codec). Valid until the tick ends.
  std::span<const uint8_t> forwardable() const { return forwardable_; }
  // Whether this endpoint may be sent `payload` (another's forwardable()) instead of an encoded
  // mix: it takes Opus, its link reports no more loss than the encoder's default plans for (a
  // lossy link gets the mix with in-band FEC planned for it), and the payload's rate is within
  // the bitrate it asked for, and its decoder goes on with it (ContinuesWith).
  bool TakesForwarded(std::span<const uint8_t> payload) const;
  // Whether the receiver's decoder goes from what it was last sent to `payload` without a heard
  // reset: after a forwarded packet, before any packet, after a quiet one (kQuietLevel), or when
  // `payload` has the Opus mode (SILK, hybrid, CELT), bandwidth and channels of the last packet
  // encoded for it (RFC 6716 section 3.1: the TOC byte). A change of mode between two streams
  // has no redundancy frame to smooth it: the decoder starts its new mode from silence (a dip
  // and a click), so forwarding waits for a packet that matches, or for a pause.
  bool ContinuesWith(std::span<const uint8_t> payload) const;
  // The last packet sent was a forwarded one (or nothing was sent since, SkipFrame()).
  bool forwarded_last() const { return forwarded_last_; }
  // A frame at or below -50 dBov (RFC 6464 level 50): a decoder reset there is not heard.
  static constexpr uint8_t kQuietLevel = 50;
  // Sends `payload` as this endpoint's next packet (its own SSRC, sequence numbers and
  // timestamps, its SRTP context): the one voice it hears, forwarded instead of encoded.
  void Forward(std::span<const uint8_t> payload, uint8_t level, int64_t now_us);

  // Encodes `mix` with the personal encoder and sends it. After forwarded packets the encoder is
  // first primed with `previous` (what the endpoint heard the tick before, if known), so that
  // its first packet continues what the receiver's decoder played.
  void EncodeAndSend(std::span<const int16_t> mix, int64_t now_us,
                     std::span<const int16_t> previous = {});
  // Sends an already encoded payload (from a shared encoder) as this endpoint's next packet.
  // `level` is the mix's RFC 6464 level (-dBov), carried in the audio-level extension when the
  // endpoint negotiated it.
  void SendPayload(std::span<const uint8_t> payload, uint8_t level, int64_t now_us);
  // The speakers heard in what this endpoint is sent this tick (RFC 3550 CSRCs, loudest first,
  // at most 15) with their levels (RFC 6465, sent when negotiated). Set before sending.
  void SetContributors(std::span<const uint32_t> csrcs, std::span<const uint8_t> levels);
  // The SSRC the endpoint sends with (0 until its first packet).
  uint32_t remote_ssrc() const { return have_remote_ssrc_ ? remote_ssrc_ : 0; }

  // Nothing to send this tick (the encoder produced nothing): time moves on, and the next packet
  // carries the marker bit.
  void SkipFrame();
  // The packet loss, in percent, an Opus encoder sending to this endpoint should plan its in-band
  // FEC for: from the fraction lost the endpoint reports about our stream (smoothed, capped at
  // kMaxOpusLossPercent), the encoder's default before its first report. Its personal encoder
  // follows it as reports arrive; the session applies it to the shared encoder it listens to.
  int wanted_loss_percent() const { return reported_loss_.Percent(default_loss_percent_); }
  // The packet loss percentage the personal encoder uses now (-1 for codecs other than Opus).
  int personal_encoder_loss_percent() const { return encoder_->packet_loss_percent(); }

  // The jitter buffer's current target delay.
  int jitter_target_ms() const { return jitter_buffer_->stats().target_delay_ms; }
  // Sends an RTCP sender report with a reception report about the participant's stream, about
  // every second.
  void MaybeSendRtcp(int64_t now_us);

  // Keypad mode (routing().keypad): sends the next 20 ms of the prompt (Routing::prompt, then
  // the invitation to type again every few seconds; silence from the first key press until the
  // prompt changes), encoded with the personal encoder.
  void SendPrompt(int64_t now_us);
  // Its routing was set (Session::UpdateRouting; at creation): the prompt it names is looked up
  // here, off the tick, and starts again from its beginning (a prompt set again is played again:
  // a second wrong PIN).
  void RoutingChanged();
  // Keys kept at most (the oldest go first).
  static constexpr size_t kMaxKeypadDigits = 32;

  EndpointStatsSnapshot Stats() const;

  // Whether the kernel drops this participant's packets of digital silence before they reach the
  // worker (rtp::DigitalSilenceFilter; one in kSilenceSample still comes). The session turns it
  // on in rooms of three or more, where a voice of silence is never heard differently from none;
  // in a two-party room the other's silence is forwarded as it came. Only an endpoint with its
  // own socket and the RFC 6464 extension can have it, and only from its first packet on (until
  // then the wish is kept); returns whether it is on.
  bool FilterSilence(bool on);
  static constexpr uint16_t kSilenceSample = 64;  // 1.28 s of 20 ms packets
  bool silence_filtered() const { return silence_filtered_; }

 private:
  AudioEndpoint(const EndpointConfig& config, std::unique_ptr<net::DatagramIo> socket,
                EngineStats* stats);
  void HandleDatagram(size_t length, const net::SocketAddress& from, int64_t now_us);
  void HandleRtcp(size_t length);
  void Send(size_t length, bool rtcp);
  // Decodes one packet into frame_ (concealing what does not decode).
  void Decode(std::span<const uint8_t> payload, int64_t arrival_us);
  // After skipped frames, decodes the last of them (into frame_, to be overwritten) so that the
  // decoder rejoins with fresh state; nothing when none was skipped.
  void CatchUpSkipped();
  // A lost frame into frame_: from the next packet's in-band FEC when it has some, else
  // concealed; skipped frames caught up first.
  void ConcealLost(std::span<const uint8_t> next_payload);

 public:
  // An Opus packet of one 20 ms frame, from this endpoint.
  bool IsForwardable(std::span<const uint8_t> payload) const;

 private:
  // An RFC 4733 telephone event: a key press is kept once (by its start timestamp), in keypad
  // mode only.
  void OnTelephoneEvent(const rtp::RtpPacketView& packet);

  EndpointConfig config_;
  EndpointAnswer answer_;
  std::unique_ptr<net::DatagramIo> socket_;
  EngineStats* const stats_;  // not owned

  std::unique_ptr<srtp::SrtpSession> inbound_;   // null for plain RTP
  std::unique_ptr<srtp::SrtpSession> outbound_;  // null for plain RTP
  std::unique_ptr<rtp::JitterBuffer> jitter_buffer_;
  bool jitter_idle_ = true;  // jitter_buffer_->idle(), as of its last Insert or Pull
  rtp::ReceiveStatistics receive_stats_;
  std::unique_ptr<codec::AudioDecoder> decoder_;
  std::unique_ptr<codec::AudioEncoder> encoder_;

  // Media sent.
  uint16_t sequence_ = 0;
  uint32_t timestamp_ = 0;
  bool need_marker_ = true;
  uint64_t packets_sent_ = 0;
  uint64_t octets_sent_ = 0;
  int64_t last_rtcp_us_ = 0;

  // Media received.
  // Monotonic time of the last authenticated RTP or RTCP packet (of the endpoint's creation
  // until one comes): what the media timeout is judged by.
  int64_t last_media_us_ = 0;
  uint64_t packets_received_ = 0;
  uint64_t srtp_failures_ = 0;
  uint64_t drops_ = 0;
  uint64_t concealed_ = 0;
  uint32_t remote_ssrc_ = 0;
  int64_t reported_lost_ = 0;
  uint8_t remote_fraction_lost_ = 0;  // what the endpoint reports of our stream (of 256)
  ReportedLoss reported_loss_;        // the same, smoothed, for the Opus encoders
  int default_loss_percent_ = 0;      // the encoder's until the endpoint reports
  int personal_loss_percent_ = 0;     // what the personal encoder was last given
  bool have_remote_ssrc_ = false;
  // The kernel filters its digital silence (FilterSilence); whether the last packet that came
  // was silence, and its sequence number: a gap next to silence of less than kSilenceSample
  // packets was most likely filtered, not lost (what the receive statistics report back).
  bool silence_filtered_ = false;
  bool silence_filter_wanted_ = false;
  std::vector<sock_filter> silence_program_;  // empty: cannot be filtered (or not yet wanted)
  bool last_was_silence_ = false;
  uint16_t last_sequence_ = 0;

  std::array<uint32_t, 15> csrcs_{};
  std::array<uint8_t, 15> csrc_levels_{};
  size_t csrc_count_ = 0;
  std::array<int16_t, kFrameSamples> frame_{};
  uint8_t level_ = 127;
  int64_t frame_arrival_us_ = 0;
  std::span<const uint8_t> forwardable_;  // a view into the jitter buffer, for this tick
  bool forwarded_last_ = false;           // the last packet sent was forwarded
  int last_toc_ = -1;                     // the TOC byte of the last Opus packet sent
  uint8_t last_level_ = 127;              // the level of the last packet sent (-dBov)
  // The packet held this tick (a view into the jitter buffer, valid until the tick ends).
  std::span<const uint8_t> held_;
  int64_t held_arrival_us_ = 0;
  // A frame lost this tick of a stream that carries its levels, held like a packet: concealed
  // (or recovered from the next packet's FEC, `lost_next_`) only if the mixer hears it. The
  // level of the last packet that came stands for it. In a large room under loss this spares a
  // concealment (as costly as a decode) per silent listener and tick, which would otherwise
  // slow the tick, let the sockets overflow and so cause more loss.
  bool held_lost_ = false;
  std::span<const uint8_t> lost_next_;
  bool levels_ = false;         // the last packet played came with its level
  uint8_t packet_level_ = 127;  // and this was it
  // The last packet skipped, while the decoder has not seen it: decoded before the next held
  // packet that is heard, so the decoder (Opus, G.722: stateful) rejoins with fresh state.
  std::array<uint8_t, 1500> skipped_payload_{};
  size_t skipped_size_ = 0;
  alignas(16) std::array<uint8_t, 2048> receive_buffer_{};
  alignas(16) std::array<uint8_t, 1600> send_buffer_{};
  std::array<uint8_t, 1500> payload_buffer_{};

  // Keypad mode.
  // The last kMaxKeypadDigits keys, oldest first (no allocation on the receive path).
  std::array<char, kMaxKeypadDigits> keypad_digits_{};
  size_t keypad_digit_count_ = 0;
  uint64_t keypad_presses_ = 0;
  uint32_t last_event_timestamp_ = 0;
  bool have_event_ = false;
  std::span<const int16_t> prompt_first_;
  std::span<const int16_t> prompt_loop_;
  size_t prompt_position_ = 0;
  bool prompt_looping_ = false;
  int prompt_gap_frames_ = 0;
  bool prompt_interrupted_ = false;  // a key was pressed: silence until the prompt changes
  std::array<int16_t, kFrameSamples> prompt_frame_{};
};

}  // namespace chorus::engine
