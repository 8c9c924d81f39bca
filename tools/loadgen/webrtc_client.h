#pragma once

// The client side of a WebRTC transport, as much of it as a simulated browser participant needs
// against Chorus (an ICE-lite server, the DTLS server):
//   - IceClient: the participant is the full, controlling ICE agent with one candidate pair. It
//     sends a Binding request nominating the pair (USE-CANDIDATE), retransmitted until answered,
//     then one consent check every 5 s (RFC 7675), each signed with the server's password
//     (USERNAME "<server ufrag>:<client ufrag>", PRIORITY, ICE-CONTROLLING, MESSAGE-INTEGRITY,
//     FINGERPRINT; pipeline/ice builds and verifies them).
//   - ClientCertificate, DtlsClientContext, DtlsClient: a DTLS 1.2 client handshake on OpenSSL
//     memory BIOs (the server is a=setup:passive) with the participant's own self-signed ECDSA
//     P-256 certificate, whose fingerprint went into its offer; the server's certificate must
//     match the answer's fingerprint; the SRTP keys are exported per RFC 5764 and split for the
//     client role (pipeline/dtls).
//
// Thread affinity: one thread at a time per object (the generator's loop). A DtlsClientContext
// may be shared by the clients of one thread. Set-up cost only: a handshake is one ECDHE key
// exchange, one ECDSA signature and one verification on each side; checks are rare.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "pipeline/dtls/dtls_srtp.h"
#include "pipeline/ice/stun.h"

