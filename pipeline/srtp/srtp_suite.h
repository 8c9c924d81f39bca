#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace chorus::srtp {

// SRTP protection profiles negotiated with SDES (RFC 4568 names; AEAD per RFC 7714).
enum class SrtpSuite {
  kAesCm128HmacSha1_80,  // required of every endpoint
  kAesCm128HmacSha1_32,
  kAeadAes128Gcm,
};

std::string_view SuiteName(SrtpSuite suite);
std::optional<SrtpSuite> SuiteFromName(std::string_view name);
// Master key || master salt length: 30 bytes for the AES-CM suites, 28 for AEAD_AES_128_GCM.
size_t KeyMaterialLength(SrtpSuite suite);
// Bytes SRTP adds to an RTP packet (the authentication tag).
size_t RtpOverhead(SrtpSuite suite);

}  // namespace chorus::srtp
