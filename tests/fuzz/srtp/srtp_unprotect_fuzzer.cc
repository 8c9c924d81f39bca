// Any datagram, unprotected as SRTP and as SRTCP by inbound sessions of every suite: forged,
// truncated or malformed input must be refused with an SrtpResult, never crash or read out of
// bounds. The first input byte picks the suite; the rest is the datagram. Every eighth input is
// first protected with the matching key, so the fuzzer also reaches the decrypt path past the tag.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"

namespace {

using chorus::srtp::Direction;
using chorus::srtp::SrtpKeyMaterial;
using chorus::srtp::SrtpSession;
using chorus::srtp::SrtpSuite;

// Key || salt = bytes 0..29 (the GCM suite uses the first 28).
constexpr char kAesCmKey[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";
constexpr char kGcmKey[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";

struct Sessions {
  std::unique_ptr<SrtpSession> inbound;
  std::unique_ptr<SrtpSession> outbound;
};

Sessions Make(SrtpSuite suite) {
  const SrtpKeyMaterial key =
      *SrtpKeyMaterial::FromBase64(suite, suite == SrtpSuite::kAeadAes128Gcm ? kGcmKey : kAesCmKey);
  return {*SrtpSession::Create(key, Direction::kInbound, {.replay_window_packets = 64}),
          *SrtpSession::Create(key, Direction::kOutbound, {.allow_repeat_tx = true})};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::array<Sessions, 3> sessions = {Make(SrtpSuite::kAesCm128HmacSha1_80),
                                             Make(SrtpSuite::kAesCm128HmacSha1_32),
                                             Make(SrtpSuite::kAeadAes128Gcm)};
  if (size < 1) return 0;
  Sessions& session = sessions[data[0] % 3];
  const bool protect_first = (data[0] & 0x70) == 0;
  ++data;
  --size;
  // Exactly sized heap copies so AddressSanitizer sees reads past the datagram.
  constexpr size_t kMaxDatagram = 1500;
  if (size > kMaxDatagram) return 0;
  size_t out = 0;
  for (bool rtcp : {false, true}) {
    auto buffer = std::make_unique<uint8_t[]>(size + 32);
    std::memcpy(buffer.get(), data, size);
    size_t length = size;
    std::span<uint8_t> span(buffer.get(), size + 32);
    if (protect_first) {
      const auto result = rtcp ? session.outbound->ProtectRtcp(span, length, &length)
                               : session.outbound->ProtectRtp(span, length, &length);
      (void)result;
    } else {
      span = span.first(size);
    }
    (void)(rtcp ? session.inbound->UnprotectRtcp(span, length, &out)
                : session.inbound->UnprotectRtp(span, length, &out));
  }
  return 0;
}
