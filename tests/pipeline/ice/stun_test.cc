#include "pipeline/ice/stun.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/pipeline/ice/ice_test_util.h"

namespace chorus::ice {
namespace {

using ::chorus::ice::testing::Address;
using ::chorus::ice::testing::Bytes;
using ::chorus::ice::testing::Key;
using ::chorus::ice::testing::TransactionId;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// ----- RFC 5769 test vectors (the messages of its sections 2.1 to 2.4, byte for byte) -----

constexpr char kRfc5769Password[] = "VOkJxbRl1RmTxUk/WvJxBt";
constexpr StunTransactionId kRfc5769TransactionId = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                                     0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

// clang-format off
// 2.1 Sample Request: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME "evtj:h6vY" (padded with
// spaces), MESSAGE-INTEGRITY, FINGERPRINT.
constexpr uint8_t kSampleRequest[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

// 2.2 Sample IPv4 Response: SOFTWARE "test vector", XOR-MAPPED-ADDRESS 192.0.2.1:32853,
// MESSAGE-INTEGRITY, FINGERPRINT.
constexpr uint8_t kSampleIpv4Response[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

// 2.3 Sample IPv6 Response: the same with 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
constexpr uint8_t kSampleIpv6Response[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

// 2.4 Sample Request with Long-Term Authentication: USERNAME (U+30DE U+30C8 U+30EA U+30C3 U+30AF
// U+30B9), NONCE, REALM "example.org", MESSAGE-INTEGRITY; no FINGERPRINT.
constexpr uint8_t kSampleLongTermRequest[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33,
    0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12,
    0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83,
    0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c,
    0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
    0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
    0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14,
    0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71,
    0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};
// clang-format on

std::span<const uint8_t> Span(const auto& array) { return {array, sizeof(array)}; }

StunMessage MustParse(std::span<const uint8_t> datagram) {
  StunMessage message;
  EXPECT_EQ(ParseStun(datagram, &message), StunParseResult::kOk);
  return message;
}

TEST(StunRfc5769Test, SampleRequestParsesAndVerifies) {
  const StunMessage message = MustParse(Span(kSampleRequest));
  EXPECT_TRUE(message.is_binding_request());
  EXPECT_EQ(message.transaction_id, kRfc5769TransactionId);
  EXPECT_EQ(message.username, "evtj:h6vY");
  EXPECT_EQ(message.priority, 0x6e0001ffu);
  EXPECT_EQ(message.ice_controlled, 0x932ff9b151263b36u);
  EXPECT_FALSE(message.ice_controlling.has_value());
  EXPECT_FALSE(message.use_candidate);
  EXPECT_EQ(message.message_integrity_offset, 76u);
  EXPECT_EQ(message.fingerprint_offset, 100u);
  EXPECT_EQ(message.unknown_attribute_count, 0u);

  EXPECT_TRUE(VerifyFingerprint(Span(kSampleRequest), message));
  EXPECT_TRUE(VerifyMessageIntegrity(Span(kSampleRequest), message, Bytes(kRfc5769Password)));
  EXPECT_FALSE(
      VerifyMessageIntegrity(Span(kSampleRequest), message, Bytes("VOkJxbRl1RmTxUk/WvJxBT")));
  EXPECT_EQ(StunUsernameLocalPart(Span(kSampleRequest)), "evtj");
}

TEST(StunRfc5769Test, SampleResponsesParseAndVerify) {
  const StunMessage v4 = MustParse(Span(kSampleIpv4Response));
  EXPECT_EQ(v4.method, kStunMethodBinding);
  EXPECT_EQ(v4.message_class, StunClass::kSuccessResponse);
  ASSERT_TRUE(v4.xor_mapped_address.has_value());
  EXPECT_EQ(*v4.xor_mapped_address, Address("192.0.2.1", 32853));
  EXPECT_TRUE(VerifyFingerprint(Span(kSampleIpv4Response), v4));
  EXPECT_TRUE(VerifyMessageIntegrity(Span(kSampleIpv4Response), v4, Bytes(kRfc5769Password)));

  const StunMessage v6 = MustParse(Span(kSampleIpv6Response));
  ASSERT_TRUE(v6.xor_mapped_address.has_value());
  EXPECT_EQ(*v6.xor_mapped_address, Address("2001:db8:1234:5678:11:2233:4455:6677", 32853));
  EXPECT_TRUE(VerifyFingerprint(Span(kSampleIpv6Response), v6));
  EXPECT_TRUE(VerifyMessageIntegrity(Span(kSampleIpv6Response), v6, Bytes(kRfc5769Password)));
  // Not a request: no agent would look it up.
  EXPECT_EQ(StunUsernameLocalPart(Span(kSampleIpv6Response)), std::nullopt);
}

TEST(StunRfc5769Test, LongTermRequestVerifiesWithTheMd5Key) {
  const StunMessage message = MustParse(Span(kSampleLongTermRequest));
  EXPECT_EQ(message.username,
            "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9");
  EXPECT_FALSE(message.fingerprint_offset.has_value());
  EXPECT_FALSE(VerifyFingerprint(Span(kSampleLongTermRequest), message));
  // RFC 8489 section 9.2.2: key = MD5(username ":" realm ":" SASLprep(password)); the RFC's
  // password "The<U+00AD>M<U+00AA>tr<U+2168>" prepares to "TheMatrIX".
  const std::string input = std::string(*message.username) + ":example.org:TheMatrIX";
  std::array<uint8_t, 16> md5{};
  unsigned int md5_length = 0;
  ASSERT_EQ(EVP_Digest(input.data(), input.size(), md5.data(), &md5_length, EVP_md5(), nullptr), 1);
  EXPECT_TRUE(VerifyMessageIntegrity(Span(kSampleLongTermRequest), message, md5));
  EXPECT_FALSE(VerifyMessageIntegrity(Span(kSampleLongTermRequest), message, Bytes("TheMatrIX")));
}

// The writer reproduces the RFC's messages exactly once their padding bytes are made what the
// RFC chose (spaces; RFC 8489 lets padding be anything, this writer writes zeros). That checks
// attribute layout, the length field updates, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and
// FINGERPRINT against an independent source.
TEST(StunRfc5769Test, WriterReproducesTheSampleRequest) {
  std::array<uint8_t, 256> buffer{};
  StunWriter writer(buffer, StunMessageType(kStunMethodBinding, StunClass::kRequest),
                    kRfc5769TransactionId);
  writer.AddString(kStunAttrSoftware, "STUN test client");
  writer.AddUint32(kStunAttrPriority, 0x6e0001ff);
  writer.AddUint64(kStunAttrIceControlled, 0x932ff9b151263b36);
  writer.AddString(kStunAttrUsername, "evtj:h6vY");
  std::memset(&buffer[writer.size() - 3], 0x20, 3);
  StunIntegrityKey key = Key(kRfc5769Password);
  writer.AddMessageIntegrity(key);
  writer.AddFingerprint();
  ASSERT_TRUE(writer.ok());
  EXPECT_THAT(std::span<const uint8_t>(buffer).first(writer.size()),
              ElementsAreArray(kSampleRequest));
}

TEST(StunRfc5769Test, WriterReproducesTheSampleResponses) {
  StunIntegrityKey key = Key(kRfc5769Password);
  for (const bool ipv6 : {false, true}) {
    std::array<uint8_t, 256> buffer{};
    StunWriter writer(buffer, StunMessageType(kStunMethodBinding, StunClass::kSuccessResponse),
                      kRfc5769TransactionId);
    writer.AddString(kStunAttrSoftware, "test vector");
    buffer[writer.size() - 1] = 0x20;
    writer.AddXorAddress(kStunAttrXorMappedAddress,
                         ipv6 ? Address("2001:db8:1234:5678:11:2233:4455:6677", 32853)
                              : Address("192.0.2.1", 32853));
    writer.AddMessageIntegrity(key);
    writer.AddFingerprint();
    ASSERT_TRUE(writer.ok());
    if (ipv6) {
      EXPECT_THAT(std::span<const uint8_t>(buffer).first(writer.size()),
                  ElementsAreArray(kSampleIpv6Response));
    } else {
      EXPECT_THAT(std::span<const uint8_t>(buffer).first(writer.size()),
                  ElementsAreArray(kSampleIpv4Response));
    }
  }
}

// BuildBindingSuccessResponse has no SOFTWARE, so only its XOR-MAPPED-ADDRESS can match the
// RFC's bytes; its integrity and fingerprint must verify.
TEST(StunRfc5769Test, SuccessResponseBuilderMatchesTheSampleAddresses) {
  StunIntegrityKey key = Key(kRfc5769Password);
  struct Case {
    net::SocketAddress mapped;
    std::span<const uint8_t> sample;
    size_t expected_size;
  };
  const Case cases[] = {
      {Address("192.0.2.1", 32853), Span(kSampleIpv4Response), 64},
      {Address("2001:db8:1234:5678:11:2233:4455:6677", 32853), Span(kSampleIpv6Response), 76},
  };
  for (const Case& c : cases) {
    std::array<uint8_t, 128> out{};
    const size_t size = BuildBindingSuccessResponse(out, kRfc5769TransactionId, c.mapped, key);
    ASSERT_EQ(size, c.expected_size);
    const std::span<const uint8_t> response = std::span<const uint8_t>(out).first(size);
    // XOR-MAPPED-ADDRESS sits after our header and after the RFC's SOFTWARE attribute.
    const size_t attribute_bytes = size - 20 - 24 - 8;  // less header, MI and FP
    const size_t sample_attribute = 36;
    EXPECT_THAT(response.subspan(20, attribute_bytes),
                ElementsAreArray(c.sample.subspan(sample_attribute, attribute_bytes)));
    const StunMessage message = MustParse(response);
    EXPECT_EQ(message.message_class, StunClass::kSuccessResponse);
    EXPECT_EQ(message.transaction_id, kRfc5769TransactionId);
    EXPECT_EQ(message.xor_mapped_address, c.mapped);
    EXPECT_TRUE(VerifyMessageIntegrity(response, message, Bytes(kRfc5769Password)));
    EXPECT_TRUE(VerifyFingerprint(response, message));
    EXPECT_EQ(message.fingerprint_offset, size - 8);
    EXPECT_EQ(message.message_integrity_offset, size - 32);
  }
}

// ----- Header, types, builders -----

TEST(StunTest, MessageTypesFollowRfc8489Figure3) {
  EXPECT_EQ(StunMessageType(kStunMethodBinding, StunClass::kRequest), 0x0001);
  EXPECT_EQ(StunMessageType(kStunMethodBinding, StunClass::kIndication), 0x0011);
  EXPECT_EQ(StunMessageType(kStunMethodBinding, StunClass::kSuccessResponse), 0x0101);
  EXPECT_EQ(StunMessageType(kStunMethodBinding, StunClass::kErrorResponse), 0x0111);
  EXPECT_EQ(StunMessageType(0x003, StunClass::kRequest), 0x0003);  // TURN Allocate
  // Every method and class survives a write and a parse.
  for (uint16_t method : {0x001, 0x003, 0x00F, 0x010, 0x07F, 0x080, 0xABC, 0xFFF}) {
    for (StunClass c : {StunClass::kRequest, StunClass::kIndication, StunClass::kSuccessResponse,
                        StunClass::kErrorResponse}) {
      std::array<uint8_t, 20> buffer{};
      StunWriter writer(buffer, StunMessageType(method, c), TransactionId(3));
      ASSERT_EQ(writer.size(), 20u);
      const StunMessage message = MustParse(buffer);
      EXPECT_EQ(message.method, method);
      EXPECT_EQ(message.message_class, c);
    }
  }
}

TEST(StunTest, IsStunFollowsRfc7983) {
  std::array<uint8_t, 20> stun{};
  StunWriter writer(stun, 0x0001, TransactionId(1));
  EXPECT_TRUE(IsStun(stun));
  std::array<uint8_t, 20> other = stun;
  other[0] = 0x80;  // RTP/RTCP
  EXPECT_FALSE(IsStun(other));
  other[0] = 22;  // DTLS handshake
  EXPECT_FALSE(IsStun(other));
  other = stun;
  other[4] ^= 0x01;  // no magic cookie (RFC 3489 style)
  EXPECT_FALSE(IsStun(other));
  EXPECT_FALSE(IsStun(std::span<const uint8_t>(stun).first(19)));
  EXPECT_FALSE(IsStun({}));
}

TEST(StunTest, ErrorResponsesCarryCodeReasonUnknownAttributesAndOptionalIntegrity) {
  StunIntegrityKey key = Key("a-password-of-22-chars");
  const uint16_t unknown[] = {0x0031, 0x7FFF, 0x0002};
  std::array<uint8_t, 128> out{};
  const size_t size =
      BuildBindingErrorResponse(out, TransactionId(9), kStunErrorUnknownAttribute, &key, unknown);
  ASSERT_GT(size, 0u);
  EXPECT_LE(size, 100u);
  const std::span<const uint8_t> response = std::span<const uint8_t>(out).first(size);
  const StunMessage message = MustParse(response);
  EXPECT_EQ(message.message_class, StunClass::kErrorResponse);
  EXPECT_EQ(message.error_code, 420);
  EXPECT_EQ(message.error_reason, "Unknown Attribute");
  EXPECT_TRUE(VerifyMessageIntegrity(response, message, Bytes("a-password-of-22-chars")));
  EXPECT_TRUE(VerifyFingerprint(response, message));
  // UNKNOWN-ATTRIBUTES lists the three types (6 bytes, padded to 8).
  EXPECT_THAT(response.subspan(20 + 4 + 4 + 20, 12),
              ElementsAre(0x00, 0x0A, 0x00, 0x06, 0x00, 0x31, 0x7F, 0xFF, 0x00, 0x02, 0, 0));

  for (uint16_t code : {kStunErrorBadRequest, kStunErrorUnauthorized, kStunErrorRoleConflict}) {
    const size_t unauthenticated = BuildBindingErrorResponse(out, TransactionId(9), code, nullptr);
    const StunMessage error = MustParse(std::span<const uint8_t>(out).first(unauthenticated));
    EXPECT_EQ(error.error_code, code);
    EXPECT_FALSE(error.message_integrity_offset.has_value());
    EXPECT_TRUE(VerifyFingerprint(std::span<const uint8_t>(out).first(unauthenticated), error));
  }
  EXPECT_EQ(MustParse(std::span<const uint8_t>(out).first(
                          BuildBindingErrorResponse(out, TransactionId(9), 487, nullptr)))
                .error_reason,
            "Role Conflict");
}

TEST(StunTest, RequestBuilderWritesWhatAnIceCheckCarries) {
  StunIntegrityKey key = Key("remote-password-22chars");
  std::array<uint8_t, 256> out{};
  const StunBindingRequest request{.transaction_id = TransactionId(4),
                                   .username = "abcd:efgh",
                                   .priority = 1853824767,
                                   .use_candidate = true,
                                   .controlling = true,
                                   .tie_breaker = 0xFEDCBA9876543210};
  const size_t size = BuildBindingRequest(out, request, key);
  ASSERT_GT(size, 0u);
  const std::span<const uint8_t> bytes = std::span<const uint8_t>(out).first(size);
  const StunMessage message = MustParse(bytes);
  EXPECT_TRUE(message.is_binding_request());
  EXPECT_EQ(message.username, "abcd:efgh");
  EXPECT_EQ(message.priority, 1853824767u);
  EXPECT_TRUE(message.use_candidate);
  EXPECT_EQ(message.ice_controlling, 0xFEDCBA9876543210u);
  EXPECT_FALSE(message.ice_controlled.has_value());
  EXPECT_TRUE(VerifyMessageIntegrity(bytes, message, key));
  EXPECT_TRUE(VerifyFingerprint(bytes, message));
  EXPECT_EQ(StunUsernameLocalPart(bytes), "abcd");
  // Any smaller buffer is refused whole.
  for (size_t n = 0; n < size; ++n) {
    EXPECT_EQ(BuildBindingRequest(std::span<uint8_t>(out).first(n), request, key), 0u) << n;
  }
}

TEST(StunTest, WriterFailsStickilyAndRefusesBadValues) {
  std::array<uint8_t, 28> buffer{};
  StunWriter writer(buffer, 0x0001, TransactionId(1));
  writer.AddUint32(kStunAttrPriority, 1);  // 28 bytes: full
  EXPECT_EQ(writer.size(), 28u);
  writer.AddAttribute(kStunAttrUseCandidate, {});
  EXPECT_FALSE(writer.ok());
  EXPECT_EQ(writer.size(), 0u);
  writer.AddFingerprint();
  EXPECT_EQ(writer.size(), 0u);

  std::array<uint8_t, 64> big{};
  StunWriter bad_code(big, 0x0111, TransactionId(1));
  bad_code.AddErrorCode(700, "x");
  EXPECT_FALSE(bad_code.ok());
  StunWriter bad_address(big, 0x0101, TransactionId(1));
  bad_address.AddXorAddress(kStunAttrXorMappedAddress, net::SocketAddress());
  EXPECT_FALSE(bad_address.ok());
  StunWriter too_small(std::span<uint8_t>(big).first(19), 0x0001, TransactionId(1));
  EXPECT_FALSE(too_small.ok());
}

TEST(StunTest, Ipv4MappedAddressesAreAnsweredAsIpv4) {
  StunIntegrityKey key = Key("a-password-of-22-chars");
  std::array<uint8_t, 128> out{};
  const size_t size =
      BuildBindingSuccessResponse(out, TransactionId(2), Address("::ffff:203.0.113.9", 4242), key);
  const StunMessage message = MustParse(std::span<const uint8_t>(out).first(size));
  EXPECT_EQ(message.xor_mapped_address, Address("203.0.113.9", 4242));
}

TEST(StunTest, UsernameLocalPartNeedsABindingRequestWithAColon) {
  auto request = [](std::string_view username, uint16_t type = 0x0001) {
    std::vector<uint8_t> buffer(256);
    StunWriter writer(buffer, type, TransactionId(5));
    writer.AddString(kStunAttrUsername, username);
    buffer.resize(writer.size());
    return buffer;
  };
  EXPECT_EQ(StunUsernameLocalPart(request("abcd:efgh")), "abcd");
  EXPECT_EQ(StunUsernameLocalPart(request("abcd:")), "abcd");
  EXPECT_EQ(StunUsernameLocalPart(request("a:b:c")), "a");
  EXPECT_EQ(StunUsernameLocalPart(request("abcdefgh")), std::nullopt);
  EXPECT_EQ(StunUsernameLocalPart(request(":efgh")), std::nullopt);
  EXPECT_EQ(StunUsernameLocalPart(request("")), std::nullopt);
  EXPECT_EQ(StunUsernameLocalPart(request("abcd:efgh", 0x0011)), std::nullopt);  // indication
  EXPECT_EQ(StunUsernameLocalPart(request("abcd:efgh", 0x0101)), std::nullopt);  // response
  std::vector<uint8_t> no_username(20);
  StunWriter writer(no_username, 0x0001, TransactionId(5));
  EXPECT_EQ(StunUsernameLocalPart(no_username), std::nullopt);
  std::vector<uint8_t> truncated = request("abcd:efgh");
  truncated.pop_back();
  EXPECT_EQ(StunUsernameLocalPart(truncated), std::nullopt);
}

// ----- Hostile input -----

TEST(StunHostileTest, EveryTruncationIsRefused) {
  for (std::span<const uint8_t> sample :
       {Span(kSampleRequest), Span(kSampleIpv6Response), Span(kSampleLongTermRequest)}) {
    for (size_t n = 0; n < sample.size(); ++n) {
      // Exactly sized heap copies so AddressSanitizer sees any read past the datagram.
      std::vector<uint8_t> prefix(sample.begin(), sample.begin() + static_cast<ptrdiff_t>(n));
      StunMessage message;
      const StunParseResult result = ParseStun(prefix, &message);
      EXPECT_EQ(result, n < 20 ? StunParseResult::kTooShort : StunParseResult::kBadLength) << n;
      EXPECT_EQ(StunUsernameLocalPart(prefix), std::nullopt);
      // With the header's length rewritten to match, what is left parses or not, but never
      // verifies as the whole message did.
      if (n >= 20 && n % 4 == 0) {
        prefix[2] = static_cast<uint8_t>((n - 20) >> 8);
        prefix[3] = static_cast<uint8_t>(n - 20);
        if (ParseStun(prefix, &message) == StunParseResult::kOk) {
          EXPECT_FALSE(VerifyFingerprint(prefix, message) &&
                       VerifyMessageIntegrity(prefix, message, Bytes(kRfc5769Password)))
              << n;
        }
      }
    }
  }
}

TEST(StunHostileTest, HeaderErrors) {
  StunMessage message;
  std::vector<uint8_t> bytes(std::begin(kSampleRequest), std::end(kSampleRequest));
  auto parse = [&](std::vector<uint8_t> b) { return ParseStun(b, &message); };

  std::vector<uint8_t> b = bytes;
  b[0] |= 0x40;
  EXPECT_EQ(parse(b), StunParseResult::kBadHeader);
  b = bytes;
  b[7] ^= 0xFF;
  EXPECT_EQ(parse(b), StunParseResult::kBadHeader);
  b = bytes;
  b[3] = 0x59;  // not a multiple of 4
  EXPECT_EQ(parse(b), StunParseResult::kBadLength);
  b = bytes;
  b[3] = 0x5C;  // longer than the datagram
  EXPECT_EQ(parse(b), StunParseResult::kBadLength);
  b = bytes;
  b[3] = 0x54;  // shorter than the datagram (trailing bytes)
  EXPECT_EQ(parse(b), StunParseResult::kBadLength);
  b = bytes;
  b[2] = 0xFF;
  EXPECT_EQ(parse(b), StunParseResult::kBadLength);
  b.assign(kStunMaxMessageBytes + 4, 0);
  EXPECT_EQ(parse(b), StunParseResult::kTooLarge);
}

std::vector<uint8_t> WithAttributes(
    const std::vector<std::pair<uint16_t, std::vector<uint8_t>>>& attributes) {
  std::vector<uint8_t> buffer(20);
  buffer[1] = 0x01;
  buffer[4] = 0x21;
  buffer[5] = 0x12;
  buffer[6] = 0xA4;
  buffer[7] = 0x42;
  for (const auto& attribute : attributes) {
    buffer.insert(buffer.end(), attribute.second.begin(), attribute.second.end());
  }
  const size_t length = buffer.size() - 20;
  buffer[2] = static_cast<uint8_t>(length >> 8);
  buffer[3] = static_cast<uint8_t>(length);
  return buffer;
}

// An attribute as raw bytes: type, declared length, then `value_bytes` bytes of 0xAB.
std::pair<uint16_t, std::vector<uint8_t>> Raw(uint16_t type, uint16_t declared_length,
                                              size_t value_bytes) {
  std::vector<uint8_t> raw = {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type),
                              static_cast<uint8_t>(declared_length >> 8),
                              static_cast<uint8_t>(declared_length)};
  raw.insert(raw.end(), value_bytes, 0xAB);
  return {type, raw};
}

TEST(StunHostileTest, AttributeBoundsAndSizes) {
  StunMessage message;
  auto parse = [&](const std::vector<uint8_t>& b) { return ParseStun(b, &message); };
  // Length runs past the message, by a little, by padding, by a lot.
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrUsername, 5, 4)})), StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrUsername, 9, 8)})), StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrUsername, 0xFFFF, 8)})),
            StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(0xFFFF, 0xFFFC, 1000)})), StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrUsername, 8, 8)})), StunParseResult::kOk);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrUsername, 7, 8)})), StunParseResult::kOk);
  // Known attributes of the wrong size.
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrPriority, 3, 4)})), StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrPriority, 8, 8)})), StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrUseCandidate, 4, 4)})),
            StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrIceControlling, 4, 4)})),
            StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrIceControlled, 12, 12)})),
            StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrMessageIntegrity, 16, 16)})),
            StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrFingerprint, 8, 8)})),
            StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrXorMappedAddress, 8, 8)})),  // family 0xAB
            StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrErrorCode, 2, 4)})), StunParseResult::kBadAttribute);
  EXPECT_EQ(parse(WithAttributes({Raw(kStunAttrErrorCode, 4, 4)})),  // class 3 of 0xAB, 171
            StunParseResult::kBadAttribute);
  // XOR-MAPPED-ADDRESS family and length must agree.
  auto address = Raw(kStunAttrXorMappedAddress, 8, 8);
  address.second[5] = 0x02;  // IPv6 in 8 bytes
  EXPECT_EQ(parse(WithAttributes({address})), StunParseResult::kBadAttribute);
  address.second[5] = 0x01;
  EXPECT_EQ(parse(WithAttributes({address})), StunParseResult::kOk);
  EXPECT_TRUE(message.xor_mapped_address.has_value());
}

