#include "pipeline/ice/stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <zlib.h>

#include <cstring>
#include <limits>

namespace chorus::ice {
namespace {

constexpr uint32_t kFingerprintXor = 0x5354554e;  // "STUN", RFC 8489 section 14.7
constexpr size_t kAttributeHeaderBytes = 4;
constexpr size_t kFingerprintAttributeBytes = kAttributeHeaderBytes + 4;
constexpr size_t kIntegrityAttributeBytes = kAttributeHeaderBytes + kStunMessageIntegrityBytes;
constexpr uint8_t kFamilyIpv4 = 0x01;
constexpr uint8_t kFamilyIpv6 = 0x02;

uint16_t Read16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Read32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint64_t Read64(const uint8_t* p) { return uint64_t{Read32(p)} << 32 | Read32(p + 4); }
void Write16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Write32(uint8_t* p, uint32_t v) {
  Write16(p, static_cast<uint16_t>(v >> 16));
  Write16(p + 2, static_cast<uint16_t>(v));
}
size_t Padded(size_t length) { return (length + 3) & ~size_t{3}; }

uint32_t Crc32(std::span<const uint8_t> bytes) {
  // Messages are at most kStunMaxMessageBytes, far below zlib's uInt length.
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), bytes.data(), static_cast<uInt>(bytes.size())));
}

// The comprehension-required attributes this parser understands (RFC 8489 section 18.3.1 and
// RFC 8445 section 20.1); any other type below 0x8000 in a request makes it a 420.
bool IsKnownRequired(uint16_t type) {
  switch (type) {
    case kStunAttrMappedAddress:
    case kStunAttrUsername:
    case kStunAttrMessageIntegrity:
    case kStunAttrErrorCode:
    case kStunAttrUnknownAttributes:
    case kStunAttrRealm:
    case kStunAttrNonce:
    case kStunAttrMessageIntegritySha256:
    case kStunAttrPasswordAlgorithm:
    case kStunAttrUserhash:
    case kStunAttrXorMappedAddress:
    case kStunAttrPriority:
    case kStunAttrUseCandidate:
      return true;
    default:
      return false;
  }
}

// XOR-MAPPED-ADDRESS value (RFC 8489 section 14.2) to an address; nullopt when malformed.
std::optional<net::SocketAddress> DecodeXorAddress(std::span<const uint8_t> value,
                                                   const StunTransactionId& transaction_id) {
  if (value.size() < 4) return std::nullopt;
  const uint16_t port = Read16(&value[2]) ^ static_cast<uint16_t>(kStunMagicCookie >> 16);
  if (value[1] == kFamilyIpv4 && value.size() == 8) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    v4.sin_addr.s_addr = htonl(Read32(&value[4]) ^ kStunMagicCookie);
    return net::SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof(v4));
  }
  if (value[1] == kFamilyIpv6 && value.size() == 20) {
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    uint8_t mask[16];
    Write32(mask, kStunMagicCookie);
    std::memcpy(mask + 4, transaction_id.data(), transaction_id.size());
    for (size_t i = 0; i < 16; ++i) v6.sin6_addr.s6_addr[i] = value[4 + i] ^ mask[i];
    return net::SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&v6), sizeof(v6));
  }
  return std::nullopt;
}

