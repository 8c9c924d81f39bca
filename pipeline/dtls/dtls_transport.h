#pragma once

// The DTLS side of one participant's WebRTC transport: a DTLS 1.2 server handshake (Chorus answers
// with a=setup:passive, so the browser is the client) that ends in SRTP keys (DTLS-SRTP, RFC 5764;
// WebRTC security, RFC 8827). Datagrams come in from the ICE-selected 5-tuple through
// HandleDatagram() and go out through the Listener; OpenSSL runs on memory BIOs, so nothing here
// touches a socket or blocks.
//
// Thread affinity: everything runs on the media worker that owns the participant (OpenSSL's SSL
// objects are not thread-safe); debug builds check that every call comes from one thread. Create()
// may run on another thread before the transport is handed to the worker.
//
// Bounded work: one HandleDatagram() or OnTimer() processes at most one datagram (or one
// retransmission) - at worst one ECDHE key exchange, one ECDSA signature and one verification,
// well under a millisecond - so a handshake never holds up a 20 ms audio tick.
//
// Hostile input: datagrams that are too large, not DTLS (RFC 7983) or not well-formed records are
// dropped and counted before OpenSSL sees them; a handshake gets a budget of datagrams and bytes
// and a deadline (30 s from Create); a ClientHello that offers no SRTP profile we support fails at
// once, before any public-key work; a peer certificate whose SHA-256 differs from the SDP
// fingerprint fails the handshake; renegotiation is refused (the peer gets a no_renegotiation
// alert, the keys do not change); application data after the handshake is dropped. A failed or
// closed transport frees its OpenSSL state at once and drops everything after.
//
// Time: the deadline is kept on the injected clock. The retransmission timer is OpenSSL's, which
// reads the system clock (DTLSv1_get_timeout / DTLSv1_handle_timeout); NextTimeoutUs() converts
// it to the injected clock's time line.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <thread>

#include "absl/status/statusor.h"
#include "pipeline/base/clock.h"
#include "pipeline/dtls/dtls_certificate.h"
#include "pipeline/dtls/dtls_fingerprint.h"
#include "pipeline/dtls/dtls_srtp.h"