TEST(StunHostileTest, AttributeCountsAreBounded) {
  StunMessage message;
  // 1000 attributes are 4020 bytes: larger than any STUN datagram accepted.
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> many(1000, Raw(0x8123, 0, 0));
  EXPECT_EQ(ParseStun(WithAttributes(many), &message), StunParseResult::kTooLarge);
  // Within the size limit, the count limit applies.
  many.resize(kStunMaxAttributes + 1);
  EXPECT_EQ(ParseStun(WithAttributes(many), &message), StunParseResult::kTooManyAttributes);
  many.resize(kStunMaxAttributes);
  EXPECT_EQ(ParseStun(WithAttributes(many), &message), StunParseResult::kOk);
  // Unknown comprehension-required types are remembered up to the limit, optional ones never.
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> unknown;
  for (uint16_t t = 0x0040; t < 0x0040 + 20; ++t) unknown.push_back(Raw(t, 0, 0));
  unknown.push_back(Raw(0xC057, 4, 4));  // GOOG-NETWORK-INFO, comprehension-optional
  ASSERT_EQ(ParseStun(WithAttributes(unknown), &message), StunParseResult::kOk);
  EXPECT_EQ(message.unknown_attribute_count, kStunMaxUnknownAttributes);
  EXPECT_EQ(message.unknown_attributes[0], 0x0040);
  EXPECT_EQ(message.unknown_attributes[kStunMaxUnknownAttributes - 1],
            0x0040 + kStunMaxUnknownAttributes - 1);
}

