#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "pipeline/srtp/srtp_key.h"

typedef struct srtp_ctx_t_* srtp_t;

namespace chorus::srtp {

// What protecting or unprotecting a packet did; the engine counts drops by this.
enum class SrtpResult : uint8_t {
  kOk,
  kAuthFailed,  // wrong key or forged/corrupted packet
  kReplayed,    // seen before (replay window)
  kTooShort,
  kNoSpace,  // the buffer has no room for the tag
  kError,
};

enum class Direction { kInbound, kOutbound };

// One libsrtp2 session: one direction of one endpoint, for any SSRC of that direction
// (ssrc_any_inbound / ssrc_any_outbound). Protects and unprotects in place, allocating nothing
// per packet. Thread: one media worker (libsrtp sessions are not thread-safe).
class SrtpSession {
 public:
  static absl::StatusOr<std::unique_ptr<SrtpSession>> Create(const SrtpKeyMaterial& key,
                                                             Direction direction,
                                                             unsigned long replay_window = 1024);
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // `buffer` holds the packet in its first `length` bytes and has room for the tag after it.
  SrtpResult ProtectRtp(std::span<uint8_t> buffer, size_t length, size_t* out_length);
  SrtpResult ProtectRtcp(std::span<uint8_t> buffer, size_t length, size_t* out_length);
  SrtpResult UnprotectRtp(std::span<uint8_t> buffer, size_t length, size_t* out_length);
  SrtpResult UnprotectRtcp(std::span<uint8_t> buffer, size_t length, size_t* out_length);

 private:
  explicit SrtpSession(srtp_t session) : session_(session) {}
  srtp_t session_;
};

}  // namespace chorus::srtp
