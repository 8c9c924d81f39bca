#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pipeline/dtls/dtls_transport.h"
#include "pipeline/ice/ice_lite.h"

namespace chorus::engine {

// Why the engine dropped an incoming packet or frame. Every drop is counted by its reason and
// never disturbs other endpoints.
enum class DropReason : uint8_t {
  kMalformedRtp,        // not a valid RTP packet (RFC 3550 checks)
  kMalformedRtcp,       // not a valid compound RTCP packet
  kSrtpAuth,            // SRTP/SRTCP authentication failed: wrong key or forged
  kSrtpReplay,          // SRTP replay protection: a packet seen before
  kSrtpOther,           // any other SRTP failure
  kPlainRtpRefused,     // unprotected media on an SRTP endpoint is not decrypted; counted as auth
  kUnknownPayloadType,  // a payload type that was not negotiated
  kOversized,           // a datagram larger than any media packet we accept
  kLate,                // arrived after its play-out time
  kDuplicate,           // already in the jitter buffer
  kBufferFull,          // jitter buffer overflow (a flood)
  kNotAdmitted,         // media from an endpoint still in the lobby
  kDecodeError,         // the decoder refused the payload
  // WebRTC (engine/webrtc_transport.h):
  kUnknownPeer,    // on the shared port from an address that passed no ICE check
  kIceRejected,    // a STUN check that failed (wrong username, integrity, fingerprint, role)
  kDtlsRejected,   // a DTLS datagram the transport dropped (not well-formed, after failure)
  kNotConnected,   // SRTP before the DTLS handshake gave keys
  kUnknownStream,  // an RTP packet of no negotiated stream (SSRC, payload type)
  kQueueFull,      // the stream's thread fell behind (a flood)
  kCount,
};
inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);
const char* DropReasonName(DropReason reason);

// A histogram with fixed bucket bounds, safe to observe from any thread without locks (relaxed
// atomics) and read at scrape time. The snapshot is not atomic as a whole: fine for monitoring.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;
  // The value below which `quantile` (0..1) of observations fall, by linear interpolation within
  // the bucket; for tests and benchmark reports.
  double Quantile(double quantile) const;

 private:
  static constexpr size_t kMaxBuckets = 32;
  std::vector<double> upper_bounds_;
  std::array<std::atomic<uint64_t>, kMaxBuckets + 1> counts_{};
  std::atomic<uint64_t> sum_micro_{0};  // sum * 1e6, so it can be an integer atomic
};

// What the WebRTC transports of every media worker's shared port do (engine/webrtc_transport.h).
// Datagrams they drop are counted under DropReason (unknown_peer, ice_rejected, ...).
struct WebRtcStats {
  // Participants' transports on the node now: one per WebRTC participant, from its join to its
  // removal.
  std::atomic<int64_t> transports{0};
  // STUN Binding requests handed to a transport (their USERNAME named one, or they came from a
  // validated address), by outcome.
  std::array<std::atomic<uint64_t>, ice::kIceResultCount> stun_checks{};
  // Selected pairs that went 30 s without a check (RFC 7675): nothing more is sent to them.
  std::atomic<uint64_t> consent_expiries{0};
  // ICE restarts (a new offer with new ICE credentials).
  std::atomic<uint64_t> ice_restarts{0};
  // Transport-wide congestion control feedback messages sent (RTCP RTPFB FMT 15).
  std::atomic<uint64_t> transport_feedback_sent{0};
  // DTLS handshakes, failures by reason, retransmitted flights, datagrams dropped before OpenSSL.
  dtls::DtlsCounters dtls;
};

// The engine's counters, shared by all media workers (relaxed atomics: each increment is one
// uncontended instruction in practice, as sessions do not move between workers).
struct EngineStats {
  EngineStats();

