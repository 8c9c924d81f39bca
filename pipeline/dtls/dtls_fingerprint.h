#pragma once

// A certificate fingerprint as SDP carries it in "a=fingerprint:" (RFC 8122, section 5), the only
// thing that binds a DTLS peer to the signalling that admitted it (RFC 8827, section 6.5). Chorus
// sends and accepts sha-256, which RFC 8827 requires every endpoint to support.
//
// A value type: any thread. Parse() is control-plane code (the SDP answer path) and its errors
// are INVALID_ARGUMENT with a message that does not quote the input.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace chorus::dtls {

inline constexpr size_t kSha256Bytes = 32;

struct DtlsFingerprint {
  // SHA-256 of the certificate's DER encoding.
  std::array<uint8_t, kSha256Bytes> sha256{};

  // From an SDP hash function token and fingerprint text, e.g. "sha-256" and "AB:CD:...:EF".
  // The token is case-insensitive (RFC 8122 hash-func tokens are registered lowercase, some
  // endpoints send uppercase); the hex may be either case, as 32 colon-separated pairs.
  // INVALID_ARGUMENT for another hash function (sha-1 and others are refused: RFC 8827 asks for
  // sha-256) or malformed text.
  static absl::StatusOr<DtlsFingerprint> Parse(std::string_view algorithm, std::string_view hex);
  // The whole attribute value, "sha-256 AB:CD:...".
  static absl::StatusOr<DtlsFingerprint> ParseAttribute(std::string_view value);

  // "AB:CD:..." (95 characters, uppercase pairs joined by colons), as RFC 8122 writes it.
  std::string ToSdp() const;

  // Constant-time comparison: the fingerprint check must not leak through timing how much of a
  // forged certificate's hash matched.
  bool Matches(std::span<const uint8_t> sha256_digest) const;

  friend bool operator==(const DtlsFingerprint&, const DtlsFingerprint&) = default;
};

// The SDP hash function token Chorus uses, "sha-256".
inline constexpr std::string_view kFingerprintAlgorithm = "sha-256";

}  // namespace chorus::dtls
