#pragma once

// STUN (RFC 8489) as far as an ICE-lite server needs it: recognising STUN among the other
// datagrams of a shared port (RFC 7983), parsing a message without copying it, checking
// FINGERPRINT and MESSAGE-INTEGRITY (short-term credentials), and writing Binding requests,
// success responses and error responses into a caller's buffer.
//
// Thread safety: free functions are stateless and callable from any thread. A StunIntegrityKey
// or a StunWriter is used by one thread at a time (the media worker that owns it).
//
// Hot path: ParseStun, VerifyFingerprint, VerifyMessageIntegrity(..., StunIntegrityKey&) and the
// builders allocate nothing themselves, take no lock, log nothing and throw nothing; a bad
// datagram is a StunParseResult or a `false`. OpenSSL 3.0's HMAC allocates two small blocks inside
// each computation (see README.md). The overload of VerifyMessageIntegrity taking raw key bytes
// prepares a key for one use and is meant for tests and tools.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/net/socket_address.h"

// OpenSSL's HMAC context (openssl/types.h), declared so users do not include OpenSSL.
struct evp_mac_ctx_st;

namespace chorus::ice {

inline constexpr uint32_t kStunMagicCookie = 0x2112A442;
inline constexpr size_t kStunHeaderBytes = 20;
inline constexpr size_t kStunTransactionIdBytes = 12;
inline constexpr size_t kStunMessageIntegrityBytes = 20;  // HMAC-SHA1
// Larger datagrams are refused before parsing: an ICE check is about 100 bytes, and RFC 8489
// (section 6.1) keeps STUN over UDP under the path MTU.
inline constexpr size_t kStunMaxMessageBytes = 1500;
// Attributes parsed per message at most (a browser's check carries fewer than ten); more is
// kTooManyAttributes, which bounds the work one datagram can cause.
inline constexpr size_t kStunMaxAttributes = 64;
// Unknown comprehension-required attribute types remembered per message (for 420 responses).
inline constexpr size_t kStunMaxUnknownAttributes = 8;

using StunTransactionId = std::array<uint8_t, kStunTransactionIdBytes>;

// The two class bits of a message type (RFC 8489, section 5).
enum class StunClass : uint8_t {
  kRequest = 0,
  kIndication = 1,
  kSuccessResponse = 2,
  kErrorResponse = 3,
};

inline constexpr uint16_t kStunMethodBinding = 0x001;

// Attribute types used here (IANA "STUN Attributes" registry). Types below 0x8000 are
// comprehension-required, the others comprehension-optional.
inline constexpr uint16_t kStunAttrMappedAddress = 0x0001;
inline constexpr uint16_t kStunAttrUsername = 0x0006;
inline constexpr uint16_t kStunAttrMessageIntegrity = 0x0008;
inline constexpr uint16_t kStunAttrErrorCode = 0x0009;
inline constexpr uint16_t kStunAttrUnknownAttributes = 0x000A;
inline constexpr uint16_t kStunAttrRealm = 0x0014;
inline constexpr uint16_t kStunAttrNonce = 0x0015;
inline constexpr uint16_t kStunAttrMessageIntegritySha256 = 0x001C;
inline constexpr uint16_t kStunAttrPasswordAlgorithm = 0x001D;
inline constexpr uint16_t kStunAttrUserhash = 0x001E;
inline constexpr uint16_t kStunAttrXorMappedAddress = 0x0020;
inline constexpr uint16_t kStunAttrPriority = 0x0024;      // RFC 8445
inline constexpr uint16_t kStunAttrUseCandidate = 0x0025;  // RFC 8445
inline constexpr uint16_t kStunAttrSoftware = 0x8022;
inline constexpr uint16_t kStunAttrFingerprint = 0x8028;
inline constexpr uint16_t kStunAttrIceControlled = 0x8029;   // RFC 8445
inline constexpr uint16_t kStunAttrIceControlling = 0x802A;  // RFC 8445

// Error codes an ICE-lite agent sends (RFC 8489 section 14.8, RFC 8445 section 7.3.1.1).
inline constexpr uint16_t kStunErrorBadRequest = 400;
inline constexpr uint16_t kStunErrorUnauthorized = 401;
inline constexpr uint16_t kStunErrorUnknownAttribute = 420;
inline constexpr uint16_t kStunErrorRoleConflict = 487;

// The 14-bit message type of `method` and `message_class` (RFC 8489, figure 3).
uint16_t StunMessageType(uint16_t method, StunClass message_class);

// Why a datagram is not a well-formed STUN message. The caller drops it and counts it under
// StunParseResultName().
enum class StunParseResult : uint8_t {
  kOk,
  kTooShort,           // fewer than the 20 header bytes
  kTooLarge,           // more than kStunMaxMessageBytes
  kBadHeader,          // the two leading bits are not zero or the magic cookie is missing
  kBadLength,          // the header's length is not a multiple of 4 or not the datagram's
  kBadAttribute,       // an attribute runs past the message, a known attribute has the wrong
                       // size or value, or an attribute follows FINGERPRINT
  kTooManyAttributes,  // more than kStunMaxAttributes attributes
};

// A short stable name for metrics labels ("too_short", ...).
const char* StunParseResultName(StunParseResult result);

// What ParseStun found. Views (username, error_reason) point into the parsed datagram and are
// valid only while it is; offsets are from the start of the datagram. Only the first occurrence
// of an attribute counts (RFC 8489, section 14). Attributes after MESSAGE-INTEGRITY other than
// FINGERPRINT are ignored as RFC 8489 section 14.5 requires. No allocation: the struct lives on
// the caller's stack.
struct StunMessage {
  uint16_t type = 0;  // the 14-bit message type
  uint16_t method = 0;
  StunClass message_class = StunClass::kRequest;
  StunTransactionId transaction_id{};

