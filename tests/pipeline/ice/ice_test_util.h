#pragma once

// Helpers shared by the pipeline/ice tests: addresses, keys, and a builder of connectivity checks
// that can leave out or spoil any part of them.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/ice/stun.h"
#include "pipeline/net/socket_address.h"

namespace chorus::ice::testing {

inline net::SocketAddress Address(std::string_view ip, uint16_t port) {
  absl::StatusOr<net::SocketAddress> address = net::SocketAddress::FromIp(ip, port);
  EXPECT_TRUE(address.ok()) << ip;
  return address.ok() ? *address : net::SocketAddress();
}

inline StunIntegrityKey Key(std::string_view password) {
  absl::StatusOr<StunIntegrityKey> key = StunIntegrityKey::Create(password);
  EXPECT_TRUE(key.ok());
  return *std::move(key);
}

inline std::span<const uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

inline StunTransactionId TransactionId(uint8_t seed) {
  StunTransactionId id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
  return id;
}

// A connectivity check as a browser sends it, with switches to leave out or spoil each part.
struct CheckSpec {
  StunTransactionId transaction_id = TransactionId(1);
  std::string username;  // "<agent's local ufrag>:<agent's remote ufrag>"
  std::string password;  // the agent's local password
  bool with_username = true;
  bool with_priority = true;
  uint32_t priority = 0x6E7F1EFF;
  bool controlling = true;
  bool controlled = false;
  uint64_t tie_breaker = 0x0102030405060708;
  bool use_candidate = false;
  bool with_integrity = true;
  bool with_fingerprint = true;
  bool corrupt_fingerprint = false;
  // Extra attributes written before MESSAGE-INTEGRITY: (type, value).
  std::vector<std::pair<uint16_t, std::string>> extra;
  uint16_t type = StunMessageType(kStunMethodBinding, StunClass::kRequest);
};

inline std::vector<uint8_t> BuildCheck(const CheckSpec& spec) {
  std::vector<uint8_t> buffer(kStunMaxMessageBytes);
  StunWriter writer(buffer, spec.type, spec.transaction_id);
  if (spec.with_username) writer.AddString(kStunAttrUsername, spec.username);
  for (const auto& [type, value] : spec.extra) writer.AddString(type, value);
  if (spec.with_priority) writer.AddUint32(kStunAttrPriority, spec.priority);
  if (spec.controlling) writer.AddUint64(kStunAttrIceControlling, spec.tie_breaker);
  if (spec.controlled) writer.AddUint64(kStunAttrIceControlled, spec.tie_breaker);
  if (spec.use_candidate) writer.AddAttribute(kStunAttrUseCandidate, {});
  if (spec.with_integrity) {
    StunIntegrityKey key = Key(spec.password);
    writer.AddMessageIntegrity(key);
  }
  if (spec.with_fingerprint) writer.AddFingerprint();
  EXPECT_TRUE(writer.ok());
  buffer.resize(writer.size());
  if (spec.corrupt_fingerprint) buffer.back() ^= 0x01;
  return buffer;
}

}  // namespace chorus::ice::testing
