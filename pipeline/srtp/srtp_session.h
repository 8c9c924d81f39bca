#pragma once

// One direction of SRTP/SRTCP protection (RFC 3711; AEAD_AES_128_GCM per RFC 7714) over a
// libsrtp2 session, keyed with SDES key material (RFC 4568).
//
// Thread affinity: a session is used by one thread at a time, the media worker that owns its
// endpoint (libsrtp sessions hold replay windows and rollover counters without locks). It may be
// created on another thread and handed over before its first packet; debug builds check that all
// packets then come from one thread. Create() is thread-safe (libsrtp is initialised once per
// process through std::call_once).
//
// Hot path: Protect*/Unprotect* work in place in the caller's buffer, allocate nothing, take no
// lock, log nothing and throw nothing; every failure is an SrtpResult the caller counts as a
// drop reason. The one allocation after Create() is libsrtp cloning its per-SSRC stream state the
// first time it sees an SSRC (after that packet authenticated, for inbound), once per SSRC.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>

#include "absl/status/statusor.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_suite.h"

// libsrtp2's session handle (srtp2/srtp.h), declared here so users do not include libsrtp.
typedef struct srtp_ctx_t_* srtp_t;

namespace chorus::srtp {

// What protecting or unprotecting one packet did. Anything but kOk means the packet must be
// dropped; the engine counts drops by this value.
enum class SrtpResult : uint8_t {
  kOk,
  kAuthFailed,  // authentication tag mismatch: wrong key, forged or corrupted packet
  kReplayed,    // index already seen or older than the replay window (RFC 3711, 3.3.2)
  kTooShort,    // shorter than a header plus the tag
  kNoSpace,     // protect: the buffer has no room after `length` for RtpOverhead/RtcpOverhead
  kBadPacket,   // not RTP/RTCP version 2, or its header runs past the packet
  kError,       // anything else libsrtp reports (or `length` larger than the buffer)
};

// Which way the packets go: kInbound unprotects what a peer sent, kOutbound protects what Chorus
// sends. The key material is the sender's: the peer's key for kInbound, Chorus's for kOutbound.
enum class Direction { kInbound, kOutbound };

struct SrtpSessionOptions {
  // Replay window in packets (RFC 3711, 3.3.2), 64 to 32767. 1024 covers video bursts reordered
  // by the network; audio needs far less.
  uint32_t replay_window_packets = 1024;
  // Outbound only: let the same RTP sequence number be protected again (retransmissions, RFC
  // 4588 style resends). When false, protecting an index twice returns kReplayed.
  bool allow_repeat_tx = false;
};

class SrtpSession {
 public:
  // A session for any SSRC of `direction` (libsrtp ssrc_any_inbound / ssrc_any_outbound), so one
  // session serves every stream of one peer. INVALID_ARGUMENT for a replay window out of range;
  // INTERNAL if libsrtp cannot initialise or create the session. The key is copied by libsrtp.
  static absl::StatusOr<std::unique_ptr<SrtpSession>> Create(
      const SrtpKeyMaterial& key, Direction direction, const SrtpSessionOptions& options = {});
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  SrtpSuite suite() const { return suite_; }
  Direction direction() const { return direction_; }

  // `buffer` holds a packet in its first `length` bytes. On kOk the packet has been transformed
  // in place and `*out_length` is its new length; on anything else `*out_length` is untouched and
  // the buffer contents are unspecified. Protect needs buffer.size() >= length + RtpOverhead()
  // (or RtcpOverhead() for RTCP), otherwise kNoSpace. Unprotect never grows the packet.
  SrtpResult ProtectRtp(std::span<uint8_t> buffer, size_t length, size_t* out_length);
  SrtpResult UnprotectRtp(std::span<uint8_t> buffer, size_t length, size_t* out_length);
  SrtpResult ProtectRtcp(std::span<uint8_t> buffer, size_t length, size_t* out_length);
  SrtpResult UnprotectRtcp(std::span<uint8_t> buffer, size_t length, size_t* out_length);

 private:
  SrtpSession(srtp_t session, SrtpSuite suite, Direction direction)
      : session_(session), suite_(suite), direction_(direction) {}
  // Debug builds: binds the session to the first thread that passes a packet.
  bool OnOwningThread();

  srtp_t session_;  // owned; srtp_dealloc in the destructor
  SrtpSuite suite_;
  Direction direction_;
  std::thread::id owning_thread_;
};

}  // namespace chorus::srtp
