#include "pipeline/dtls/dtls_certificate.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <ctime>
#include <string>

#include "gtest/gtest.h"

namespace chorus::dtls {
namespace {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Deleter> Parse(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  return std::unique_ptr<X509, X509Deleter>(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

TEST(DtlsCertificateTest, IsASelfSignedP256CertificateForChorus) {
  const auto certificate = DtlsCertificate::Generate();
  ASSERT_TRUE(certificate.ok()) << certificate.status();
  auto x509 = Parse((*certificate)->der());
  ASSERT_NE(x509, nullptr);

  char name[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x509.get()), NID_commonName, name, sizeof(name));
  EXPECT_STREQ(name, "chorus");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x509.get()), X509_get_issuer_name(x509.get())), 0);

  EVP_PKEY* key = X509_get0_pubkey(x509.get());
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  char group[32] = {};
  size_t group_length = 0;
  EXPECT_EQ(EVP_PKEY_get_group_name(key, group, sizeof(group), &group_length), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_verify(x509.get(), key), 1);  // signed by its own key
  EXPECT_EQ(X509_get_signature_nid(x509.get()), NID_ecdsa_with_SHA256);

  // Valid from a day ago to 30 days ahead.
  const time_t now = time(nullptr);
  time_t t = now - 23 * 3600;
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(x509.get()), &t), 0);
  t = now - 25 * 3600;
  EXPECT_GT(X509_cmp_time(X509_get0_notBefore(x509.get()), &t), 0);
  t = now + 29 * 24 * 3600;
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(x509.get()), &t), 0);
  t = now + 31 * 24 * 3600;
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(x509.get()), &t), 0);
}

TEST(DtlsCertificateTest, FingerprintIsSha256OfTheDer) {
  const auto certificate = *DtlsCertificate::Generate();
  std::array<uint8_t, 32> digest{};
  unsigned int length = 0;
  ASSERT_EQ(EVP_Digest(certificate->der().data(), certificate->der().size(), digest.data(), &length,
                       EVP_sha256(), nullptr),
            1);
  EXPECT_EQ(digest, certificate->fingerprint().sha256);
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), certificate->fingerprint_sha256().begin()));
  // 32 uppercase hex pairs joined by colons.
  const std::string sdp = certificate->fingerprint_sdp();
  ASSERT_EQ(sdp.size(), 95u) << sdp;
  for (size_t i = 0; i < sdp.size(); ++i) {
    const char c = sdp[i];
    if (i % 3 == 2) {
      EXPECT_EQ(c, ':') << sdp;
    } else {
      EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) << sdp;
    }
  }
  EXPECT_EQ(*DtlsFingerprint::Parse("sha-256", certificate->fingerprint_sdp()),
            certificate->fingerprint());
}

TEST(DtlsCertificateTest, EachNodeStartGetsANewKeyAndSerial) {
  const auto a = *DtlsCertificate::Generate();
  const auto b = *DtlsCertificate::Generate();
  EXPECT_NE(a->fingerprint(), b->fingerprint());
  auto xa = Parse(a->der());
  auto xb = Parse(b->der());
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa.get()), X509_get0_serialNumber(xb.get())),
            0);
  EXPECT_GT(ASN1_STRING_length(X509_get0_serialNumber(xa.get())), 4);
}

}  // namespace
}  // namespace chorus::dtls
