// Any datagram unprotected as SRTP and as SRTCP by a session with a fixed key: forged, truncated
// or malformed input must be refused, never crash.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "pipeline/srtp/srtp_session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using chorus::srtp::SrtpKeyMaterial;
  using chorus::srtp::SrtpSession;
  using chorus::srtp::SrtpSuite;
  static std::unique_ptr<SrtpSession> rtp =
      *SrtpSession::Create(*SrtpKeyMaterial::FromBase64(SrtpSuite::kAesCm128HmacSha1_80,
                                                        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNk"),
                           chorus::srtp::Direction::kInbound);
  static std::unique_ptr<SrtpSession> gcm = *SrtpSession::Create(
      SrtpKeyMaterial::Generate(SrtpSuite::kAeadAes128Gcm), chorus::srtp::Direction::kInbound);
  std::array<uint8_t, 2048> buffer;
  if (size > buffer.size()) return 0;
  size_t out = 0;
  std::memcpy(buffer.data(), data, size);
  (void)rtp->UnprotectRtp(buffer, size, &out);
  std::memcpy(buffer.data(), data, size);
  (void)rtp->UnprotectRtcp(buffer, size, &out);
  std::memcpy(buffer.data(), data, size);
  (void)gcm->UnprotectRtp(buffer, size, &out);
  return 0;
}
