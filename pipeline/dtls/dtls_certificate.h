#pragma once

// The node's DTLS identity: one ECDSA P-256 key and a self-signed certificate for it (CN
// "chorus", a random 64-bit serial, valid from a day before creation to 30 days after), made once
// when the node starts. WebRTC does not use certificate chains: each side trusts the certificate
// whose SHA-256 fingerprint the other put in its SDP (RFC 8827, section 6.5), so the certificate
// only has to be fresh and unique, and the fingerprint() goes into every SDP answer.
//
// The certificate also holds the server SSL_CTX every DtlsTransport creates its SSL object from:
// DTLS 1.2 only, ECDHE-ECDSA with AES-GCM or ChaCha20-Poly1305, the use_srtp extension (RFC 5764)
// with SRTP_AEAD_AES_128_GCM preferred over SRTP_AES128_CM_SHA1_80, no session cache or tickets,
// no renegotiation, and a bound on the peer's certificate chain.
//
// Thread safety: immutable after Generate() and shared by every media worker through
// std::shared_ptr<const DtlsCertificate>. OpenSSL allows one configured SSL_CTX to be used from
// several threads at once for creating SSL objects (SSL_new takes a reference with an atomic
// count; the session cache, the one mutable part, is off), so no worker needs its own copy.
// Generate() may be called from any thread.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/dtls/dtls_fingerprint.h"

// OpenSSL handles, declared here so users do not include OpenSSL (the same typedefs as
// openssl/types.h).
typedef struct ssl_ctx_st SSL_CTX;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace chorus::dtls {

class DtlsCertificate {
 public:
  // A fresh key pair and certificate, and the SSL_CTX around them. INTERNAL (with OpenSSL's error
  // text) if key generation, signing or the context setup fails; nothing else can fail.
  static absl::StatusOr<std::shared_ptr<const DtlsCertificate>> Generate();

  ~DtlsCertificate();
  DtlsCertificate(const DtlsCertificate&) = delete;
  DtlsCertificate& operator=(const DtlsCertificate&) = delete;

  // SHA-256 of the certificate's DER encoding, and its SDP text ("AB:CD:...", what goes after
  // "a=fingerprint:sha-256 ").
  const DtlsFingerprint& fingerprint() const { return fingerprint_; }
  std::span<const uint8_t, kSha256Bytes> fingerprint_sha256() const { return fingerprint_.sha256; }
  const std::string& fingerprint_sdp() const { return fingerprint_sdp_; }

  // The certificate in DER, for diagnostics and tests.
  std::span<const uint8_t> der() const { return der_; }

 private:
  friend class DtlsTransport;

  DtlsCertificate(EVP_PKEY* key, X509* certificate, SSL_CTX* context, std::vector<uint8_t> der,
                  const DtlsFingerprint& fingerprint);

  // The configured server context; DtlsTransport calls SSL_new on it (thread-safe, see above).
  SSL_CTX* server_context() const { return context_; }

  EVP_PKEY* key_;      // owned, EVP_PKEY_free
  X509* certificate_;  // owned, X509_free
  SSL_CTX* context_;   // owned, SSL_CTX_free (each SSL made from it holds its own reference)
  std::vector<uint8_t> der_;
  DtlsFingerprint fingerprint_;
  std::string fingerprint_sdp_;
};

}  // namespace chorus::dtls