  std::optional<std::string_view> username;
  std::optional<uint32_t> priority;
  bool use_candidate = false;
  std::optional<uint64_t> ice_controlling;  // tie-breaker
  std::optional<uint64_t> ice_controlled;   // tie-breaker
  std::optional<net::SocketAddress> xor_mapped_address;
  std::optional<uint16_t> error_code;  // 300..699
  std::string_view error_reason;
  // Offsets of the attribute headers (type field) of MESSAGE-INTEGRITY and FINGERPRINT.
  std::optional<size_t> message_integrity_offset;
  std::optional<size_t> fingerprint_offset;
  // Comprehension-required attribute types this parser does not know, in message order (the
  // first kStunMaxUnknownAttributes of them). A request carrying any is answered with 420.
  std::array<uint16_t, kStunMaxUnknownAttributes> unknown_attributes{};
  size_t unknown_attribute_count = 0;

  bool is_binding_request() const {
    return method == kStunMethodBinding && message_class == StunClass::kRequest;
  }
  std::span<const uint16_t> unknown() const {
    return std::span<const uint16_t>(unknown_attributes).first(unknown_attribute_count);
  }
};

// RFC 7983 demultiplexing plus the magic cookie: at least a header, first byte 0..3 and
// 0x2112A442 at bytes 4..7. Cheap; says nothing about the rest of the message.
bool IsStun(std::span<const uint8_t> datagram);

// Parses one whole datagram as a STUN message: header (leading zero bits, magic cookie, length a
// multiple of 4 equal to the datagram's size less 20), then every attribute with bounds checks.
// On anything but kOk, `*message` holds no useful data. Never reads outside `datagram`.
StunParseResult ParseStun(std::span<const uint8_t> datagram, StunMessage* message);

// RFC 8489 section 14.7: FINGERPRINT is present, is the last attribute, and equals the CRC-32 of
// the message up to it XOR 0x5354554e. `message` must come from ParseStun(datagram).
bool VerifyFingerprint(std::span<const uint8_t> datagram, const StunMessage& message);

// An HMAC-SHA1 key for MESSAGE-INTEGRITY, prepared once. For short-term credentials (ICE) the key
// is the password itself (RFC 8489 section 9.1.1; ICE passwords are ice-chars, which OpaqueString
// leaves unchanged); for long-term credentials it is the MD5 of "username:realm:password"
// (section 9.2.2), computed by the caller. Movable, not copyable; one thread at a time.
class StunIntegrityKey {
 public:
  // INTERNAL when libcrypto has no HMAC or SHA-1 (a broken OpenSSL installation).
  static absl::StatusOr<StunIntegrityKey> Create(std::span<const uint8_t> key);
  static absl::StatusOr<StunIntegrityKey> Create(std::string_view password);

  StunIntegrityKey(StunIntegrityKey&&) noexcept = default;
  StunIntegrityKey& operator=(StunIntegrityKey&&) noexcept = default;
  ~StunIntegrityKey() = default;

  // HMAC-SHA1 of the concatenation of `parts` into `digest`. False only if libcrypto fails.
  bool Compute(std::initializer_list<std::span<const uint8_t>> parts,
               std::span<uint8_t, kStunMessageIntegrityBytes> digest);

 private:
  struct Deleter {
    void operator()(evp_mac_ctx_st* context) const;
  };
  explicit StunIntegrityKey(evp_mac_ctx_st* context) : context_(context) {}