// Records one attribute of a message being parsed. False when a known attribute is malformed.
bool RecordAttribute(uint16_t type, std::span<const uint8_t> value, size_t header_offset,
                     StunMessage* message) {
  switch (type) {
    case kStunAttrUsername:
      if (!message->username) {
        message->username =
            std::string_view(reinterpret_cast<const char*>(value.data()), value.size());
      }
      return true;
    case kStunAttrMessageIntegrity:
      if (value.size() != kStunMessageIntegrityBytes) return false;
      message->message_integrity_offset = header_offset;
      return true;
    case kStunAttrMessageIntegritySha256:
      // Not used by ICE (RFC 8445 keeps HMAC-SHA1); only its size is checked.
      return value.size() >= 16 && value.size() <= 32 && value.size() % 4 == 0;
    case kStunAttrPriority:
      if (value.size() != 4) return false;
      if (!message->priority) message->priority = Read32(value.data());
      return true;
    case kStunAttrUseCandidate:
      if (!value.empty()) return false;
      message->use_candidate = true;
      return true;
    case kStunAttrIceControlling:
      if (value.size() != 8) return false;
      if (!message->ice_controlling) message->ice_controlling = Read64(value.data());
      return true;
    case kStunAttrIceControlled:
      if (value.size() != 8) return false;
      if (!message->ice_controlled) message->ice_controlled = Read64(value.data());
      return true;
    case kStunAttrXorMappedAddress: {
      std::optional<net::SocketAddress> address = DecodeXorAddress(value, message->transaction_id);
      if (!address) return false;
      if (!message->xor_mapped_address) message->xor_mapped_address = *address;
      return true;
    }
    case kStunAttrErrorCode: {
      // 21 reserved bits, a 3-bit class (3..6) and a number 0..99 (RFC 8489 section 14.8).
      if (value.size() < 4) return false;
      const uint8_t error_class = value[2] & 0x07;
      const uint8_t number = value[3];
      if (error_class < 3 || error_class > 6 || number > 99) return false;
      if (!message->error_code) {
        message->error_code = static_cast<uint16_t>(error_class * 100 + number);
        message->error_reason =
            std::string_view(reinterpret_cast<const char*>(value.data() + 4), value.size() - 4);
      }
      return true;
    }
    default:
      if (type < 0x8000 && !IsKnownRequired(type) &&
          message->unknown_attribute_count < kStunMaxUnknownAttributes) {
        message->unknown_attributes[message->unknown_attribute_count++] = type;
      }
      return true;
  }
}

const char* ReasonPhrase(uint16_t code) {
  switch (code) {
    case kStunErrorBadRequest:
      return "Bad Request";
    case kStunErrorUnauthorized:
      return "Unauthorized";
    case kStunErrorUnknownAttribute:
      return "Unknown Attribute";
    case kStunErrorRoleConflict:
      return "Role Conflict";
    default:
      return "";
  }
}

EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

}  // namespace

uint16_t StunMessageType(uint16_t method, StunClass message_class) {
  const auto bits = static_cast<uint16_t>(message_class);
  return static_cast<uint16_t>((method & 0x000F) | (method & 0x0070) << 1 | (method & 0x0F80) << 2 |
                               (bits & 0x1) << 4 | (bits & 0x2) << 7);
}

const char* StunParseResultName(StunParseResult result) {
  switch (result) {
    case StunParseResult::kOk:
      return "ok";
    case StunParseResult::kTooShort:
      return "too_short";
    case StunParseResult::kTooLarge:
      return "too_large";
    case StunParseResult::kBadHeader:
      return "bad_header";
    case StunParseResult::kBadLength:
      return "bad_length";
    case StunParseResult::kBadAttribute:
      return "bad_attribute";
    case StunParseResult::kTooManyAttributes:
      return "too_many_attributes";
  }
  return "unknown";
}

bool IsStun(std::span<const uint8_t> datagram) {
  return datagram.size() >= kStunHeaderBytes && datagram[0] <= 3 &&
         Read32(&datagram[4]) == kStunMagicCookie;
}

