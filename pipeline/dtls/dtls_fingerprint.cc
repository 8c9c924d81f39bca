#include "pipeline/dtls/dtls_fingerprint.h"

#include <openssl/crypto.h>

namespace chorus::dtls {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view StripLeadingSpace(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  return text;
}

std::string_view StripSpace(std::string_view text) {
  text = StripLeadingSpace(text);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

absl::StatusOr<DtlsFingerprint> DtlsFingerprint::Parse(std::string_view algorithm,
                                                       std::string_view hex) {
  if (!EqualsIgnoreCase(algorithm, kFingerprintAlgorithm)) {
    return absl::InvalidArgumentError(
        "DTLS fingerprint: only the sha-256 hash function is supported (RFC 8827)");
  }
  // 32 pairs and 31 colons.
  constexpr size_t kTextBytes = kSha256Bytes * 3 - 1;
  if (hex.size() != kTextBytes) {
    return absl::InvalidArgumentError(
        "DTLS fingerprint: a sha-256 fingerprint is 32 hex pairs separated by colons");
  }
  DtlsFingerprint fingerprint;
  for (size_t i = 0; i < kSha256Bytes; ++i) {
    const size_t at = i * 3;
    const int high = HexValue(hex[at]);
    const int low = HexValue(hex[at + 1]);
    const bool separator_ok = i + 1 == kSha256Bytes || hex[at + 2] == ':';
    if (high < 0 || low < 0 || !separator_ok) {
      return absl::InvalidArgumentError(
          "DTLS fingerprint: a sha-256 fingerprint is 32 hex pairs separated by colons");
    }
    fingerprint.sha256[i] = static_cast<uint8_t>((high << 4) | low);
  }
  return fingerprint;
}

absl::StatusOr<DtlsFingerprint> DtlsFingerprint::ParseAttribute(std::string_view value) {
  value = StripSpace(value);
  const size_t space = value.find(' ');
  if (space == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "DTLS fingerprint: expected \"<hash-function> <fingerprint>\" (RFC 8122)");
  }
  return Parse(value.substr(0, space), StripLeadingSpace(value.substr(space)));
}

std::string DtlsFingerprint::ToSdp() const {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string text;
  text.reserve(kSha256Bytes * 3 - 1);
  for (size_t i = 0; i < kSha256Bytes; ++i) {
    if (i > 0) text.push_back(':');
    text.push_back(kDigits[sha256[i] >> 4]);
    text.push_back(kDigits[sha256[i] & 0x0f]);
  }
  return text;
}

bool DtlsFingerprint::Matches(std::span<const uint8_t> sha256_digest) const {
  return sha256_digest.size() == kSha256Bytes &&
         CRYPTO_memcmp(sha256.data(), sha256_digest.data(), kSha256Bytes) == 0;
}

}  // namespace chorus::dtls
