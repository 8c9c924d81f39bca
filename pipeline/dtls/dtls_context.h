#pragma once

// The server SSL_CTX behind DtlsCertificate and the OpenSSL callbacks installed on it. Module
// internal: DtlsTransport is the only user.
//
// OpenSSL calls these callbacks from inside SSL_do_handshake / SSL_read / DTLSv1_handle_timeout,
// on the worker that owns the SSL. They only record what happened in the SSL's HandshakeNotes
// (its app data); the transport acts on the notes once OpenSSL has returned, so no listener is
// ever called from inside OpenSSL.

#include <cstdint>

#include "absl/status/statusor.h"
#include "pipeline/dtls/dtls_fingerprint.h"
#include "pipeline/dtls/openssl_util.h"

namespace chorus::dtls::internal {

struct HandshakeNotes {
  // The fingerprint the peer's certificate must have (from its SDP). Not owned.
  const DtlsFingerprint* remote_fingerprint = nullptr;
  // Retransmission timer of DTLS_set_timer_cb: the first timeout, then doubled up to the cap.
  uint32_t initial_retransmit_us = 100'000;
  uint32_t max_retransmit_us = 4'000'000;

  bool fingerprint_mismatch = false;    // the verify callback refused the certificate
  bool no_srtp_profile = false;         // the ClientHello offered no profile we support
  bool peer_fatal_alert = false;        // the peer sent a fatal alert
  uint64_t renegotiations_refused = 0;  // no_renegotiation alerts we sent
};

// DTLS 1.2 server context for `key` and `certificate` (see dtls_certificate.h for the settings).
absl::StatusOr<UniqueSslCtx> NewServerContext(EVP_PKEY* key, X509* certificate);

// Makes `notes` the target of `ssl`'s callbacks and installs the retransmission timer. `notes`
// must outlive `ssl`.
void AttachNotes(SSL* ssl, HandshakeNotes* notes);

// Whether the certificate `ssl`'s peer presented has the SHA-256 fingerprint `expected`
// (constant-time comparison); false when the peer presented none.
bool PeerFingerprintMatches(const SSL* ssl, const DtlsFingerprint& expected);

// Whether a ClientHello's use_srtp extension body (RFC 5764, section 4.1.1) lists a profile we
// select. False when it is malformed.
bool UseSrtpOffersSupportedProfile(const uint8_t* body, size_t length);

}  // namespace chorus::dtls::internal