StunParseResult ParseStun(std::span<const uint8_t> datagram, StunMessage* message) {
  *message = StunMessage{};
  if (datagram.size() < kStunHeaderBytes) return StunParseResult::kTooShort;
  if (datagram.size() > kStunMaxMessageBytes) return StunParseResult::kTooLarge;
  if ((datagram[0] & 0xC0) != 0 || Read32(&datagram[4]) != kStunMagicCookie) {
    return StunParseResult::kBadHeader;
  }
  const size_t length = Read16(&datagram[2]);
  if (length % 4 != 0 || length != datagram.size() - kStunHeaderBytes) {
    return StunParseResult::kBadLength;
  }
  message->type = Read16(&datagram[0]);
  message->method = static_cast<uint16_t>((message->type & 0x000F) | (message->type >> 1 & 0x0070) |
                                          (message->type >> 2 & 0x0F80));
  message->message_class =
      static_cast<StunClass>((message->type >> 4 & 0x1) | (message->type >> 7 & 0x2));
  std::memcpy(message->transaction_id.data(), &datagram[8], kStunTransactionIdBytes);

  // Offsets stay multiples of 4 and the length is one, so at least a whole attribute header
  // remains whenever offset < size.
  size_t offset = kStunHeaderBytes;
  size_t count = 0;
  bool after_integrity = false;
  while (offset < datagram.size()) {
    if (message->fingerprint_offset) return StunParseResult::kBadAttribute;  // FINGERPRINT is last
    if (++count > kStunMaxAttributes) return StunParseResult::kTooManyAttributes;
    const uint16_t type = Read16(&datagram[offset]);
    const size_t value_length = Read16(&datagram[offset + 2]);
    const size_t value_offset = offset + kAttributeHeaderBytes;
    if (Padded(value_length) > datagram.size() - value_offset) {
      return StunParseResult::kBadAttribute;
    }
    const std::span<const uint8_t> value = datagram.subspan(value_offset, value_length);
    const size_t header_offset = offset;
    offset = value_offset + Padded(value_length);

    if (type == kStunAttrFingerprint) {
      if (value_length != 4) return StunParseResult::kBadAttribute;
      message->fingerprint_offset = header_offset;
      continue;
    }
    // RFC 8489 section 14.5: everything after MESSAGE-INTEGRITY(-SHA256) but FINGERPRINT is
    // ignored; it is not covered by the HMAC.
    if (after_integrity) continue;
    if (!RecordAttribute(type, value, header_offset, message)) {
      return StunParseResult::kBadAttribute;
    }
    if (type == kStunAttrMessageIntegrity || type == kStunAttrMessageIntegritySha256) {
      after_integrity = true;
    }
  }
  return StunParseResult::kOk;
}

bool VerifyFingerprint(std::span<const uint8_t> datagram, const StunMessage& message) {
  if (!message.fingerprint_offset) return false;
  const size_t offset = *message.fingerprint_offset;
  if (datagram.size() < kStunHeaderBytes || offset < kStunHeaderBytes || offset > datagram.size() ||
      datagram.size() - offset != kFingerprintAttributeBytes) {
    return false;
  }
  const uint32_t expected = Crc32(datagram.first(offset)) ^ kFingerprintXor;
  return Read32(&datagram[offset + kAttributeHeaderBytes]) == expected;
}

void StunIntegrityKey::Deleter::operator()(evp_mac_ctx_st* context) const {
  EVP_MAC_CTX_free(context);  // wipes the key pads
}

absl::StatusOr<StunIntegrityKey> StunIntegrityKey::Create(std::span<const uint8_t> key) {
  EVP_MAC* mac = HmacAlgorithm();
  if (mac == nullptr) return absl::InternalError("libcrypto has no HMAC");
  StunIntegrityKey result(EVP_MAC_CTX_new(mac));
  if (result.context_ == nullptr) return absl::InternalError("libcrypto: EVP_MAC_CTX_new failed");
  char digest[] = "SHA1";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  // An empty key is legal HMAC input; OpenSSL wants a non-null pointer for it.
  static const uint8_t kEmpty = 0;
  if (EVP_MAC_init(result.context_.get(), key.empty() ? &kEmpty : key.data(), key.size(), params) !=
      1) {
    return absl::InternalError("libcrypto: HMAC-SHA1 initialisation failed");
  }
  return result;
}

absl::StatusOr<StunIntegrityKey> StunIntegrityKey::Create(std::string_view password) {
  return Create(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(password.data()), password.size()));
}

bool StunIntegrityKey::Compute(std::initializer_list<std::span<const uint8_t>> parts,
                               std::span<uint8_t, kStunMessageIntegrityBytes> digest) {
  // A null key re-starts the MAC with the key set in Create().
  if (EVP_MAC_init(context_.get(), nullptr, 0, nullptr) != 1) return false;
  for (std::span<const uint8_t> part : parts) {
    if (!part.empty() && EVP_MAC_update(context_.get(), part.data(), part.size()) != 1) {
      return false;
    }
  }
  size_t written = 0;
  return EVP_MAC_final(context_.get(), digest.data(), &written, digest.size()) == 1 &&
         written == digest.size();
}