TEST(StunHostileTest, FingerprintIsLastAndWhatFollowsIntegrityIsIgnored) {
  StunMessage message;
  // Something after FINGERPRINT.
  EXPECT_EQ(
      ParseStun(WithAttributes({Raw(kStunAttrFingerprint, 4, 4), Raw(0x8022, 0, 0)}), &message),
      StunParseResult::kBadAttribute);
  EXPECT_EQ(
      ParseStun(WithAttributes({Raw(kStunAttrFingerprint, 4, 4), Raw(kStunAttrFingerprint, 4, 4)}),
                &message),
      StunParseResult::kBadAttribute);
  // After MESSAGE-INTEGRITY: PRIORITY, an unknown required attribute and even a malformed
  // USE-CANDIDATE are not looked at (RFC 8489 section 14.5).
  ASSERT_EQ(
      ParseStun(WithAttributes({Raw(kStunAttrMessageIntegrity, 20, 20),
                                Raw(kStunAttrPriority, 4, 4), Raw(0x0077, 0, 0),
                                Raw(kStunAttrUseCandidate, 4, 4), Raw(kStunAttrFingerprint, 4, 4)}),
                &message),
      StunParseResult::kOk);
  EXPECT_FALSE(message.priority.has_value());
  EXPECT_FALSE(message.use_candidate);
  EXPECT_EQ(message.unknown_attribute_count, 0u);
  EXPECT_EQ(message.message_integrity_offset, 20u);
  EXPECT_EQ(message.fingerprint_offset, 20u + 24 + 8 + 4 + 8);
  // The first of a repeated attribute counts. (The username is a view into the datagram, which
  // must outlive it.)
  const std::vector<uint8_t> repeated = WithAttributes(
      {Raw(kStunAttrUsername, 4, 4), Raw(kStunAttrPriority, 4, 4), Raw(kStunAttrUsername, 0, 0)});
  ASSERT_EQ(ParseStun(repeated, &message), StunParseResult::kOk);
  EXPECT_EQ(message.username, "\xAB\xAB\xAB\xAB");
}