// OpenSSL handles (the same typedefs as openssl/types.h), so users do not include OpenSSL.
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace chorus::dtls {
namespace internal {
struct HandshakeNotes;
}  // namespace internal

enum class DtlsState : uint8_t {
  kNew,         // created, no ClientHello yet
  kConnecting,  // handshake under way
  kConnected,   // keys delivered through OnDtlsConnected
  kFailed,      // see failure(); OnDtlsFailed was called
  kClosed,      // the peer sent close_notify (OnDtlsClosed), or Close() was called
};
const char* DtlsStateName(DtlsState state);

// Why a transport failed (the `reason` label of the failure metric).
enum class DtlsFailure : uint8_t {
  kTimeout,  // no completed handshake by the deadline, or OpenSSL gave up retransmitting
  kFingerprintMismatch,  // the peer's certificate is not the one its SDP named
  kNoSrtpProfile,        // the peer offered no SRTP protection profile we support
  kHandshakeBudget,      // the peer sent more handshake datagrams or bytes than a handshake needs
  kPeerAlert,            // the peer sent a fatal alert
  kProtocolError,        // OpenSSL refused the handshake or a record (bad message, bad MAC, ...)
  kKeyExport,            // exporting the keying material failed (an OpenSSL internal error)
  kCount,
};
inline constexpr size_t kDtlsFailureCount = static_cast<size_t>(DtlsFailure::kCount);
const char* DtlsFailureName(DtlsFailure failure);

// Why a datagram was dropped without reaching OpenSSL, or what OpenSSL handed us that we ignore
// (the `reason` label of the drop metric).
enum class DtlsDrop : uint8_t {
  kOversized,        // larger than DtlsTransportOptions::max_datagram_bytes
  kNotDtls,          // first byte outside 20..63 (RFC 7983): STUN, RTP and the like
  kMalformedRecord,  // not a sequence of well-formed DTLS 1.0/1.2 record headers
  kNotAccepting,     // the transport has failed or closed
  kApplicationData,  // application data after the handshake (WebRTC data channels are not served)
  kCount,
};
inline constexpr size_t kDtlsDropCount = static_cast<size_t>(DtlsDrop::kCount);
const char* DtlsDropName(DtlsDrop drop);

// One transport's counters. Worker thread only; read them from the owner.
struct DtlsTransportStats {
  uint64_t datagrams_in = 0;
  uint64_t bytes_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t bytes_out = 0;
  uint64_t retransmissions = 0;  // OnTimer calls on which OpenSSL resent a flight
  uint64_t renegotiations_refused = 0;
  std::array<uint64_t, kDtlsDropCount> drops{};

  uint64_t drop(DtlsDrop reason) const { return drops[static_cast<size_t>(reason)]; }
};

// The same, summed over every transport of a node, for metrics: relaxed atomics that any worker
// adds to and a scrape reads. Optional (DtlsTransportOptions::counters).
struct DtlsCounters {
  std::atomic<uint64_t> handshakes_started{0};
  std::atomic<uint64_t> handshakes_completed{0};
  std::atomic<uint64_t> retransmissions{0};
  std::atomic<uint64_t> renegotiations_refused{0};
  std::array<std::atomic<uint64_t>, kDtlsFailureCount> failures{};
  std::array<std::atomic<uint64_t>, kDtlsDropCount> drops{};

  uint64_t failure(DtlsFailure reason) const {
    return failures[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }
  uint64_t drop(DtlsDrop reason) const {
    return drops[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
  }
};

struct DtlsTransportOptions {
  // Largest datagram we send (UDP payload). 1200 keeps a flight clear of IP fragmentation on any
  // path WebRTC runs over (it is what browsers use). 256..1500.
  size_t mtu_bytes = 1200;
  // Largest datagram we accept; larger ones were IP-fragmented on the way or are not DTLS from a
  // browser. mtu_bytes..16384.
  size_t max_datagram_bytes = 1500;
  // What a handshake may take from the peer before it fails with kHandshakeBudget. A browser's
  // handshake is 2 flights of a few datagrams; these allow every retransmission OpenSSL makes
  // the peer do and more, and bound a flood of ClientHellos or fragments. At least 1 each.
  uint32_t max_handshake_datagrams = 256;
  size_t max_handshake_bytes = 64 * 1024;
  // From Create() to a completed handshake, on the injected clock (RFC 8827 sets none; 30 s is
  // ICE's own failure horizon). 1 ms..10 min.
  int64_t handshake_timeout_us = 30'000'000;
  // Our flight retransmission timer: the first timeout, doubled up to the cap (RFC 6347 4.2.4.1).
  // OpenSSL fires a timer 15 ms early and gives up after 12 timeouts (then kTimeout).
  // 1 ms..60 s each, initial <= max.
  uint32_t initial_retransmit_us = 100'000;
  uint32_t max_retransmit_us = 4'000'000;
  // Node-wide counters to add to; not owned, must outlive the transport. May be null.
  DtlsCounters* counters = nullptr;
};

class DtlsTransport {
 public:
  // Callbacks, all on the worker thread and from inside HandleDatagram(), OnTimer() or Close().
  // A listener must not call back into the transport or destroy it from a callback (post that to
  // run after the call returns).
  class Listener {
   public:
    // A datagram for the peer on the ICE-selected 5-tuple. The bytes are valid only during the
    // call. At most mtu_bytes.
    virtual void OnDtlsSend(std::span<const uint8_t> datagram) = 0;
    // The handshake completed with the SDP's certificate: create the SRTP sessions from `keys`
    // (keys.local outbound, keys.remote inbound). Called once.
    virtual void OnDtlsConnected(const SrtpKeys& keys) = 0;
    // The handshake failed, or a connected peer aborted with a fatal alert. Final: the transport
    // accepts nothing more. Called at most once, and never after OnDtlsClosed.
    virtual void OnDtlsFailed(DtlsFailure reason) = 0;
    // The peer closed the association with close_notify (we answered with ours). Final.
    virtual void OnDtlsClosed() = 0;

   protected:
    virtual ~Listener() = default;
  };

  // A server transport presenting `certificate` and expecting a client certificate whose SHA-256
  // is `remote_fingerprint`. `listener` and `clock` are not owned and must outlive the transport.
  // The handshake deadline starts now (clock.NowUs()).
  // Errors: INVALID_ARGUMENT for a null certificate or listener or options out of range;
  // INTERNAL when OpenSSL cannot create the SSL object.
  static absl::StatusOr<std::unique_ptr<DtlsTransport>> Create(
      std::shared_ptr<const DtlsCertificate> certificate, const DtlsFingerprint& remote_fingerprint,
      Listener* listener, const base::Clock& clock, const DtlsTransportOptions& options = {});
  ~DtlsTransport();
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // One datagram from the peer whose first byte said DTLS (the caller demultiplexes by RFC 7983;
  // anything else is dropped here too). Returns whether it was passed to OpenSSL; a drop is
  // counted in stats() by reason. May call any Listener callback.
  bool HandleDatagram(std::span<const uint8_t> datagram);

  // Call when `now_us` (the injected clock's time) has reached NextTimeoutUs(): fails the
  // handshake at its deadline, otherwise lets OpenSSL retransmit its last flight if its timer has
  // run out. Harmless at any other time. May call OnDtlsSend or OnDtlsFailed.
  void OnTimer(int64_t now_us);

  // When OnTimer() should next run, in the injected clock's microseconds: the earlier of the
  // handshake deadline and OpenSSL's retransmission timer. nullopt once connected, failed or
  // closed (nothing is timed then).
  std::optional<int64_t> NextTimeoutUs() const;

  // Ends the association: sends close_notify when connected, then accepts nothing more. No
  // listener callback except OnDtlsSend. Idempotent.
  void Close();

  DtlsState state() const { return state_; }
  // Why it failed (set in kFailed only).
  std::optional<DtlsFailure> failure() const { return failure_; }
  const DtlsTransportStats& stats() const { return stats_; }
  const DtlsFingerprint& remote_fingerprint() const { return remote_fingerprint_; }

 private:
  DtlsTransport(std::shared_ptr<const DtlsCertificate> certificate,
                const DtlsFingerprint& remote_fingerprint, Listener* listener,
                const base::Clock& clock, const DtlsTransportOptions& options);

  bool Handshaking() const { return state_ == DtlsState::kNew || state_ == DtlsState::kConnecting; }
  void Drop(DtlsDrop reason);
  void ContinueHandshake();
  void CompleteHandshake();
  void ReadAfterHandshake();
  // Sends what OpenSSL wrote, packed into datagrams of at most mtu_bytes.
  void FlushOutgoing();
  // What went wrong after OpenSSL returned an error, from the callbacks' notes.
  DtlsFailure FailureFromNotes() const;
  // Final states: free OpenSSL's state, then tell the listener (last, so it may post our
  // destruction).
  void Fail(DtlsFailure reason);
  void FinishClosed(bool notify);
  void SyncRenegotiationCount();
  // Frees the SSL object and its BIOs (failure, close, destruction).
  void ReleaseSsl();
  bool OnOwningThread();

  const std::shared_ptr<const DtlsCertificate> certificate_;  // keeps the SSL_CTX alive
  const DtlsFingerprint remote_fingerprint_;
  Listener* const listener_;  // not owned
  const base::Clock& clock_;  // not owned
  const DtlsTransportOptions options_;
  const int64_t deadline_us_;  // on clock_
  // Written by the OpenSSL callbacks of ssl_; owned, outlives ssl_.
  const std::unique_ptr<internal::HandshakeNotes> notes_;
  SSL* ssl_ = nullptr;       // owned (SSL_free in ReleaseSsl); owns both memory BIOs
  BIO* incoming_ = nullptr;  // owned by ssl_: datagrams from the peer
  BIO* outgoing_ = nullptr;  // owned by ssl_: what OpenSSL writes for the peer

  DtlsState state_ = DtlsState::kNew;
  std::optional<DtlsFailure> failure_;
  DtlsTransportStats stats_;
  uint32_t handshake_datagrams_ = 0;
  size_t handshake_bytes_ = 0;
  bool in_call_ = false;  // debug: no re-entry from a listener callback
  std::thread::id owning_thread_;
};

}  // namespace chorus::dtls