bool VerifyMessageIntegrity(std::span<const uint8_t> datagram, const StunMessage& message,
                            StunIntegrityKey& key) {
  if (!message.message_integrity_offset) return false;
  const size_t offset = *message.message_integrity_offset;
  if (datagram.size() < kStunHeaderBytes || offset < kStunHeaderBytes || offset > datagram.size() ||
      datagram.size() - offset < kIntegrityAttributeBytes) {
    return false;
  }
  // The HMAC covers the header with its length field ending just after MESSAGE-INTEGRITY, then
  // the attributes before it (RFC 8489 section 14.5).
  uint8_t adjusted_length[2];
  Write16(adjusted_length,
          static_cast<uint16_t>(offset + kIntegrityAttributeBytes - kStunHeaderBytes));
  std::array<uint8_t, kStunMessageIntegrityBytes> digest;
  if (!key.Compute({datagram.first(2), adjusted_length, datagram.subspan(4, offset - 4)}, digest)) {
    return false;
  }
  return CRYPTO_memcmp(digest.data(), &datagram[offset + kAttributeHeaderBytes], digest.size()) ==
         0;
}

bool VerifyMessageIntegrity(std::span<const uint8_t> datagram, const StunMessage& message,
                            std::span<const uint8_t> key) {
  absl::StatusOr<StunIntegrityKey> prepared = StunIntegrityKey::Create(key);
  return prepared.ok() && VerifyMessageIntegrity(datagram, message, *prepared);
}

std::optional<std::string_view> StunUsernameLocalPart(std::span<const uint8_t> datagram) {
  StunMessage message;
  if (!IsStun(datagram) || ParseStun(datagram, &message) != StunParseResult::kOk ||
      !message.is_binding_request() || !message.username) {
    return std::nullopt;
  }
  const size_t colon = message.username->find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  return message.username->substr(0, colon);
}

StunWriter::StunWriter(std::span<uint8_t> buffer, uint16_t type,
                       const StunTransactionId& transaction_id)
    : buffer_(buffer) {
  if (buffer_.size() < kStunHeaderBytes || (type & 0xC000) != 0) {
    ok_ = false;
    return;
  }
  Write16(&buffer_[0], type);
  Write16(&buffer_[2], 0);
  Write32(&buffer_[4], kStunMagicCookie);
  std::memcpy(&buffer_[8], transaction_id.data(), transaction_id.size());
  size_ = kStunHeaderBytes;
}

uint8_t* StunWriter::Append(uint16_t type, size_t length) {
  if (!ok_) return nullptr;
  const size_t total = kAttributeHeaderBytes + Padded(length);
  if (length > std::numeric_limits<uint16_t>::max() || total > buffer_.size() - size_ ||
      size_ + total - kStunHeaderBytes > std::numeric_limits<uint16_t>::max()) {
    ok_ = false;
    return nullptr;
  }
  uint8_t* header = &buffer_[size_];
  Write16(header, type);
  Write16(header + 2, static_cast<uint16_t>(length));
  std::memset(header + kAttributeHeaderBytes, 0, Padded(length));
  size_ += total;
  Write16(&buffer_[2], static_cast<uint16_t>(size_ - kStunHeaderBytes));
  return header + kAttributeHeaderBytes;
}

void StunWriter::AddAttribute(uint16_t type, std::span<const uint8_t> value) {
  if (uint8_t* out = Append(type, value.size()); out != nullptr && !value.empty()) {
    std::memcpy(out, value.data(), value.size());
  }
}

void StunWriter::AddString(uint16_t type, std::string_view value) {
  AddAttribute(
      type, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
}

void StunWriter::AddUint32(uint16_t type, uint32_t value) {
  if (uint8_t* out = Append(type, 4); out != nullptr) Write32(out, value);
}

void StunWriter::AddUint64(uint16_t type, uint64_t value) {
  if (uint8_t* out = Append(type, 8); out != nullptr) {
    Write32(out, static_cast<uint32_t>(value >> 32));
    Write32(out + 4, static_cast<uint32_t>(value));
  }
}

void StunWriter::AddXorAddress(uint16_t type, const net::SocketAddress& address) {
  if (!ok_) return;
  const uint16_t xor_port = address.port() ^ static_cast<uint16_t>(kStunMagicCookie >> 16);
  if (address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr());
    if (!IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      uint8_t* out = Append(type, 20);
      if (out == nullptr) return;
      out[1] = kFamilyIpv6;
      Write16(out + 2, xor_port);
      uint8_t mask[16];
      Write32(mask, kStunMagicCookie);
      std::memcpy(mask + 4, &buffer_[8], kStunTransactionIdBytes);
      for (size_t i = 0; i < 16; ++i) out[4 + i] = v6->sin6_addr.s6_addr[i] ^ mask[i];
      return;
    }
    uint8_t* out = Append(type, 8);
    if (out == nullptr) return;
    out[1] = kFamilyIpv4;
    Write16(out + 2, xor_port);
    Write32(out + 4, Read32(&v6->sin6_addr.s6_addr[12]) ^ kStunMagicCookie);
    return;
  }
  if (address.family() != AF_INET) {
    ok_ = false;
    return;
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr());
  uint8_t* out = Append(type, 8);
  if (out == nullptr) return;
  out[1] = kFamilyIpv4;
  Write16(out + 2, xor_port);
  Write32(out + 4, ntohl(v4->sin_addr.s_addr) ^ kStunMagicCookie);
}

