#include "pipeline/sdp/fingerprint.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chorus::sdp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Sha256Fingerprint Counting() {
  Sha256Fingerprint bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 9);
  return bytes;
}

TEST(FingerprintTest, FormatsUpperCaseHexPairsJoinedByColons) {
  Sha256Fingerprint bytes{};
  bytes[0] = 0xab;
  bytes[1] = 0x0c;
  bytes[31] = 0xff;
  const std::string text = FormatFingerprint(bytes);
  EXPECT_EQ(text.size(), 95u);
  EXPECT_EQ(text.substr(0, 9), "AB:0C:00:");
  EXPECT_EQ(text.substr(text.size() - 3), ":FF");
}

TEST(FingerprintTest, ParsesWhatItFormatsAndLowerCase) {
  const Sha256Fingerprint bytes = Counting();
  const std::string text = FormatFingerprint(bytes);
  EXPECT_EQ(ParseFingerprint(text).value(), bytes);
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(ParseFingerprint(lower).value(), bytes);
}

TEST(FingerprintTest, RefusesOtherShapesWithoutQuotingThem) {
  const std::string good = FormatFingerprint(Counting());
  auto with = [&](size_t at, char c) {
    std::string text = good;
    text[at] = c;
    return text;
  };
  const std::string cases[] = {
      "",
      good.substr(0, 92),         // 31 pairs
      good + ":00",               // 33 pairs (SHA-1 has 20, SHA-512 64)
      with(2, '-'),               // wrong separator
      with(0, 'G'),               // not hex
      with(94, 'Z'),              // not hex at the end
      std::string(95, ':'),       // only separators
      good.substr(0, 94) + "\n",  // a control character in place of the last digit
  };
  for (const std::string& text : cases) {
    const absl::StatusOr<Sha256Fingerprint> parsed = ParseFingerprint(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    if (!text.empty()) {
      EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr(text)));
    }
  }
}

}  // namespace
}  // namespace chorus::sdp
