#include "pipeline/ice/ice_lite.h"

#include <sodium.h>
#include <sys/socket.h>

#include <mutex>
#include <utility>

#include "pipeline/base/check.h"

namespace chorus::ice {
namespace {

// ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 section 5.4): 64 symbols, so a random byte's
// low six bits pick one without bias.
constexpr std::string_view kIceChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kGeneratedUfragChars = 8;
constexpr size_t kGeneratedPwdChars = 24;

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] { CHORUS_CHECK(sodium_init() >= 0); });
}

std::string RandomIceChars(size_t count) {
  std::array<uint8_t, 256> bytes;
  CHORUS_CHECK(count <= bytes.size());
  randombytes_buf(bytes.data(), count);
  std::string text(count, '\0');
  for (size_t i = 0; i < count; ++i) text[i] = kIceChars[bytes[i] & 0x3F];
  sodium_memzero(bytes.data(), count);
  return text;
}

bool AllIceChars(std::string_view text) {
  for (char c : text) {
    if (kIceChars.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

IceCredentials IceCredentials::Generate() {
  EnsureSodium();
  return IceCredentials{RandomIceChars(kGeneratedUfragChars), RandomIceChars(kGeneratedPwdChars)};
}

absl::Status ValidateIceCredentials(const IceCredentials& credentials) {
  if (credentials.ufrag.size() < 4 || credentials.ufrag.size() > 256 ||
      !AllIceChars(credentials.ufrag)) {
    return absl::InvalidArgumentError("ice-ufrag must be 4 to 256 ice-chars (RFC 8839)");
  }
  if (credentials.pwd.size() < 22 || credentials.pwd.size() > 256 ||
      !AllIceChars(credentials.pwd)) {
    return absl::InvalidArgumentError("ice-pwd must be 22 to 256 ice-chars (RFC 8839)");
  }
  return absl::OkStatus();
}

const char* IceResultName(IceResult result) {
  switch (result) {
    case IceResult::kResponded:
      return "responded";
    case IceResult::kSelectedPair:
      return "selected_pair";
    case IceResult::kBadMessage:
      return "bad_message";
    case IceResult::kNotBindingRequest:
      return "not_binding_request";
    case IceResult::kBadFingerprint:
      return "bad_fingerprint";
    case IceResult::kNoCredentials:
      return "no_credentials";
    case IceResult::kBadUsername:
      return "bad_username";
    case IceResult::kBadIntegrity:
      return "bad_integrity";
    case IceResult::kUnknownAttribute:
      return "unknown_attribute";
    case IceResult::kBadRequest:
      return "bad_request";
    case IceResult::kRoleConflict:
      return "role_conflict";
    case IceResult::kBadAddress:
      return "bad_address";
    case IceResult::kNoSpace:
      return "no_space";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<IceLiteAgent>> IceLiteAgent::Create(const IceLiteConfig& config) {
  if (absl::Status status = ValidateIceCredentials(config.local); !status.ok()) {
    return absl::InvalidArgumentError(std::string("local ") + std::string(status.message()));
  }
  if (absl::Status status = ValidateIceCredentials(config.remote); !status.ok()) {
    return absl::InvalidArgumentError(std::string("remote ") + std::string(status.message()));
  }
  if (config.consent_timeout_us <= 0) {
    return absl::InvalidArgumentError("consent timeout must be positive");
  }
  absl::StatusOr<StunIntegrityKey> key = StunIntegrityKey::Create(config.local.pwd);
  if (!key.ok()) return key.status();
  return std::unique_ptr<IceLiteAgent>(new IceLiteAgent(config, *std::move(key)));
}

IceLiteAgent::IceLiteAgent(const IceLiteConfig& config, StunIntegrityKey local_key)
    : local_(config.local),
      remote_(config.remote),
      expected_username_(config.local.ufrag + ":" + config.remote.ufrag),
      consent_timeout_us_(config.consent_timeout_us),
      local_key_(std::move(local_key)) {}

bool IceLiteAgent::OnOwningThread() {
  const std::thread::id current = std::this_thread::get_id();
  if (owning_thread_ == std::thread::id()) owning_thread_ = current;
  return owning_thread_ == current;
}

IceResult IceLiteAgent::HandleBindingRequest(std::span<const uint8_t> request,
                                             const net::SocketAddress& from, int64_t now_us,
                                             std::span<uint8_t> response_out,
                                             size_t* response_len) {
  CHORUS_DCHECK(OnOwningThread());
  *response_len = 0;
  if (response_out.size() < kIceMaxResponseBytes) return IceResult::kNoSpace;
  if (from.family() != AF_INET && from.family() != AF_INET6) return IceResult::kBadAddress;

  StunMessage message;
  if (ParseStun(request, &message) != StunParseResult::kOk) return IceResult::kBadMessage;
  if (!message.is_binding_request()) return IceResult::kNotBindingRequest;
  // RFC 8445 section 7.2.2 requires FINGERPRINT on every check; a message without a correct
  // one is silently discarded (RFC 8489 section 7.3).
  if (!VerifyFingerprint(request, message)) return IceResult::kBadFingerprint;

  const StunTransactionId& id = message.transaction_id;
  // RFC 8489 section 9.1.3: credentials first, error responses without MESSAGE-INTEGRITY since
  // the request was not authenticated.
  if (!message.username || !message.message_integrity_offset) {
    *response_len = BuildBindingErrorResponse(response_out, id, kStunErrorBadRequest, nullptr);
    return IceResult::kNoCredentials;
  }
  if (*message.username != expected_username_) {
    *response_len = BuildBindingErrorResponse(response_out, id, kStunErrorUnauthorized, nullptr);
    return IceResult::kBadUsername;
  }
  if (!VerifyMessageIntegrity(request, message, local_key_)) {
    *response_len = BuildBindingErrorResponse(response_out, id, kStunErrorUnauthorized, nullptr);
    return IceResult::kBadIntegrity;
  }

  // Authenticated from here on: every response carries MESSAGE-INTEGRITY.
  if (message.unknown_attribute_count > 0) {
    *response_len = BuildBindingErrorResponse(response_out, id, kStunErrorUnknownAttribute,
                                              &local_key_, message.unknown());
    return IceResult::kUnknownAttribute;
  }
  if (!message.priority ||
      message.ice_controlling.has_value() == message.ice_controlled.has_value()) {
    *response_len = BuildBindingErrorResponse(response_out, id, kStunErrorBadRequest, &local_key_);
    return IceResult::kBadRequest;
  }
  if (message.ice_controlled) {
    // Both sides claim the controlled role. A lite agent cannot take the controlling one, so it
    // keeps its role and answers 487 whatever the tie-breakers; the full agent then switches.
    *response_len =
        BuildBindingErrorResponse(response_out, id, kStunErrorRoleConflict, &local_key_);
    return IceResult::kRoleConflict;
  }

  *response_len = BuildBindingSuccessResponse(response_out, id, from, local_key_);
  if (*response_len == 0) return IceResult::kNoSpace;  // cannot happen at kIceMaxResponseBytes

  const int index = FindOrAddPair(from);
  Pair& pair = pairs_[static_cast<size_t>(index)];
  pair.last_check_us = now_us;
  pair.priority = *message.priority;
  if (message.use_candidate && selected_ != index) {
    selected_ = index;
    return IceResult::kSelectedPair;
  }
  return IceResult::kResponded;
}

int IceLiteAgent::FindPair(const net::SocketAddress& remote) const {
  for (size_t i = 0; i < pair_count_; ++i) {
    if (pairs_[i].remote == remote) return static_cast<int>(i);
  }
  return -1;
}

int IceLiteAgent::FindOrAddPair(const net::SocketAddress& remote) {
  if (const int index = FindPair(remote); index >= 0) return index;
  if (pair_count_ < pairs_.size()) {
    pairs_[pair_count_] = Pair{remote};
    return static_cast<int>(pair_count_++);
  }
  // Full: re-use the least recently checked pair that is not selected.
  int oldest = -1;
  for (size_t i = 0; i < pair_count_; ++i) {
    if (static_cast<int>(i) == selected_) continue;
    if (oldest < 0 || pairs_[i].last_check_us < pairs_[static_cast<size_t>(oldest)].last_check_us) {
      oldest = static_cast<int>(i);
    }
  }
  CHORUS_CHECK(oldest >= 0);  // kIceMaxCandidatePairs > 1
  pairs_[static_cast<size_t>(oldest)] = Pair{remote};
  return oldest;
}

bool IceLiteAgent::IsValidated(const net::SocketAddress& remote) const {
  return FindPair(remote) >= 0;
}

const net::SocketAddress* IceLiteAgent::selected() const {
  return selected_ < 0 ? nullptr : &pairs_[static_cast<size_t>(selected_)].remote;
}

bool IceLiteAgent::ConsentExpired(int64_t now_us) const {
  if (selected_ < 0) return false;
  return now_us - pairs_[static_cast<size_t>(selected_)].last_check_us >= consent_timeout_us_;
}

std::optional<int64_t> IceLiteAgent::last_check_us() const {
  if (selected_ < 0) return std::nullopt;
  return pairs_[static_cast<size_t>(selected_)].last_check_us;
}

}  // namespace chorus::ice
