#include "pipeline/sdp/fingerprint.h"

#include <optional>

#include "absl/status/status.h"

namespace chorus::sdp {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";
constexpr size_t kFormattedBytes = kSha256Bytes * 3 - 1;

std::optional<uint8_t> HexValue(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
  return std::nullopt;
}

}  // namespace

std::string FormatFingerprint(std::span<const uint8_t, kSha256Bytes> sha256) {
  std::string text;
  text.reserve(kFormattedBytes);
  for (size_t i = 0; i < sha256.size(); ++i) {
    if (i > 0) text.push_back(':');
    text.push_back(kHexDigits[sha256[i] >> 4]);
    text.push_back(kHexDigits[sha256[i] & 0x0f]);
  }
  return text;
}

absl::StatusOr<Sha256Fingerprint> ParseFingerprint(std::string_view text) {
  if (text.size() != kFormattedBytes) {
    return absl::InvalidArgumentError("fingerprint: not 32 hex pairs joined by ':'");
  }
  Sha256Fingerprint bytes{};
  for (size_t i = 0; i < kSha256Bytes; ++i) {
    const std::optional<uint8_t> high = HexValue(text[3 * i]);
    const std::optional<uint8_t> low = HexValue(text[3 * i + 1]);
    if (!high || !low || (i + 1 < kSha256Bytes && text[3 * i + 2] != ':')) {
      return absl::InvalidArgumentError("fingerprint: not 32 hex pairs joined by ':'");
    }
    bytes[i] = static_cast<uint8_t>(*high << 4 | *low);
  }
  return bytes;
}

}  // namespace chorus::sdp
