#include "pipeline/srtp/srtp_key.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/srtp/srtp_suite.h"

namespace chorus::srtp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Key || salt = bytes 0, 1, 2, ... (30 bytes for AES-CM, 28 for GCM).
constexpr char kAesCmKey[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
constexpr char kGcmKey[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";

constexpr SrtpSuite kAllSuites[] = {SrtpSuite::kAesCm128HmacSha1_80,
                                    SrtpSuite::kAesCm128HmacSha1_32, SrtpSuite::kAeadAes128Gcm};

TEST(SrtpSuiteTest, SdesNamesRoundTripAndUnknownNamesAreRefused) {
  EXPECT_EQ(SuiteName(SrtpSuite::kAesCm128HmacSha1_80), "AES_CM_128_HMAC_SHA1_80");
  EXPECT_EQ(SuiteName(SrtpSuite::kAesCm128HmacSha1_32), "AES_CM_128_HMAC_SHA1_32");
  EXPECT_EQ(SuiteName(SrtpSuite::kAeadAes128Gcm), "AEAD_AES_128_GCM");
  for (SrtpSuite suite : kAllSuites) EXPECT_EQ(SuiteFromName(SuiteName(suite)), suite);
  EXPECT_FALSE(SuiteFromName("aes_cm_128_hmac_sha1_80").has_value());
  EXPECT_FALSE(SuiteFromName("AEAD_AES_256_GCM").has_value());
  EXPECT_FALSE(SuiteFromName("").has_value());
}

TEST(SrtpSuiteTest, KeyAndOverheadSizesFollowTheRfcs) {
  EXPECT_EQ(KeyMaterialLength(SrtpSuite::kAesCm128HmacSha1_80), 30u);
  EXPECT_EQ(KeyMaterialLength(SrtpSuite::kAesCm128HmacSha1_32), 30u);
  EXPECT_EQ(KeyMaterialLength(SrtpSuite::kAeadAes128Gcm), 28u);
  EXPECT_EQ(RtpOverhead(SrtpSuite::kAesCm128HmacSha1_80), 10u);
  EXPECT_EQ(RtpOverhead(SrtpSuite::kAesCm128HmacSha1_32), 4u);
  EXPECT_EQ(RtpOverhead(SrtpSuite::kAeadAes128Gcm), 16u);
  EXPECT_EQ(RtcpOverhead(SrtpSuite::kAesCm128HmacSha1_80), 14u);
  EXPECT_EQ(RtcpOverhead(SrtpSuite::kAesCm128HmacSha1_32), 14u);  // SRTCP keeps 80 bits
  EXPECT_EQ(RtcpOverhead(SrtpSuite::kAeadAes128Gcm), 20u);
  for (SrtpSuite suite : kAllSuites) {
    EXPECT_LE(KeyMaterialLength(suite), kSrtpMaxKeyMaterialBytes);
    EXPECT_LE(RtpOverhead(suite), kSrtpMaxRtpOverheadBytes);
    EXPECT_LE(RtcpOverhead(suite), kSrtpMaxRtcpOverheadBytes);
  }
}

TEST(SrtpKeyTest, GeneratedKeysHaveTheSuiteLengthAndDiffer) {
  for (SrtpSuite suite : kAllSuites) {
    const SrtpKeyMaterial a = SrtpKeyMaterial::Generate(suite);
    const SrtpKeyMaterial b = SrtpKeyMaterial::Generate(suite);
    EXPECT_EQ(a.suite(), suite);
    EXPECT_EQ(a.bytes().size(), KeyMaterialLength(suite));
    EXPECT_NE(a.ToBase64(), b.ToBase64());
  }
}

TEST(SrtpKeyTest, TextFormsRoundTripForEverySuite) {
  for (SrtpSuite suite : kAllSuites) {
    const SrtpKeyMaterial key = SrtpKeyMaterial::Generate(suite);
    const std::string text = key.ToBase64();
    EXPECT_EQ(text.size(), 40u);
    EXPECT_EQ(key.ToInline(), "inline:" + text);
    for (const std::string& form : {text, key.ToInline()}) {
      absl::StatusOr<SrtpKeyMaterial> parsed = SrtpKeyMaterial::FromBase64(suite, form);
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      EXPECT_EQ(parsed->suite(), suite);
      EXPECT_TRUE(std::equal(parsed->bytes().begin(), parsed->bytes().end(), key.bytes().begin(),
                             key.bytes().end()));
    }
  }
}

TEST(SrtpKeyTest, KnownKeyDecodesToItsBytes) {
  absl::StatusOr<SrtpKeyMaterial> key =
      SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80, kAesCmKey);
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_EQ(key->bytes().size(), 30u);
  for (size_t i = 0; i < 30; ++i) EXPECT_EQ(key->bytes()[i], i);
  EXPECT_EQ(key->ToBase64(), kAesCmKey);

  absl::StatusOr<SrtpKeyMaterial> gcm =
      SrtpKeyMaterial::FromBase64(SrtpSuite::kAeadAes128Gcm, kGcmKey);
  ASSERT_TRUE(gcm.ok()) << gcm.status();
  EXPECT_EQ(gcm->ToBase64(), kGcmKey);
  // Some endpoints drop the padding.
  EXPECT_TRUE(SrtpKeyMaterial::FromBase64(SrtpSuite::kAeadAes128Gcm,
                                          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw")
                  .ok());
}

TEST(SrtpKeyTest, LongLifetimesAreAcceptedAndIgnored) {
  const std::string key = kAesCmKey;
  for (const char* suffix :
       {"|2^31", "|2^48", "|2^031", "|2147483648", "|99999999999999999999999999"}) {
    absl::StatusOr<SrtpKeyMaterial> parsed = SrtpKeyMaterial::FromBase64(
        SrtpSuite::kAesCm128HmacSha1_80, "inline:" + key + std::string(suffix));
    ASSERT_TRUE(parsed.ok()) << suffix << ": " << parsed.status();
    EXPECT_EQ(parsed->ToBase64(), key);
  }
}

struct BadKeyCase {
  SrtpSuite suite;
  std::string text;
  std::string reason;  // part of the error message
};

TEST(SrtpKeyTest, MalformedKeyParamsAreInvalidArgumentsWithAClearReason) {
  const std::string key = kAesCmKey;
  const std::vector<BadKeyCase> cases = {
      {SrtpSuite::kAesCm128HmacSha1_80, key + "|2^20|1:4", "MKI"},
      {SrtpSuite::kAesCm128HmacSha1_80, key + "|1:4", "MKI"},
      {SrtpSuite::kAesCm128HmacSha1_80, "inline:" + key + "|2^31|1:1", "MKI"},
      {SrtpSuite::kAesCm128HmacSha1_80, key + "|2^20", "lifetime below 2^31"},
      {SrtpSuite::kAesCm128HmacSha1_80, key + "|2147483647", "lifetime below 2^31"},
      {SrtpSuite::kAesCm128HmacSha1_80, key + "|", "lifetime must be"},
      {SrtpSuite::kAesCm128HmacSha1_80, key + "|2^", "lifetime must be"},
      {SrtpSuite::kAesCm128HmacSha1_80, key + "|forever", "lifetime must be"},
      {SrtpSuite::kAesCm128HmacSha1_80, key + "|2^31|2^31", "only one lifetime"},
      {SrtpSuite::kAesCm128HmacSha1_80, "", "not valid base64"},
      {SrtpSuite::kAesCm128HmacSha1_80, "inline:", "not valid base64"},
      {SrtpSuite::kAesCm128HmacSha1_80, "%%%%", "not valid base64"},
      {SrtpSuite::kAesCm128HmacSha1_80, key.substr(0, 20) + " " + key.substr(20),
       "not valid base64"},
      {SrtpSuite::kAesCm128HmacSha1_80, std::string(5000, 'A'), "not valid base64"},
      {SrtpSuite::kAeadAes128Gcm, key, "30 bytes but AEAD_AES_128_GCM needs 28"},
      {SrtpSuite::kAesCm128HmacSha1_32, kGcmKey, "28 bytes but AES_CM_128_HMAC_SHA1_32 needs 30"},
      {SrtpSuite::kAesCm128HmacSha1_80, "AAECAwQFBgcICQoLDA0ODw==", "16 bytes"},
  };
  for (const BadKeyCase& c : cases) {
    absl::StatusOr<SrtpKeyMaterial> parsed = SrtpKeyMaterial::FromBase64(c.suite, c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.reason)) << c.text;
    // The refused text never appears in the message (it may be a real key).
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr(key.substr(0, 16))));
  }
}

TEST(SrtpKeyTest, CopiesAreIndependentValues) {
  SrtpKeyMaterial a = SrtpKeyMaterial::Generate(SrtpSuite::kAeadAes128Gcm);
  const SrtpKeyMaterial b = SrtpKeyMaterial::Generate(SrtpSuite::kAesCm128HmacSha1_80);
  const std::string a_text = a.ToBase64();
  SrtpKeyMaterial c = a;
  a = b;
  EXPECT_EQ(a.suite(), SrtpSuite::kAesCm128HmacSha1_80);
  EXPECT_EQ(a.ToBase64(), b.ToBase64());
  EXPECT_EQ(c.ToBase64(), a_text);
  EXPECT_EQ(c.bytes().size(), 28u);
}

}  // namespace
}  // namespace chorus::srtp
