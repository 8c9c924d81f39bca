#include "pipeline/dtls/dtls_fingerprint.h"

#include <cctype>
#include <string>

#include "gtest/gtest.h"

namespace chorus::dtls {
namespace {

constexpr char kText[] =
    "19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:"
    "88:A2";

TEST(DtlsFingerprintTest, ParsesAndPrintsSdpText) {
  const absl::StatusOr<DtlsFingerprint> fingerprint = DtlsFingerprint::Parse("sha-256", kText);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
  EXPECT_EQ(fingerprint->sha256[0], 0x19);
  EXPECT_EQ(fingerprint->sha256[31], 0xA2);
  EXPECT_EQ(fingerprint->ToSdp(), kText);
  EXPECT_EQ(fingerprint->ToSdp().size(), 95u);
}

TEST(DtlsFingerprintTest, AcceptsEitherCase) {
  std::string lower = kText;
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  const auto a = DtlsFingerprint::Parse("SHA-256", lower);
  const auto b = DtlsFingerprint::Parse("sha-256", kText);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, *b);
}

TEST(DtlsFingerprintTest, ParsesTheAttributeValue) {
  const auto fingerprint = DtlsFingerprint::ParseAttribute(std::string("sha-256 ") + kText + "\r");
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
  EXPECT_EQ(fingerprint->ToSdp(), kText);
  EXPECT_FALSE(DtlsFingerprint::ParseAttribute(kText).ok());
}

TEST(DtlsFingerprintTest, RefusesOtherHashesAndMalformedText) {
  EXPECT_EQ(DtlsFingerprint::Parse("sha-1", kText).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string text = kText;
  EXPECT_FALSE(DtlsFingerprint::Parse("sha-256", text.substr(0, 92)).ok());
  EXPECT_FALSE(DtlsFingerprint::Parse("sha-256", text + ":00").ok());
  std::string bad_separator = text;
  bad_separator[2] = '-';
  EXPECT_FALSE(DtlsFingerprint::Parse("sha-256", bad_separator).ok());
  std::string bad_digit = text;
  bad_digit[0] = 'G';
  const auto status = DtlsFingerprint::Parse("sha-256", bad_digit).status();
  EXPECT_FALSE(status.ok());
  // The message does not quote the input.
  EXPECT_EQ(std::string(status.message()).find("G9"), std::string::npos);
}

TEST(DtlsFingerprintTest, MatchesComparesAllBytes) {
  const auto fingerprint = *DtlsFingerprint::Parse("sha-256", kText);
  std::array<uint8_t, 32> digest = fingerprint.sha256;
  EXPECT_TRUE(fingerprint.Matches(digest));
  digest[31] ^= 1;
  EXPECT_FALSE(fingerprint.Matches(digest));
  EXPECT_FALSE(fingerprint.Matches(std::span<const uint8_t>(fingerprint.sha256).first(31)));
}

}  // namespace
}  // namespace chorus::dtls