void StunWriter::AddErrorCode(uint16_t code, std::string_view reason) {
  if (code < 300 || code > 699) {
    ok_ = false;
    return;
  }
  uint8_t* out = Append(kStunAttrErrorCode, 4 + reason.size());
  if (out == nullptr) return;
  out[2] = static_cast<uint8_t>(code / 100);
  out[3] = static_cast<uint8_t>(code % 100);
  if (!reason.empty()) std::memcpy(out + 4, reason.data(), reason.size());
}

void StunWriter::AddUnknownAttributes(std::span<const uint16_t> types) {
  uint8_t* out = Append(kStunAttrUnknownAttributes, 2 * types.size());
  if (out == nullptr) return;
  for (size_t i = 0; i < types.size(); ++i) Write16(out + 2 * i, types[i]);
}

void StunWriter::AddMessageIntegrity(StunIntegrityKey& key) {
  const size_t offset = size_;
  uint8_t* out = Append(kStunAttrMessageIntegrity, kStunMessageIntegrityBytes);
  if (out == nullptr) return;
  // The header's length already ends after this attribute, as the HMAC wants it.
  if (!key.Compute({buffer_.first(offset)}, std::span<uint8_t, kStunMessageIntegrityBytes>(
                                                out, kStunMessageIntegrityBytes))) {
    ok_ = false;
  }
}

void StunWriter::AddFingerprint() {
  const size_t offset = size_;
  uint8_t* out = Append(kStunAttrFingerprint, 4);
  if (out == nullptr) return;
  Write32(out, Crc32(buffer_.first(offset)) ^ kFingerprintXor);
}

size_t BuildBindingSuccessResponse(std::span<uint8_t> out, const StunTransactionId& transaction_id,
                                   const net::SocketAddress& mapped, StunIntegrityKey& key) {
  StunWriter writer(out, StunMessageType(kStunMethodBinding, StunClass::kSuccessResponse),
                    transaction_id);
  writer.AddXorAddress(kStunAttrXorMappedAddress, mapped);
  writer.AddMessageIntegrity(key);
  writer.AddFingerprint();
  return writer.size();
}

size_t BuildBindingErrorResponse(std::span<uint8_t> out, const StunTransactionId& transaction_id,
                                 uint16_t error_code, StunIntegrityKey* key,
                                 std::span<const uint16_t> unknown_attributes) {
  StunWriter writer(out, StunMessageType(kStunMethodBinding, StunClass::kErrorResponse),
                    transaction_id);
  writer.AddErrorCode(error_code, ReasonPhrase(error_code));
  if (!unknown_attributes.empty()) writer.AddUnknownAttributes(unknown_attributes);
  if (key != nullptr) writer.AddMessageIntegrity(*key);
  writer.AddFingerprint();
  return writer.size();
}

size_t BuildBindingRequest(std::span<uint8_t> out, const StunBindingRequest& request,
                           StunIntegrityKey& key) {
  StunWriter writer(out, StunMessageType(kStunMethodBinding, StunClass::kRequest),
                    request.transaction_id);
  writer.AddString(kStunAttrUsername, request.username);
  writer.AddUint32(kStunAttrPriority, request.priority);
  writer.AddUint64(request.controlling ? kStunAttrIceControlling : kStunAttrIceControlled,
                   request.tie_breaker);
  if (request.use_candidate) writer.AddAttribute(kStunAttrUseCandidate, {});
  writer.AddMessageIntegrity(key);
  writer.AddFingerprint();
  return writer.size();
}

}  // namespace chorus::ice