// OpenSSL handles (the same typedefs as openssl/types.h), so users do not include OpenSSL.
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace chorus::loadgen {

// PRIORITY of the participant's checks: a peer-reflexive candidate's (RFC 8445 section 7.1.1),
// type preference 110, one local address, component 1.
inline constexpr uint32_t kIceCheckPriority = (110u << 24) | (65535u << 8) | (256u - 1);
// A check is at most this long (USERNAME of two 256-character ufrags and every attribute).
inline constexpr size_t kIceMaxCheckBytes = 640;

class IceClient {
 public:
  // `local_ufrag` is the participant's (from its offer); `remote_*` the server's (from the answer).
  // INVALID_ARGUMENT when the credentials break RFC 8839; INTERNAL when libcrypto cannot key
  // HMAC-SHA1.
  static absl::StatusOr<IceClient> Create(const std::string& local_ufrag,
                                          const std::string& remote_ufrag,
                                          const std::string& remote_pwd, uint64_t tie_breaker);
  IceClient(IceClient&&) noexcept = default;
  IceClient& operator=(IceClient&&) noexcept = default;

  // A new transaction: a Binding request into `out` (USE-CANDIDATE when `nominate`), remembered
  // as the one pending. Returns its length, 0 when `out` is too small.
  size_t BuildCheck(std::span<uint8_t> out, bool nominate);
  // The pending request again, for a retransmission (RFC 8489: same transaction id). 0 when none
  // is pending.
  size_t RebuildPending(std::span<uint8_t> out);
  bool pending() const { return pending_.has_value(); }

  enum class Response : uint8_t {
    kSuccess,  // an authenticated success response to the pending check (no longer pending)
    kError,    // an error response to the pending check (no longer pending)
    kIgnored,  // not a response to the pending check, not authentic, or malformed
  };
  Response HandleResponse(std::span<const uint8_t> datagram);

  const std::string& username() const { return username_; }

 private:
  IceClient(std::string username, ice::StunIntegrityKey key, uint64_t tie_breaker)
      : username_(std::move(username)), key_(std::move(key)), tie_breaker_(tie_breaker) {}

  std::string username_;       // "<remote ufrag>:<local ufrag>"
  ice::StunIntegrityKey key_;  // the server's ice-pwd: requests are signed, answers verified
  uint64_t tie_breaker_;
  std::optional<ice::StunTransactionId> pending_;
  bool pending_nominates_ = false;
};

// A participant's DTLS identity: an ECDSA P-256 key and a self-signed certificate (as a browser
// makes one per peer connection).
class ClientCertificate {
 public:
  static absl::StatusOr<std::shared_ptr<const ClientCertificate>> Generate();
  ~ClientCertificate();
  ClientCertificate(const ClientCertificate&) = delete;
  ClientCertificate& operator=(const ClientCertificate&) = delete;

  const std::array<uint8_t, 32>& fingerprint_sha256() const { return fingerprint_; }
  EVP_PKEY* key() const { return key_; }
  X509* certificate() const { return certificate_; }

 private:
  ClientCertificate() = default;
  EVP_PKEY* key_ = nullptr;      // owned
  X509* certificate_ = nullptr;  // owned
  std::array<uint8_t, 32> fingerprint_{};
};

// The client SSL_CTX every participant's handshake is made from: DTLS 1.2, the use_srtp
// extension with the given profiles (OpenSSL names, e.g. "SRTP_AES128_CM_SHA1_80" or
// "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80", as browsers offer), no session tickets.
class DtlsClientContext {
 public:
  static absl::StatusOr<std::unique_ptr<DtlsClientContext>> Create(const std::string& profiles);
  ~DtlsClientContext();
  DtlsClientContext(const DtlsClientContext&) = delete;
  DtlsClientContext& operator=(const DtlsClientContext&) = delete;
  SSL_CTX* get() const { return context_; }

 private:
  explicit DtlsClientContext(SSL_CTX* context) : context_(context) {}
  SSL_CTX* context_;  // owned
};

class DtlsClient {
 public:
  // Where the client's datagrams go: each call is one datagram (one sendto).
  class Sink {
   public:
    virtual void SendDatagram(std::span<const uint8_t> datagram) = 0;

   protected:
    virtual ~Sink() = default;
  };

  enum class State : uint8_t { kIdle, kConnecting, kConnected, kFailed };

  // `context`, `sink` are not owned and must outlive the client. `initial_timeout_us`: the first
  // retransmission timeout, doubled each time (OpenSSL's own timer).
  static absl::StatusOr<std::unique_ptr<DtlsClient>> Create(
      const DtlsClientContext& context, std::shared_ptr<const ClientCertificate> certificate,
      Sink* sink, unsigned int initial_timeout_us = 100'000);
  ~DtlsClient();
  DtlsClient(const DtlsClient&) = delete;
  DtlsClient& operator=(const DtlsClient&) = delete;

  // Sends the ClientHello. The server's certificate must have `server_fingerprint` (checked when
  // the handshake completes; a mismatch fails it).
  void Start(const std::array<uint8_t, 32>& server_fingerprint);
  // One datagram from the server whose first byte said DTLS (RFC 7983). Returns the state after.
  State Receive(std::span<const uint8_t> datagram);
  // Lets OpenSSL retransmit its last flight if its timer ran out; true when it did.
  bool OnTimer();
  State state() const { return state_; }
  // Why it failed (kFailed only).
  const std::string& failure() const { return failure_; }
  // The negotiated SRTP suite and the keys from the client's point of view (local: the
  // client_write key and salt, to protect with; remote: the server's, to unprotect with).
  // FAILED_PRECONDITION before kConnected.
  absl::StatusOr<dtls::SrtpKeys> ExportSrtpKeys() const;

 private:
  DtlsClient(std::shared_ptr<const ClientCertificate> certificate, Sink* sink);
  void Drive();
  void Fail(std::string why);

  std::shared_ptr<const ClientCertificate> certificate_;
  Sink* sink_;
  SSL* ssl_ = nullptr;       // owned; owns both BIOs
  BIO* incoming_ = nullptr;  // memory BIO, owned by ssl_
  std::array<uint8_t, 32> server_fingerprint_{};
  State state_ = State::kIdle;
  std::string failure_;
};

}  // namespace chorus::loadgen
