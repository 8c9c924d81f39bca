#pragma once

// SRTP crypto suites Chorus negotiates with SDES (RFC 4568, section 6.2; AEAD per RFC 7714,
// section 14.2), their SDP names and the sizes a caller needs to size key and packet buffers.
// Pure functions: callable from any thread.

#include <cstddef>
#include <optional>
#include <string_view>

namespace chorus::srtp {

enum class SrtpSuite {
  kAesCm128HmacSha1_80,  // "AES_CM_128_HMAC_SHA1_80": every endpoint must offer it
  kAesCm128HmacSha1_32,  // "AES_CM_128_HMAC_SHA1_32": 32-bit SRTP tag, 80-bit SRTCP tag
  kAeadAes128Gcm,        // "AEAD_AES_128_GCM": 16-byte tag on both (RFC 7714)
};

// Master key length (16 bytes for all three suites).
inline constexpr size_t kSrtpMasterKeyBytes = 16;
// The largest master key || master salt of any suite, and the largest per-packet overhead.
inline constexpr size_t kSrtpMaxKeyMaterialBytes = 30;
inline constexpr size_t kSrtpMaxRtpOverheadBytes = 16;
inline constexpr size_t kSrtpMaxRtcpOverheadBytes = 20;

// The SDES name, e.g. "AES_CM_128_HMAC_SHA1_80".
std::string_view SuiteName(SrtpSuite suite);
// The suite of an SDES name (exact, case-sensitive as in RFC 4568); nullopt for any other text.
std::optional<SrtpSuite> SuiteFromName(std::string_view name);

// Master salt length: 14 bytes for the AES-CM suites, 12 for AEAD_AES_128_GCM.
size_t MasterSaltLength(SrtpSuite suite);
// Master key || master salt: 30 bytes for the AES-CM suites, 28 for AEAD_AES_128_GCM.
size_t KeyMaterialLength(SrtpSuite suite);
// Bytes protecting adds to an RTP packet (the authentication tag): 10, 4 or 16.
size_t RtpOverhead(SrtpSuite suite);
// Bytes protecting adds to an RTCP packet: the 4-byte E flag and SRTCP index (RFC 3711, section
// 3.4) plus the tag, 10 bytes for both AES-CM suites (RFC 4568, section 6.2.2) and 16 for GCM.
size_t RtcpOverhead(SrtpSuite suite);

}  // namespace chorus::srtp