TEST(StunHostileTest, AnyFlippedBitFailsFingerprintOrIntegrity) {
  std::vector<uint8_t> bytes(std::begin(kSampleRequest), std::end(kSampleRequest));
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::vector<uint8_t> flipped = bytes;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    StunMessage message;
    if (ParseStun(flipped, &message) != StunParseResult::kOk) continue;
    EXPECT_FALSE(VerifyFingerprint(flipped, message)) << bit;
    // Bytes covered by MESSAGE-INTEGRITY (all before FINGERPRINT) also break the HMAC.
    if (bit / 8 < 100 && message.message_integrity_offset == 76u) {
      EXPECT_FALSE(VerifyMessageIntegrity(flipped, message, Bytes(kRfc5769Password))) << bit;
    }
  }
}

TEST(StunHostileTest, VerifiersRefuseMessagesWithoutTheirAttribute) {
  StunMessage message;
  ASSERT_EQ(ParseStun(WithAttributes({Raw(kStunAttrUsername, 4, 4)}), &message),
            StunParseResult::kOk);
  const std::vector<uint8_t> bytes = WithAttributes({Raw(kStunAttrUsername, 4, 4)});
  EXPECT_FALSE(VerifyFingerprint(bytes, message));
  EXPECT_FALSE(VerifyMessageIntegrity(bytes, message, Bytes("x")));
  // Offsets that do not fit the datagram given (a caller mixing up buffers).
  StunMessage lying;
  lying.message_integrity_offset = 1000;
  lying.fingerprint_offset = 1000;
  EXPECT_FALSE(VerifyFingerprint(bytes, lying));
  EXPECT_FALSE(VerifyMessageIntegrity(bytes, lying, Bytes("x")));
  lying.message_integrity_offset = 4;
  lying.fingerprint_offset = 4;
  EXPECT_FALSE(VerifyFingerprint(bytes, lying));
  EXPECT_FALSE(VerifyMessageIntegrity(bytes, lying, Bytes("x")));
}

}  // namespace
}  // namespace chorus::ice
