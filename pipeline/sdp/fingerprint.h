#pragma once

// The text form of a certificate fingerprint in a=fingerprint (RFC 8122 section 5): upper-case hex
// pairs joined by colons, "AB:CD:...". Chorus signals and checks SHA-256 only (RFC 8842 section 5).
//
// Thread safety: free functions, callable from any thread.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/sdp/session_description.h"

namespace chorus::sdp {

// 95 characters: 32 upper-case hex pairs joined by ':'.
std::string FormatFingerprint(std::span<const uint8_t, kSha256Bytes> sha256);

// Exactly 32 hex pairs (either case) joined by ':'. INVALID_ARGUMENT otherwise, with a message
// that does not quote the text.
absl::StatusOr<Sha256Fingerprint> ParseFingerprint(std::string_view text);

}  // namespace chorus::sdp
