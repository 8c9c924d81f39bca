#include "pipeline/srtp/srtp_suite.h"

namespace chorus::srtp {

std::string_view SuiteName(SrtpSuite suite) {
  switch (suite) {
    case SrtpSuite::kAesCm128HmacSha1_80:
      return "AES_CM_128_HMAC_SHA1_80";
    case SrtpSuite::kAesCm128HmacSha1_32:
      return "AES_CM_128_HMAC_SHA1_32";
    case SrtpSuite::kAeadAes128Gcm:
      return "AEAD_AES_128_GCM";
  }
  return "";
}

std::optional<SrtpSuite> SuiteFromName(std::string_view name) {
  for (SrtpSuite suite : {SrtpSuite::kAesCm128HmacSha1_80, SrtpSuite::kAesCm128HmacSha1_32,
                          SrtpSuite::kAeadAes128Gcm}) {
    if (SuiteName(suite) == name) return suite;
  }
  return std::nullopt;
}

size_t MasterSaltLength(SrtpSuite suite) { return suite == SrtpSuite::kAeadAes128Gcm ? 12 : 14; }

size_t KeyMaterialLength(SrtpSuite suite) { return kSrtpMasterKeyBytes + MasterSaltLength(suite); }

size_t RtpOverhead(SrtpSuite suite) {
  switch (suite) {
    case SrtpSuite::kAesCm128HmacSha1_80:
      return 10;
    case SrtpSuite::kAesCm128HmacSha1_32:
      return 4;
    case SrtpSuite::kAeadAes128Gcm:
      return 16;
  }
  return kSrtpMaxRtpOverheadBytes;
}

size_t RtcpOverhead(SrtpSuite suite) {
  constexpr size_t kIndexBytes = 4;
  return kIndexBytes + (suite == SrtpSuite::kAeadAes128Gcm ? 16 : 10);
}

}  // namespace chorus::srtp
