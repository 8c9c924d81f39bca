#include <sodium.h>
#include <srtp2/srtp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_session.h"
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

size_t KeyMaterialLength(SrtpSuite suite) { return suite == SrtpSuite::kAeadAes128Gcm ? 28 : 30; }

size_t RtpOverhead(SrtpSuite suite) {
  switch (suite) {
    case SrtpSuite::kAesCm128HmacSha1_80:
      return 10;
    case SrtpSuite::kAesCm128HmacSha1_32:
      return 4;
    case SrtpSuite::kAeadAes128Gcm:
      return 16;
  }
  return SRTP_MAX_TRAILER_LEN;
}

namespace {

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();  // no randomness: nothing safe can follow
  });
}

}  // namespace

SrtpKeyMaterial SrtpKeyMaterial::Generate(SrtpSuite suite) {
  EnsureSodium();
  SrtpKeyMaterial key(suite);
  randombytes_buf(key.bytes_.data(), key.length_);
  return key;
}

absl::StatusOr<SrtpKeyMaterial> SrtpKeyMaterial::FromBase64(SrtpSuite suite,
                                                            std::string_view text) {
  EnsureSodium();
  if (text.substr(0, 7) == "inline:") text.remove_prefix(7);
  size_t bar = text.find('|');
  if (bar != std::string_view::npos) {
    std::string_view rest = text.substr(bar + 1);
    if (rest.find(':') != std::string_view::npos || rest.find('|') != std::string_view::npos) {
      return absl::InvalidArgumentError("SRTP key: an MKI is not supported");
    }
    text = text.substr(0, bar);  // a lifetime: accepted, libsrtp's default limits apply
  }
  SrtpKeyMaterial key(suite);
  std::array<uint8_t, 64> decoded{};
  size_t length = 0;
  if (text.empty() || text.size() > 88 ||
      sodium_base642bin(decoded.data(), decoded.size(), text.data(), text.size(), nullptr, &length,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    sodium_memzero(decoded.data(), decoded.size());
    return absl::InvalidArgumentError("SRTP key: not valid base64");
  }
  if (length != key.length_) {
    sodium_memzero(decoded.data(), decoded.size());
    return absl::InvalidArgumentError("SRTP key: " + std::to_string(length) + " bytes, but " +
                                      std::string(SuiteName(suite)) + " needs " +
                                      std::to_string(key.length_));
  }
  std::memcpy(key.bytes_.data(), decoded.data(), length);
  sodium_memzero(decoded.data(), decoded.size());
  return key;
}

SrtpKeyMaterial::SrtpKeyMaterial(const SrtpKeyMaterial& other) = default;
SrtpKeyMaterial& SrtpKeyMaterial::operator=(const SrtpKeyMaterial& other) = default;
SrtpKeyMaterial::~SrtpKeyMaterial() { sodium_memzero(bytes_.data(), bytes_.size()); }

std::string SrtpKeyMaterial::ToBase64() const {
  char out[96];
  sodium_bin2base64(out, sizeof(out), bytes_.data(), length_, sodium_base64_VARIANT_ORIGINAL);
  std::string text(out);
  sodium_memzero(out, sizeof(out));
  return text;
}

namespace {

void InitLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { (void)srtp_init(); });
}

SrtpResult FromStatus(srtp_err_status_t status) {
  switch (status) {
    case srtp_err_status_ok:
      return SrtpResult::kOk;
    case srtp_err_status_auth_fail:
      return SrtpResult::kAuthFailed;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
      return SrtpResult::kReplayed;
    case srtp_err_status_bad_param:
      return SrtpResult::kTooShort;
    default:
      return SrtpResult::kError;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SrtpSession>> SrtpSession::Create(const SrtpKeyMaterial& key,
                                                                 Direction direction,
                                                                 unsigned long replay_window) {
  InitLibrary();
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  switch (key.suite()) {
    case SrtpSuite::kAesCm128HmacSha1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
      break;
    case SrtpSuite::kAesCm128HmacSha1_32:
      // RFC 4568: the _32 suite shortens only the SRTP tag; SRTCP keeps 80 bits.
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
      break;
    case SrtpSuite::kAeadAes128Gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
      break;
  }
  policy.ssrc.type = direction == Direction::kInbound ? ssrc_any_inbound : ssrc_any_outbound;
  std::array<uint8_t, 32> key_copy{};
  std::copy(key.bytes().begin(), key.bytes().end(), key_copy.begin());
  policy.key = key_copy.data();
  policy.window_size = replay_window;
  policy.allow_repeat_tx = 0;
  policy.next = nullptr;
  srtp_t session = nullptr;
  srtp_err_status_t status = srtp_create(&session, &policy);
  sodium_memzero(key_copy.data(), key_copy.size());
  if (status != srtp_err_status_ok) {
    return absl::InvalidArgumentError("cannot create an SRTP session (libsrtp2 error " +
                                      std::to_string(static_cast<int>(status)) + ")");
  }
  return std::unique_ptr<SrtpSession>(new SrtpSession(session));
}

SrtpSession::~SrtpSession() {
  if (session_ != nullptr) srtp_dealloc(session_);
}

namespace {

template <typename Function>
SrtpResult Apply(Function function, srtp_t session, std::span<uint8_t> buffer, size_t length,
                 size_t* out_length, bool protect) {
  if (length < 12 || length > buffer.size()) return SrtpResult::kTooShort;
  if (protect && buffer.size() - length < SRTP_MAX_TRAILER_LEN) return SrtpResult::kNoSpace;
  int size = static_cast<int>(length);
  SrtpResult result = FromStatus(function(session, buffer.data(), &size));
  if (result == SrtpResult::kOk) *out_length = static_cast<size_t>(size);
  return result;
}

}  // namespace

SrtpResult SrtpSession::ProtectRtp(std::span<uint8_t> buffer, size_t length, size_t* out_length) {
  return Apply(srtp_protect, session_, buffer, length, out_length, true);
}

SrtpResult SrtpSession::ProtectRtcp(std::span<uint8_t> buffer, size_t length, size_t* out_length) {
  if (length < 8) return SrtpResult::kTooShort;
  if (length > buffer.size() || buffer.size() - length < SRTP_MAX_TRAILER_LEN + 4) {
    return SrtpResult::kNoSpace;
  }
  int size = static_cast<int>(length);
  SrtpResult result = FromStatus(srtp_protect_rtcp(session_, buffer.data(), &size));
  if (result == SrtpResult::kOk) *out_length = static_cast<size_t>(size);
  return result;
}

SrtpResult SrtpSession::UnprotectRtp(std::span<uint8_t> buffer, size_t length, size_t* out_length) {
  return Apply(srtp_unprotect, session_, buffer, length, out_length, false);
}

SrtpResult SrtpSession::UnprotectRtcp(std::span<uint8_t> buffer, size_t length,
                                      size_t* out_length) {
  if (length < 8 || length > buffer.size()) return SrtpResult::kTooShort;
  int size = static_cast<int>(length);
  SrtpResult result = FromStatus(srtp_unprotect_rtcp(session_, buffer.data(), &size));
  if (result == SrtpResult::kOk) *out_length = static_cast<size_t>(size);
  return result;
}

}  // namespace chorus::srtp