  std::unique_ptr<evp_mac_ctx_st, Deleter> context_;  // owned; keyed once, re-used per message
};

// RFC 8489 section 14.5: MESSAGE-INTEGRITY is present and is the HMAC-SHA1, under `key`, of the
// message up to it with the header's length field set to end just after MESSAGE-INTEGRITY (so
// FINGERPRINT after it is excluded). Compares in constant time (CRYPTO_memcmp). `message` must
// come from ParseStun(datagram).
bool VerifyMessageIntegrity(std::span<const uint8_t> datagram, const StunMessage& message,
                            StunIntegrityKey& key);
// The same with raw key bytes; prepares a key each call (allocates), for tests and tools.
bool VerifyMessageIntegrity(std::span<const uint8_t> datagram, const StunMessage& message,
                            std::span<const uint8_t> key);

// The local part of a Binding request's USERNAME ("<local ufrag>:<remote ufrag>" as the
// receiver sees it, RFC 8445 section 7.2.2): the text before the first ':'. For a port shared by
// many agents, to find the agent that then verifies the request; nothing here is authenticated.
// nullopt when the datagram is not a well-formed Binding request, has no USERNAME, or the
// USERNAME has no ':' or nothing before it. The view points into `datagram`.
std::optional<std::string_view> StunUsernameLocalPart(std::span<const uint8_t> datagram);

// Writes one STUN message into a caller's buffer, attribute by attribute, keeping the header's
// length field current. Padding bytes are zero. Once an attribute does not fit, the writer is
// failed: every later call does nothing and ok() is false. No allocation.
class StunWriter {
 public:
  // `buffer` must outlive the writer.
  StunWriter(std::span<uint8_t> buffer, uint16_t type, const StunTransactionId& transaction_id);

  void AddAttribute(uint16_t type, std::span<const uint8_t> value);
  void AddString(uint16_t type, std::string_view value);
  void AddUint32(uint16_t type, uint32_t value);
  void AddUint64(uint16_t type, uint64_t value);
  // XOR-MAPPED-ADDRESS style (RFC 8489 section 14.2). An IPv4-mapped IPv6 address (from a
  // dual-stack socket) is written as the IPv4 address it carries. Fails the writer for an address
  // that is neither IPv4 nor IPv6.
  void AddXorAddress(uint16_t type, const net::SocketAddress& address);
  // ERROR-CODE (RFC 8489 section 14.8); `code` 300..699, otherwise the writer fails.
  void AddErrorCode(uint16_t code, std::string_view reason);
  void AddUnknownAttributes(std::span<const uint16_t> types);
  // MESSAGE-INTEGRITY over everything written so far (RFC 8489 section 14.5).
  void AddMessageIntegrity(StunIntegrityKey& key);
  // FINGERPRINT; must be the last attribute (RFC 8489 section 14.7).
  void AddFingerprint();

  bool ok() const { return ok_; }
  // Bytes written (header and attributes), or 0 once the writer has failed.
  size_t size() const { return ok_ ? size_ : 0; }

 private:
  // Appends an attribute header and room for `length` value bytes (zero padded); nullptr when it
  // does not fit (the writer has then failed).
  uint8_t* Append(uint16_t type, size_t length);

  std::span<uint8_t> buffer_;
  size_t size_ = 0;
  bool ok_ = true;
};

// A Binding success response to the request `transaction_id`: XOR-MAPPED-ADDRESS `mapped` (the
// requester's address as seen here), MESSAGE-INTEGRITY under `key`, FINGERPRINT. Returns the
// bytes written into `out`, 0 when they do not fit (64 bytes for IPv4, 76 for IPv6).
size_t BuildBindingSuccessResponse(std::span<uint8_t> out, const StunTransactionId& transaction_id,
                                   const net::SocketAddress& mapped, StunIntegrityKey& key);

// A Binding error response: ERROR-CODE `error_code` with its RFC reason phrase, UNKNOWN-ATTRIBUTES
// when `unknown_attributes` is not empty (420), MESSAGE-INTEGRITY when `key` is not null (only
// for a request that was authenticated, RFC 8489 section 9.1.3), FINGERPRINT. Returns the bytes
// written, 0 when they do not fit (at most 100 bytes with 8 unknown attributes).
size_t BuildBindingErrorResponse(std::span<uint8_t> out, const StunTransactionId& transaction_id,
                                 uint16_t error_code, StunIntegrityKey* key,
                                 std::span<const uint16_t> unknown_attributes = {});

// What an ICE connectivity check carries (RFC 8445 section 7.1.1).
struct StunBindingRequest {
  StunTransactionId transaction_id{};
  std::string_view username;  // "<receiver's ufrag>:<sender's ufrag>"
  uint32_t priority = 0;
  bool use_candidate = false;
  bool controlling = true;  // ICE-CONTROLLING, else ICE-CONTROLLED
  uint64_t tie_breaker = 0;
};

// A Binding request: USERNAME, PRIORITY, ICE-CONTROLLING or ICE-CONTROLLED, USE-CANDIDATE when
// asked, MESSAGE-INTEGRITY under `key` (the receiver's password), FINGERPRINT. Returns the bytes
// written, 0 when they do not fit. For tests and a future client.
size_t BuildBindingRequest(std::span<uint8_t> out, const StunBindingRequest& request,
                           StunIntegrityKey& key);

}  // namespace chorus::ice
