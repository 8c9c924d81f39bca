// Any datagram, as it would reach a shared media port: recognised (IsStun), demultiplexed
// (StunUsernameLocalPart), parsed, verified (FINGERPRINT, MESSAGE-INTEGRITY) and handed to an
// IceLiteAgent. Forged, truncated or malformed input must come back as a StunParseResult or an
// IceResult, never crash or read out of bounds; whatever the agent answers must itself parse and
// carry a correct FINGERPRINT, and a success answer a correct MESSAGE-INTEGRITY and the source
// address.
//
// Random bytes rarely carry a correct FINGERPRINT, the agent's USERNAME or a correct HMAC, so the
// first input byte says how much of that to repair before the rest goes in:
//   bits 0-1  0: nothing; 1: FINGERPRINT recomputed; 2: also MESSAGE-INTEGRITY recomputed with
//             a wrong password (a forgery); 3: the same with the agent's password
//   bit 2     with 2: USERNAME left as it is (else the agent's is put in, as with 3);
//             with 3: PRIORITY and a role added when missing (reaching answers and nominations)
//   bit 3     the role so added: ICE-CONTROLLED (a role conflict) instead of ICE-CONTROLLING
//   bits 4-6  source port (several candidate pairs); bit 7: an IPv6 source

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipeline/ice/ice_lite.h"
#include "pipeline/ice/stun.h"

namespace {

using chorus::ice::IceCredentials;
using chorus::ice::IceLiteAgent;
using chorus::ice::IceResult;
using chorus::ice::StunIntegrityKey;
using chorus::ice::StunMessage;
using chorus::ice::StunParseResult;

const IceCredentials kLocal{"FuZzLoCa", "fuzz+local+password+1234"};
const IceCredentials kRemote{"rEmO", "fuzz+remote+password+12"};

struct Repair {
  bool fingerprint = false;
  bool username = false;
  StunIntegrityKey* integrity = nullptr;  // recompute MESSAGE-INTEGRITY with this key
  bool complete = false;
  bool controlled = false;
};

Repair RepairFor(uint8_t control, StunIntegrityKey& right, StunIntegrityKey& wrong) {
  const uint8_t level = control & 0x03;
  const bool bit2 = (control & 0x04) != 0;
  return {.fingerprint = level >= 1,
          .username = level == 3 || (level == 2 && !bit2),
          .integrity = level == 3   ? &right
                       : level == 2 ? &wrong
                                    : nullptr,
          .complete = level == 3 && bit2,
          .controlled = (control & 0x08) != 0};
}

void Check(bool condition) {
  if (!condition) std::abort();
}

// Rewrites `bytes` as `repair` says when it parses; attributes are copied as they are otherwise.
// What followed a recomputed MESSAGE-INTEGRITY, and FINGERPRINT, are cut off and recomputed.
void Apply(const Repair& repair, std::vector<uint8_t>& bytes) {
  static const std::string username = kLocal.ufrag + ":" + kRemote.ufrag;
  StunMessage message;
  if (chorus::ice::ParseStun(bytes, &message) != StunParseResult::kOk) return;
  size_t end = message.fingerprint_offset.value_or(bytes.size());
  if (repair.integrity != nullptr && message.message_integrity_offset) {
    end = *message.message_integrity_offset;
  }

  std::vector<uint8_t> out(5 * bytes.size() + 128);  // room for every USERNAME to grow
  chorus::ice::StunWriter writer(out, message.type, message.transaction_id);
  if (repair.username && !message.username) {
    writer.AddString(chorus::ice::kStunAttrUsername, username);
  }
  if (repair.complete && !message.priority) {
    writer.AddUint32(chorus::ice::kStunAttrPriority, 0x6E001EFF);
  }
  if (repair.complete && !message.ice_controlling && !message.ice_controlled) {
    writer.AddUint64(repair.controlled ? chorus::ice::kStunAttrIceControlled
                                       : chorus::ice::kStunAttrIceControlling,
                     1);
  }
  size_t offset = chorus::ice::kStunHeaderBytes;
  while (offset + 4 <= end) {
    const uint16_t type = static_cast<uint16_t>(bytes[offset] << 8 | bytes[offset + 1]);
    const size_t length = static_cast<size_t>(bytes[offset + 2] << 8 | bytes[offset + 3]);
    if (repair.username && type == chorus::ice::kStunAttrUsername) {
      writer.AddString(type, username);
    } else {
      writer.AddAttribute(type, std::span<const uint8_t>(bytes).subspan(offset + 4, length));
    }
    offset += 4 + ((length + 3) & ~size_t{3});
  }
  if (repair.integrity != nullptr) writer.AddMessageIntegrity(*repair.integrity);
  if (repair.fingerprint) writer.AddFingerprint();
  if (!writer.ok()) return;
  out.resize(writer.size());
  bytes.swap(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<IceLiteAgent> agent =
      std::move(*IceLiteAgent::Create({.local = kLocal, .remote = kRemote}));
  static StunIntegrityKey key = std::move(*StunIntegrityKey::Create(kLocal.pwd));
  static StunIntegrityKey wrong_key = std::move(*StunIntegrityKey::Create(kRemote.pwd));
  static int64_t now_us = 0;
  if (size < 1) return 0;
  const uint8_t control = data[0];
  // Exactly sized heap copy so AddressSanitizer sees reads past the datagram.
  std::vector<uint8_t> datagram(data + 1, data + size);
  Apply(RepairFor(control, key, wrong_key), datagram);
  datagram.shrink_to_fit();

  (void)chorus::ice::IsStun(datagram);
  (void)chorus::ice::StunUsernameLocalPart(datagram);
  StunMessage message;
  if (chorus::ice::ParseStun(datagram, &message) == StunParseResult::kOk) {
    (void)chorus::ice::VerifyFingerprint(datagram, message);
    (void)chorus::ice::VerifyMessageIntegrity(datagram, message, key);
  }

  const auto from =
      chorus::net::SocketAddress::FromIp((control & 0x80) != 0 ? "2001:db8::1" : "192.0.2.1",
                                         static_cast<uint16_t>(1000 + (control >> 4 & 0x07)));
  std::array<uint8_t, chorus::ice::kIceMaxResponseBytes> response{};
  size_t response_len = 0;
  now_us += 1'000'000;
  const IceResult result =
      agent->HandleBindingRequest(datagram, *from, now_us, response, &response_len);
  Check(response_len <= response.size());
  if (response_len > 0) {
    const std::span<const uint8_t> answer = std::span<const uint8_t>(response).first(response_len);
    StunMessage parsed;
    Check(chorus::ice::ParseStun(answer, &parsed) == StunParseResult::kOk);
    Check(chorus::ice::VerifyFingerprint(answer, parsed));
    Check(parsed.transaction_id == message.transaction_id);
    if (result == IceResult::kResponded || result == IceResult::kSelectedPair) {
      Check(chorus::ice::VerifyMessageIntegrity(answer, parsed, key));
      Check(parsed.xor_mapped_address == *from);
      Check(agent->IsValidated(*from));
    }
  }
  if (result == IceResult::kSelectedPair) Check(*agent->selected() == *from);
  (void)agent->ConsentExpired(now_us);
  return 0;
}
