#include "pipeline/dtls/dtls_certificate.h"

#include <openssl/rand.h>

#include <array>
#include <utility>

#include "pipeline/dtls/dtls_context.h"
#include "pipeline/dtls/openssl_util.h"

namespace chorus::dtls {
namespace {

using internal::DrainOpenSslErrors;
using internal::UniqueBignum;
using internal::UniqueEvpPkey;
using internal::UniqueSslCtx;
using internal::UniqueX509;

constexpr long kSecondsPerDay = 24 * 60 * 60;
// Valid from a day back (peers with a clock behind ours) to 30 days ahead. Browsers judge a
// WebRTC peer by its fingerprint, not by the dates, but a certificate in its validity period is
// what RFC 8827 implementations expect to see.
constexpr long kNotBeforeSeconds = -1 * kSecondsPerDay;
constexpr long kNotAfterSeconds = 30 * kSecondsPerDay;

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(DrainOpenSslErrors(what));
}

absl::StatusOr<UniqueX509> SelfSign(EVP_PKEY* key) {
  UniqueX509 certificate(X509_new());
  if (certificate == nullptr) return OpenSslError("DTLS certificate: X509_new");
  if (X509_set_version(certificate.get(), X509_VERSION_3) != 1) {
    return OpenSslError("DTLS certificate: version");
  }

  // A random positive 63-bit serial: certificates of restarted nodes must never look alike.
  std::array<uint8_t, 8> serial_bytes{};
  if (RAND_bytes(serial_bytes.data(), static_cast<int>(serial_bytes.size())) != 1) {
    return OpenSslError("DTLS certificate: random serial");
  }
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x01;  // never zero
  UniqueBignum serial(
      BN_bin2bn(serial_bytes.data(), static_cast<int>(serial_bytes.size()), nullptr));
  if (serial == nullptr ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) == nullptr) {
    return OpenSslError("DTLS certificate: serial");
  }

  if (X509_gmtime_adj(X509_getm_notBefore(certificate.get()), kNotBeforeSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(certificate.get()), kNotAfterSeconds) == nullptr) {
    return OpenSslError("DTLS certificate: validity");
  }
  X509_NAME* name = X509_get_subject_name(certificate.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("chorus"), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(certificate.get(), name) != 1) {
    return OpenSslError("DTLS certificate: name");
  }
  if (X509_set_pubkey(certificate.get(), key) != 1) {
    return OpenSslError("DTLS certificate: public key");
  }
  if (X509_sign(certificate.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("DTLS certificate: signature");
  }
  return certificate;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const DtlsCertificate>> DtlsCertificate::Generate() {
  ERR_clear_error();
  UniqueEvpPkey key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("DTLS certificate: P-256 key generation");
  absl::StatusOr<UniqueX509> certificate = SelfSign(key.get());
  if (!certificate.ok()) return certificate.status();

  const int der_length = i2d_X509(certificate->get(), nullptr);
  if (der_length <= 0) return OpenSslError("DTLS certificate: DER encoding");
  std::vector<uint8_t> der(static_cast<size_t>(der_length));
  unsigned char* out = der.data();
  if (i2d_X509(certificate->get(), &out) != der_length) {
    return OpenSslError("DTLS certificate: DER encoding");
  }
  DtlsFingerprint fingerprint;
  unsigned int digest_length = 0;
  if (X509_digest(certificate->get(), EVP_sha256(), fingerprint.sha256.data(), &digest_length) !=
          1 ||
      digest_length != kSha256Bytes) {
    return OpenSslError("DTLS certificate: fingerprint");
  }

  absl::StatusOr<UniqueSslCtx> context = internal::NewServerContext(key.get(), certificate->get());
  if (!context.ok()) return context.status();
  return std::shared_ptr<const DtlsCertificate>(new DtlsCertificate(
      key.release(), certificate->release(), context->release(), std::move(der), fingerprint));
}

DtlsCertificate::DtlsCertificate(EVP_PKEY* key, X509* certificate, SSL_CTX* context,
                                 std::vector<uint8_t> der, const DtlsFingerprint& fingerprint)
    : key_(key),
      certificate_(certificate),
      context_(context),
      der_(std::move(der)),
      fingerprint_(fingerprint),
      fingerprint_sdp_(fingerprint.ToSdp()) {}

DtlsCertificate::~DtlsCertificate() {
  SSL_CTX_free(context_);
  X509_free(certificate_);
  EVP_PKEY_free(key_);
}

}  // namespace chorus::dtls
