#include "pipeline/srtp/srtp_session.h"

#include <srtp2/srtp.h>

#include <climits>
#include <cstring>
#include <mutex>
#include <string>

#include "pipeline/base/check.h"
#include "pipeline/srtp/srtp_crypto.h"

namespace chorus::srtp {
namespace {

constexpr size_t kRtpHeaderBytes = 12;
constexpr size_t kRtcpHeaderBytes = 8;

// Size of the RTP header (fixed part, CSRCs, extension) of `packet`, or 0 when the version is not
// 2 or the header runs past the packet (RFC 3550, 5.1 and 5.3.1).
size_t RtpHeaderLength(std::span<const uint8_t> packet) {
  if (packet.size() < kRtpHeaderBytes || (packet[0] >> 6) != 2) return 0;
  size_t header = kRtpHeaderBytes + 4 * size_t{packet[0] & 0x0fu};
  if ((packet[0] & 0x10u) != 0) {
    if (packet.size() < header + 4) return 0;
    header += 4 + 4 * ((size_t{packet[header + 2]} << 8) | packet[header + 3]);
  }
  return header <= packet.size() ? header : 0;
}

SrtpResult FromStatus(srtp_err_status_t status) {
  switch (status) {
    case srtp_err_status_ok:
      return SrtpResult::kOk;
    case srtp_err_status_auth_fail:
    // SRTCP whose E flag says "not encrypted" although the suite encrypts (RFC 3711, 3.4): a
    // flipped flag bit or a peer using another tag length, refused before the tag is checked.
    case srtp_err_status_cant_check:
      return SrtpResult::kAuthFailed;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
      return SrtpResult::kReplayed;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
    case srtp_err_status_no_ctx:
      return SrtpResult::kBadPacket;
    default:
      return SrtpResult::kError;
  }
}

}  // namespace

namespace {

absl::Status InitLibrary() {
  static std::once_flag once;
  static absl::Status status;
  std::call_once(once, [] {
    if (srtp_err_status_t init = srtp_init(); init != srtp_err_status_ok) {
      status = absl::InternalError("libsrtp2 failed to initialise (error " +
                                   std::to_string(static_cast<int>(init)) + ")");
      return;
    }
    status = InstallCryptoBackend();
  });
  return status;
}

// libsrtp writes the tag (and would write an MKI, never configured here) after the packet; with
// no MKI that is exactly the suite's overhead, checked before every call.
bool HasRoom(std::span<uint8_t> buffer, size_t length, size_t overhead) {
  return buffer.size() >= length && buffer.size() - length >= overhead;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SrtpSession>> SrtpSession::Create(
    const SrtpKeyMaterial& key, Direction direction, const SrtpSessionOptions& options) {
  if (options.replay_window_packets < 64 || options.replay_window_packets > 0x7fff) {
    return absl::InvalidArgumentError("SRTP replay window must be 64 to 32767 packets, not " +
                                      std::to_string(options.replay_window_packets));
  }
  if (absl::Status status = InitLibrary(); !status.ok()) return status;

  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  switch (key.suite()) {
    case SrtpSuite::kAesCm128HmacSha1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
      break;
    case SrtpSuite::kAesCm128HmacSha1_32:
      // RFC 4568, 6.2.2: the _32 suite shortens only the SRTP tag; SRTCP keeps 80 bits.
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
      break;
    case SrtpSuite::kAeadAes128Gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
      break;
  }
  policy.ssrc.type = direction == Direction::kInbound ? ssrc_any_inbound : ssrc_any_outbound;
  // libsrtp only reads the key (it derives session keys from it in srtp_create).
  policy.key = const_cast<uint8_t*>(key.bytes().data());
  policy.window_size = options.replay_window_packets;
  policy.allow_repeat_tx = options.allow_repeat_tx ? 1 : 0;
  policy.next = nullptr;

  srtp_t session = nullptr;
  const srtp_err_status_t status = srtp_create(&session, &policy);
  if (status != srtp_err_status_ok) {
    if (session != nullptr) srtp_dealloc(session);
    return absl::InternalError("libsrtp2 cannot create a " + std::string(SuiteName(key.suite())) +
                               " session (error " + std::to_string(static_cast<int>(status)) + ")");
  }
  return std::unique_ptr<SrtpSession>(new SrtpSession(session, key.suite(), direction));
}

SrtpSession::~SrtpSession() {
  if (session_ != nullptr) srtp_dealloc(session_);
}

bool SrtpSession::OnOwningThread() {
  const std::thread::id current = std::this_thread::get_id();
  if (owning_thread_ == std::thread::id()) owning_thread_ = current;
  return owning_thread_ == current;
}

SrtpResult SrtpSession::ProtectRtp(std::span<uint8_t> buffer, size_t length, size_t* out_length) {
  CHORUS_DCHECK(OnOwningThread());
  if (length > buffer.size() || length > INT_MAX / 2) return SrtpResult::kError;
  if (length < kRtpHeaderBytes) return SrtpResult::kTooShort;
  if (RtpHeaderLength(buffer.first(length)) == 0) return SrtpResult::kBadPacket;
  if (!HasRoom(buffer, length, RtpOverhead(suite_))) return SrtpResult::kNoSpace;
  int size = static_cast<int>(length);
  const SrtpResult result = FromStatus(srtp_protect(session_, buffer.data(), &size));
  if (result == SrtpResult::kOk) *out_length = static_cast<size_t>(size);
  return result;
}

SrtpResult SrtpSession::UnprotectRtp(std::span<uint8_t> buffer, size_t length, size_t* out_length) {
  CHORUS_DCHECK(OnOwningThread());
  if (length > buffer.size() || length > INT_MAX / 2) return SrtpResult::kError;
  const size_t tag = RtpOverhead(suite_);
  if (length < kRtpHeaderBytes + tag) return SrtpResult::kTooShort;
  if (RtpHeaderLength(buffer.first(length - tag)) == 0) return SrtpResult::kBadPacket;
  int size = static_cast<int>(length);
  const SrtpResult result = FromStatus(srtp_unprotect(session_, buffer.data(), &size));
  if (result == SrtpResult::kOk) *out_length = static_cast<size_t>(size);
  return result;
}

SrtpResult SrtpSession::ProtectRtcp(std::span<uint8_t> buffer, size_t length, size_t* out_length) {
  CHORUS_DCHECK(OnOwningThread());
  if (length > buffer.size() || length > INT_MAX / 2) return SrtpResult::kError;
  if (length < kRtcpHeaderBytes) return SrtpResult::kTooShort;
  if ((buffer[0] >> 6) != 2) return SrtpResult::kBadPacket;
  if (!HasRoom(buffer, length, RtcpOverhead(suite_))) return SrtpResult::kNoSpace;
  int size = static_cast<int>(length);
  const SrtpResult result = FromStatus(srtp_protect_rtcp(session_, buffer.data(), &size));
  if (result == SrtpResult::kOk) *out_length = static_cast<size_t>(size);
  return result;
}

SrtpResult SrtpSession::UnprotectRtcp(std::span<uint8_t> buffer, size_t length,
                                      size_t* out_length) {
  CHORUS_DCHECK(OnOwningThread());
  if (length > buffer.size() || length > INT_MAX / 2) return SrtpResult::kError;
  if (length < kRtcpHeaderBytes + RtcpOverhead(suite_)) return SrtpResult::kTooShort;
  if ((buffer[0] >> 6) != 2) return SrtpResult::kBadPacket;
  int size = static_cast<int>(length);
  const SrtpResult result = FromStatus(srtp_unprotect_rtcp(session_, buffer.data(), &size));
  if (result == SrtpResult::kOk) *out_length = static_cast<size_t>(size);
  return result;
}

}  // namespace chorus::srtp
