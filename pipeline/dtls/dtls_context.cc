#include "pipeline/dtls/dtls_context.h"

#include <openssl/tls1.h>

#include <algorithm>
#include <array>

#include "pipeline/dtls/dtls_srtp.h"

namespace chorus::dtls::internal {
namespace {

// RFC 8827, section 6.5: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 is the suite every WebRTC
// endpoint must support; the other two are what current browsers also offer. Only ECDSA suites:
// the certificate is ECDSA, so no RSA suite could be chosen anyway.
constexpr char kCipherList[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384";
constexpr char kGroups[] = "X25519:P-256:P-384";
// RFC 5764 use_srtp, in our order of preference: OpenSSL's server selects the first of these the
// client offers, whatever the client's order. AEAD_AES_128_GCM (RFC 7714, section 14.2) is
// preferred: one pass for encryption and authentication; SRTP_AES128_CM_SHA1_80 is what every
// WebRTC endpoint supports (RFC 8827, section 6.5).
constexpr char kSrtpProfiles[] = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
// A peer certificate chain larger than this is refused before it is parsed. Browsers send one
// certificate of a few hundred bytes.
constexpr long kMaxPeerCertificateListBytes = 16 * 1024;

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(DrainOpenSslErrors(what));
}

HandshakeNotes* NotesOf(const SSL* ssl) {
  return static_cast<HandshakeNotes*>(SSL_get_app_data(ssl));
}

// WebRTC peers present self-signed certificates: no chain can be verified, and trust comes from
// the fingerprint the signalling carried (RFC 8827, section 6.5). So every chain error is
// forgiven, and the leaf (depth 0) must have the expected fingerprint; on a mismatch the handshake
// stops here with a bad_certificate alert, before we send our Finished.
int VerifyCallback(int /*preverify_ok*/, X509_STORE_CTX* store) {
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  const auto* ssl = static_cast<const SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  HandshakeNotes* notes = ssl != nullptr ? NotesOf(ssl) : nullptr;
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  if (notes == nullptr || notes->remote_fingerprint == nullptr || leaf == nullptr) return 0;
  std::array<uint8_t, kSha256Bytes> digest{};
  unsigned int length = 0;
  if (X509_digest(leaf, EVP_sha256(), digest.data(), &length) != 1 ||
      !notes->remote_fingerprint->Matches(std::span<const uint8_t>(digest.data(), length))) {
    notes->fingerprint_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  return 1;
}

// Refuses a ClientHello without a use_srtp profile we select before any public-key operation is
// spent on it: such a peer could never carry media, and this is the cheapest place to stop a
// flood of them.
int ClientHelloCallback(SSL* ssl, int* alert, void* /*arg*/) {
  const unsigned char* body = nullptr;
  size_t length = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_use_srtp, &body, &length) == 1 &&
      UseSrtpOffersSupportedProfile(body, length)) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  if (HandshakeNotes* notes = NotesOf(ssl)) notes->no_srtp_profile = true;
  *alert = SSL_AD_HANDSHAKE_FAILURE;
  return SSL_CLIENT_HELLO_ERROR;
}

void InfoCallback(const SSL* ssl, int where, int value) {
  if ((where & SSL_CB_ALERT) == 0) return;
  HandshakeNotes* notes = NotesOf(ssl);
  if (notes == nullptr) return;
  const int level = (value >> 8) & 0xff;
  const int description = value & 0xff;
  if ((where & SSL_CB_READ) != 0 && level == SSL3_AL_FATAL) notes->peer_fatal_alert = true;
  if ((where & SSL_CB_WRITE) != 0 && description == SSL_AD_NO_RENEGOTIATION) {
    ++notes->renegotiations_refused;
  }
}

// RFC 6347 4.2.4.1: double the timeout at each retransmission, up to a cap. The first timeout is
// shorter than the RFC's 1 s, as WebRTC stacks do: an audio call should not wait a second for a
// lost flight.
unsigned int TimerCallback(SSL* ssl, unsigned int previous_us) {
  const HandshakeNotes* notes = NotesOf(ssl);
  const uint32_t initial = notes != nullptr ? notes->initial_retransmit_us : 1'000'000;
  const uint32_t cap = notes != nullptr ? notes->max_retransmit_us : 60'000'000;
  if (previous_us == 0) return initial;
  return std::min<uint64_t>(uint64_t{previous_us} * 2, cap);
}

}  // namespace

absl::StatusOr<UniqueSslCtx> NewServerContext(EVP_PKEY* key, X509* certificate) {
  UniqueSslCtx context(SSL_CTX_new(DTLS_server_method()));
  if (context == nullptr) return OpenSslError("DTLS context: SSL_CTX_new");
  SSL_CTX* ctx = context.get();
  if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1) {
    return OpenSslError("DTLS context: protocol version");
  }
  if (SSL_CTX_set_cipher_list(ctx, kCipherList) != 1) {
    return OpenSslError("DTLS context: cipher list");
  }
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) return OpenSslError("DTLS context: groups");
  // Note the inverted convention: SSL_CTX_set_tlsext_use_srtp returns 0 on success.
  if (SSL_CTX_set_tlsext_use_srtp(ctx, kSrtpProfiles) != 0) {
    return OpenSslError("DTLS context: SRTP profiles");
  }
  if (SSL_CTX_use_certificate(ctx, certificate) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return OpenSslError("DTLS context: certificate and key");
  }
  // No MTU discovery through the BIO (ours are memory BIOs; the transport sets the MTU), no
  // renegotiation (RFC 8827 peers never need it, and it would change SRTP keys under our feet),
  // no session tickets or cache (every WebRTC handshake is a full one, and the cache would be the
  // one mutable part of a context shared by all workers).
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_max_cert_list(ctx, kMaxPeerCertificateListBytes);
  // Free the record buffers while no record is in flight, so an idle or half-open transport holds
  // only its handshake state.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // The peer must present a certificate (RFC 8827: both sides authenticate by fingerprint).
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, VerifyCallback);
  SSL_CTX_set_client_hello_cb(ctx, ClientHelloCallback, nullptr);
  SSL_CTX_set_info_callback(ctx, InfoCallback);
  return context;
}

void AttachNotes(SSL* ssl, HandshakeNotes* notes) {
  SSL_set_app_data(ssl, notes);
  DTLS_set_timer_cb(ssl, TimerCallback);
}

bool PeerFingerprintMatches(const SSL* ssl, const DtlsFingerprint& expected) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr) return false;
  std::array<uint8_t, kSha256Bytes> digest{};
  unsigned int length = 0;
  return X509_digest(peer, EVP_sha256(), digest.data(), &length) == 1 &&
         expected.Matches(std::span<const uint8_t>(digest.data(), length));
}

bool UseSrtpOffersSupportedProfile(const uint8_t* body, size_t length) {
  // uint16 profiles length, that many bytes of uint16 profiles, uint8 MKI length, the MKI.
  if (length < 2) return false;
  const size_t list_bytes = (size_t{body[0]} << 8) | body[1];
  if (list_bytes == 0 || list_bytes % 2 != 0 || list_bytes > length - 2) return false;
  bool supported = false;
  for (size_t at = 2; at < 2 + list_bytes; at += 2) {
    const uint16_t profile = static_cast<uint16_t>((body[at] << 8) | body[at + 1]);
    supported |= profile == kSrtpProfileAes128CmSha1_80 || profile == kSrtpProfileAeadAes128Gcm;
  }
  return supported;
}

}  // namespace chorus::dtls::internal
