#pragma once

#include <time.h>

#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"

// Small helpers shared by the audio and video endpoints and sessions (engine internals).
namespace chorus::engine::detail {

inline int64_t ClockMicros(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}
inline int64_t MonotonicUs() { return ClockMicros(CLOCK_MONOTONIC); }
inline int64_t UnixUs() { return ClockMicros(CLOCK_REALTIME); }

// A random non-zero SSRC (RFC 3550 section 8).
inline uint32_t RandomSsrc() {
  static thread_local std::mt19937 random{std::random_device{}()};
  uint32_t ssrc = 0;
  while (ssrc == 0) ssrc = random();
  return ssrc;
}

// The key the node protects what it sends with: the one reserved when Chorus offered first
// (`reserved`, base64), else a new one.
inline absl::StatusOr<srtp::SrtpKeyMaterial> LocalKey(srtp::SrtpSuite suite,
                                                      const std::string& reserved) {
  if (reserved.empty()) return srtp::SrtpKeyMaterial::Generate(suite);
  return srtp::SrtpKeyMaterial::FromBase64(suite, reserved);
}

// The drop reason of an SRTP failure.
inline DropReason FromSrtp(srtp::SrtpResult result) {
  switch (result) {
    case srtp::SrtpResult::kAuthFailed:
      return DropReason::kSrtpAuth;
    case srtp::SrtpResult::kReplayed:
      return DropReason::kSrtpReplay;
    default:
      return DropReason::kSrtpOther;
  }
}

// Unprotects an SRTP (or, with `rtcp`, SRTCP) packet in place when `inbound` is set (plain RTP
// passes through). On failure the drop is counted by reason and false returned.
inline bool Unprotect(srtp::SrtpSession* inbound, bool rtcp, std::span<uint8_t> buffer,
                      size_t* length, EngineStats* stats) {
  if (inbound == nullptr) return true;
  size_t clear = 0;
  const srtp::SrtpResult result = rtcp ? inbound->UnprotectRtcp(buffer, *length, &clear)
                                       : inbound->UnprotectRtp(buffer, *length, &clear);
  if (result != srtp::SrtpResult::kOk) {
    stats->Drop(FromSrtp(result));
    return false;
  }
  *length = clear;
  return true;
}

// The CNAME of every stream Chorus sends an endpoint (audio and video alike: lip sync).
inline constexpr uint8_t kCname[] = {'c', 'h', 'o', 'r', 'u', 's'};

}  // namespace chorus::engine::detail
