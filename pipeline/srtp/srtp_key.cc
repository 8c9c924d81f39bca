#include "pipeline/srtp/srtp_key.h"

#include <sodium.h>

#include <cstring>
#include <mutex>
#include <optional>

#include "pipeline/base/check.h"

namespace chorus::srtp {
namespace {

constexpr std::string_view kInlinePrefix = "inline:";
// RFC 4568 lifetimes below this are refused: Chorus does not re-key (see srtp_key.h).
constexpr uint64_t kMinimumLifetimePackets = uint64_t{1} << 31;

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] { CHORUS_CHECK(sodium_init() >= 0); });
}

bool AllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// RFC 4568: lifetime = ["2^"] 1*(DIGIT). Returns whether it is at least 2^31 packets, or nullopt
// when the text is not a lifetime.
std::optional<bool> LifetimeLongEnough(std::string_view text) {
  if (text.substr(0, 2) == "2^") {
    text.remove_prefix(2);
    if (!AllDigits(text)) return std::nullopt;
    while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
    return text.size() > 2 || (text.size() == 2 && text >= "31");
  }
  if (!AllDigits(text)) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value >= kMinimumLifetimePackets) return true;  // stops before any overflow
  }
  return false;
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
  if (text.substr(0, kInlinePrefix.size()) == kInlinePrefix) {
    text.remove_prefix(kInlinePrefix.size());
  }

  // Optional "|lifetime" and "|mki:length" after the key, in that order (RFC 4568, 6.1 and 9.2).
  const size_t first_bar = text.find('|');
  const std::string_view key_text = text.substr(0, first_bar);
  if (first_bar != std::string_view::npos) {
    const std::string_view params = text.substr(first_bar + 1);
    if (params.find(':') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          "SRTP key-params: an MKI is not supported; send the key without '|MKI:length'");
    }
    if (params.find('|') != std::string_view::npos) {
      return absl::InvalidArgumentError("SRTP key-params: only one lifetime may follow the key");
    }
    const std::optional<bool> long_enough = LifetimeLongEnough(params);
    if (!long_enough.has_value()) {
      return absl::InvalidArgumentError(
          "SRTP key-params: the lifetime must be digits or 2^digits (RFC 4568)");
    }
    if (!*long_enough) {
      return absl::InvalidArgumentError(
          "SRTP key-params: a key lifetime below 2^31 packets is not supported (Chorus does not "
          "re-key); omit the lifetime or use 2^31 or more");
    }
  }

  SrtpKeyMaterial key(suite);
  // The longest valid text is 40 characters; anything much longer is refused before decoding.
  constexpr size_t kMaxTextBytes = 44;
  std::array<uint8_t, 34> decoded{};
  size_t decoded_length = 0;
  bool ok = !key_text.empty() && key_text.size() <= kMaxTextBytes;
  if (ok) {
    const int variant = key_text.back() == '=' ? sodium_base64_VARIANT_ORIGINAL
                                               : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    const char* end = nullptr;
    ok = sodium_base642bin(decoded.data(), decoded.size(), key_text.data(), key_text.size(),
                           /*ignore=*/nullptr, &decoded_length, &end, variant) == 0 &&
         end == key_text.data() + key_text.size();
  }
  if (!ok) {
    sodium_memzero(decoded.data(), decoded.size());
    return absl::InvalidArgumentError("SRTP key-params: the key is not valid base64");
  }
  if (decoded_length != key.length_) {
    sodium_memzero(decoded.data(), decoded.size());
    return absl::InvalidArgumentError("SRTP key-params: the key decodes to " +
                                      std::to_string(decoded_length) + " bytes but " +
                                      std::string(SuiteName(suite)) + " needs " +
                                      std::to_string(key.length_) + " (master key || salt)");
  }
  std::memcpy(key.bytes_.data(), decoded.data(), decoded_length);
  sodium_memzero(decoded.data(), decoded.size());
  return key;
}

SrtpKeyMaterial& SrtpKeyMaterial::operator=(const SrtpKeyMaterial& other) {
  if (this != &other) {
    sodium_memzero(bytes_.data(), bytes_.size());
    suite_ = other.suite_;
    length_ = other.length_;
    bytes_ = other.bytes_;
  }
  return *this;
}

SrtpKeyMaterial::~SrtpKeyMaterial() { sodium_memzero(bytes_.data(), bytes_.size()); }

std::string SrtpKeyMaterial::ToBase64() const {
  std::array<char, 48> out{};  // sodium_base64_ENCODED_LEN(30, ORIGINAL) == 41
  sodium_bin2base64(out.data(), out.size(), bytes_.data(), length_, sodium_base64_VARIANT_ORIGINAL);
  std::string text(out.data());
  sodium_memzero(out.data(), out.size());
  return text;
}

std::string SrtpKeyMaterial::ToInline() const { return std::string(kInlinePrefix) + ToBase64(); }

}  // namespace chorus::srtp