  std::atomic<uint64_t> rtp_packets_in{0};
  std::atomic<uint64_t> rtp_packets_out{0};
  std::atomic<uint64_t> rtcp_packets_in{0};
  std::atomic<uint64_t> rtcp_packets_out{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> send_failures{0};
  // Packets the senders lost on the way to us (RFC 3550 A.3, from sequence numbers).
  std::atomic<uint64_t> packets_lost{0};
  // Frames the decoder concealed (loss or late), and those rebuilt from Opus in-band FEC.
  std::atomic<uint64_t> concealed_frames{0};
  std::atomic<uint64_t> fec_frames{0};
  // Audio frames not decoded: their RFC 6464 level came with them and the mixer did not select
  // their speaker.
  std::atomic<uint64_t> decodes_skipped{0};
  std::atomic<uint64_t> ticks{0};
  // Ticks that started one period or more late (the worker fell behind real time).
  std::atomic<uint64_t> tick_overruns{0};
  std::atomic<uint64_t> encodes{0};
  // Audio packets sent as they came from the one voice their listener hears, instead of an
  // encoded mix (issue: forwarding).
  std::atomic<uint64_t> audio_forwarded{0};
  std::array<std::atomic<uint64_t>, kDropReasonCount> drops{};
  WebRtcStats webrtc;

  // Video: whole frames reassembled from participants, decoded, skipped while waiting for a
  // keyframe after a loss; views composed and encoded; keyframe requests (RTCP PLI) sent to
  // participants and received from them (PLI, FIR).
  std::atomic<uint64_t> video_frames_in{0};
  std::atomic<uint64_t> video_frames_decoded{0};
  std::atomic<uint64_t> video_frames_skipped{0};
  std::atomic<uint64_t> video_frames_composed{0};
  std::atomic<uint64_t> video_frames_encoded{0};
  // Participants' frames sent as they came to a viewer who sees that participant alone.
  std::atomic<uint64_t> video_frames_forwarded{0};
  // Video encoders started: a view new to the session, unless an idle one with the same encoder
  // settings was reused.
  std::atomic<uint64_t> video_encoders_started{0};
  std::atomic<uint64_t> video_keyframe_requests_sent{0};
  std::atomic<uint64_t> video_keyframe_requests_received{0};
  // Retransmission (RFC 4585 generic NACK): NACKs sent to participants for gaps in what they
  // send; NACKs received from them; packets resent from the history, and asked-for packets no
  // longer (or never) in it.
  std::atomic<uint64_t> video_nacks_sent{0};
  std::atomic<uint64_t> video_nacks_received{0};
  std::atomic<uint64_t> video_retransmissions{0};
  std::atomic<uint64_t> video_retransmissions_missed{0};
  // Viewers moved to a lower or a higher bitrate tier of their view (bitrate_tiers.h).
  std::atomic<uint64_t> video_tier_downs{0};
  std::atomic<uint64_t> video_tier_ups{0};
  static size_t VideoEncodeIndex(int codec, int height) {
    const size_t tier = height <= 360 ? 0 : height <= 720 ? 1 : height <= 1080 ? 2 : 3;
    return static_cast<size_t>(codec) * 4 + tier;
  }

  // Work of one tick of one worker (all its sessions), microseconds.
  Histogram tick_duration_us;
  // From the arrival of a packet to the send of the first mix that carries it, excluding the
  // time the jitter buffer deliberately held it, milliseconds.
  Histogram mix_latency_ms;
  // Per codec (index = codec::AudioCodec), microseconds per 20 ms frame.
  std::array<Histogram, 4> decode_us;
  std::array<Histogram, 4> encode_us;
  // Interarrival jitter of received streams (RFC 3550 A.8), milliseconds, observed per RTCP
  // report interval.
  Histogram jitter_ms;
  // Encoding one view frame, microseconds, by codec (0 VP8, 1 H.264) x 4 + size tier (0 up to
  // 360p, 1 up to 720p, 2 up to 1080p, 3 larger).
  std::array<Histogram, 8> video_encode_us;

  void Drop(DropReason reason) {
    drops[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
};

inline void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace chorus::engine
