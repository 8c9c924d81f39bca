// pipeline/ice against an independent STUN/ICE implementation: libnice's STUN library (the code
// GStreamer's webrtcbin and many SIP clients run). libnice builds connectivity checks for our
// agent and validates what it answers; in the other direction libnice validates and answers the
// requests our builder writes, and our verifier checks libnice's answers. Nothing goes over a
// socket: the datagrams are handed across in memory.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pipeline/ice/ice_lite.h"
#include "pipeline/ice/stun.h"
#include "tests/pipeline/ice/ice_test_util.h"

// libnice's message type; its name clashes with chorus::ice::StunMessage.
using NiceMessage = ::StunMessage;

namespace chorus::ice {
namespace {

using ::chorus::ice::testing::Address;
using ::chorus::ice::testing::Bytes;
using ::chorus::ice::testing::Key;
using ::chorus::ice::testing::TransactionId;

// Both sides' credentials live as long as the test binary: libnice's agent keeps pointers to
// the passwords it signed requests with.
const IceCredentials kChorus{"ChOrUs01", "chorus+local+password+24"};
const IceCredentials kBrowser{"BrWs", "browser/password/22chr"};

// Attributes libnice's agent must understand in what we send (comprehension-required ones);
// anything else below 0x8000 makes it report an unknown attribute.
const uint16_t kKnownAttributes[] = {
    STUN_ATTRIBUTE_USERNAME,           STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
    STUN_ATTRIBUTE_ERROR_CODE,         STUN_ATTRIBUTE_UNKNOWN_ATTRIBUTES,
    STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, STUN_ATTRIBUTE_PRIORITY,
    STUN_ATTRIBUTE_USE_CANDIDATE,      0};

// A libnice STUN agent as a full ICE agent uses it (RFC 5389 messages with FINGERPRINT,
// short-term credentials).
StunAgent NiceAgent() {
  StunAgent agent;
  stun_agent_init(&agent, kKnownAttributes, STUN_COMPATIBILITY_RFC5389,
                  static_cast<StunAgentUsageFlags>(STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS |
                                                   STUN_AGENT_USAGE_USE_FINGERPRINT));
  return agent;
}

std::unique_ptr<IceLiteAgent> ChorusAgent() {
  absl::StatusOr<std::unique_ptr<IceLiteAgent>> agent =
      IceLiteAgent::Create({.local = kChorus, .remote = kBrowser});
  EXPECT_TRUE(agent.ok()) << agent.status();
  return agent.ok() ? *std::move(agent) : nullptr;
}

bool SameAddress(const sockaddr_storage& storage, socklen_t length,
                 const net::SocketAddress& expected) {
  return net::SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&storage), length) ==
         expected;
}

// A check libnice builds as the browser would: USERNAME "<chorus ufrag>:<browser ufrag>", signed
// with Chorus's password.
size_t NiceCheck(StunAgent* agent, NiceMessage* message, std::span<uint8_t> buffer,
                 bool use_candidate, bool controlling, uint32_t priority) {
  static const std::string username = kChorus.ufrag + ":" + kBrowser.ufrag;
  return stun_usage_ice_conncheck_create(
      agent, message, buffer.data(), buffer.size(),
      reinterpret_cast<const uint8_t*>(username.data()), username.size(),
      reinterpret_cast<const uint8_t*>(kChorus.pwd.data()), kChorus.pwd.size(), use_candidate,
      controlling, priority, /*tie=*/0x1122334455667788, /*candidate_identifier=*/nullptr,
      STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
}

TEST(LibniceInteropTest, LibniceChecksAreAnsweredAndLibniceAcceptsTheAnswers) {
  for (const net::SocketAddress& from :
       {Address("198.51.100.20", 51234), Address("2001:db8:abcd::20", 51235)}) {
    std::unique_ptr<IceLiteAgent> chorus = ChorusAgent();
    ASSERT_NE(chorus, nullptr);
    StunAgent nice = NiceAgent();
    NiceMessage request;
    std::array<uint8_t, 1280> request_bytes{};
    const size_t request_size = NiceCheck(&nice, &request, request_bytes, /*use_candidate=*/true,
                                          /*controlling=*/true, /*priority=*/0x6E0001FF);
    ASSERT_GT(request_size, 0u);

    std::array<uint8_t, kIceMaxResponseBytes> response{};
    size_t response_size = 0;
    ASSERT_EQ(chorus->HandleBindingRequest(std::span(request_bytes).first(request_size), from,
                                           1'000'000, response, &response_size),
              IceResult::kSelectedPair);
    ASSERT_NE(chorus->selected(), nullptr);
    EXPECT_EQ(*chorus->selected(), from);

    // libnice matches the transaction, checks FINGERPRINT and MESSAGE-INTEGRITY (with the
    // password it signed the request with), then reads XOR-MAPPED-ADDRESS.
    NiceMessage answer;
    ASSERT_EQ(stun_agent_validate(&nice, &answer, response.data(), response_size, nullptr, nullptr),
              STUN_VALIDATION_SUCCESS);
    sockaddr_storage mapped{};
    socklen_t mapped_length = sizeof(mapped);
    ASSERT_EQ(stun_usage_ice_conncheck_process(&answer, &mapped, &mapped_length,
                                               STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
              STUN_USAGE_ICE_RETURN_SUCCESS);
    EXPECT_TRUE(SameAddress(mapped, mapped_length, from)) << from.ToString();
  }
}

TEST(LibniceInteropTest, LibniceNoticesATamperedAnswer) {
  std::unique_ptr<IceLiteAgent> chorus = ChorusAgent();
  ASSERT_NE(chorus, nullptr);
  StunAgent nice = NiceAgent();
  NiceMessage request;
  std::array<uint8_t, 1280> request_bytes{};
  const size_t request_size = NiceCheck(&nice, &request, request_bytes, false, true, 100);
  std::array<uint8_t, kIceMaxResponseBytes> response{};
  size_t response_size = 0;
  ASSERT_EQ(
      chorus->HandleBindingRequest(std::span(request_bytes).first(request_size),
                                   Address("198.51.100.20", 51234), 0, response, &response_size),
      IceResult::kResponded);
  // Change the mapped port and fix FINGERPRINT up, so only MESSAGE-INTEGRITY can tell.
  response[26] ^= 0x01;
  StunMessage parsed;
  ASSERT_EQ(ParseStun(std::span(response).first(response_size), &parsed), StunParseResult::kOk);
  std::array<uint8_t, kIceMaxResponseBytes> refingered{};
  StunWriter writer(refingered, parsed.type, parsed.transaction_id);
  writer.AddAttribute(kStunAttrXorMappedAddress, std::span(response).subspan(24, 8));
  writer.AddAttribute(kStunAttrMessageIntegrity, std::span(response).subspan(36, 20));
  writer.AddFingerprint();
  ASSERT_EQ(writer.size(), response_size);
  NiceMessage answer;
  EXPECT_EQ(stun_agent_validate(&nice, &answer, refingered.data(), writer.size(), nullptr, nullptr),
            STUN_VALIDATION_UNAUTHORIZED);
}

TEST(LibniceInteropTest, ControlledLibniceGetsARoleConflictItUnderstands) {
  std::unique_ptr<IceLiteAgent> chorus = ChorusAgent();
  ASSERT_NE(chorus, nullptr);
  StunAgent nice = NiceAgent();
  NiceMessage request;
  std::array<uint8_t, 1280> request_bytes{};
  const size_t request_size = NiceCheck(&nice, &request, request_bytes, false,
                                        /*controlling=*/false, 100);
  std::array<uint8_t, kIceMaxResponseBytes> response{};
  size_t response_size = 0;
  ASSERT_EQ(
      chorus->HandleBindingRequest(std::span(request_bytes).first(request_size),
                                   Address("198.51.100.20", 51234), 0, response, &response_size),
      IceResult::kRoleConflict);
  NiceMessage answer;
  ASSERT_EQ(stun_agent_validate(&nice, &answer, response.data(), response_size, nullptr, nullptr),
            STUN_VALIDATION_SUCCESS);
  int code = 0;
  ASSERT_EQ(stun_message_find_error(&answer, &code), STUN_MESSAGE_RETURN_SUCCESS);
  EXPECT_EQ(code, 487);
  sockaddr_storage mapped{};
  socklen_t mapped_length = sizeof(mapped);
  EXPECT_EQ(stun_usage_ice_conncheck_process(&answer, &mapped, &mapped_length,
                                             STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
            STUN_USAGE_ICE_RETURN_ROLE_CONFLICT);
  EXPECT_EQ(chorus->validated_pair_count(), 0u);
}

TEST(LibniceInteropTest, LibniceChecksWithTheWrongPasswordAreRefused) {
  std::unique_ptr<IceLiteAgent> chorus = ChorusAgent();
  ASSERT_NE(chorus, nullptr);
  StunAgent nice = NiceAgent();
  NiceMessage request;
  std::array<uint8_t, 1280> request_bytes{};
  static const std::string username = kChorus.ufrag + ":" + kBrowser.ufrag;
  const size_t request_size = stun_usage_ice_conncheck_create(
      &nice, &request, request_bytes.data(), request_bytes.size(),
      reinterpret_cast<const uint8_t*>(username.data()), username.size(),
      reinterpret_cast<const uint8_t*>(kBrowser.pwd.data()), kBrowser.pwd.size(), true, true, 1, 2,
      nullptr, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  ASSERT_GT(request_size, 0u);
  std::array<uint8_t, kIceMaxResponseBytes> response{};
  size_t response_size = 0;
  EXPECT_EQ(
      chorus->HandleBindingRequest(std::span(request_bytes).first(request_size),
                                   Address("198.51.100.20", 51234), 0, response, &response_size),
      IceResult::kBadIntegrity);
  EXPECT_GT(response_size, 0u);
  EXPECT_EQ(chorus->selected(), nullptr);
}

// The other direction: our request builder as a client, libnice as the answering agent.
TEST(LibniceInteropTest, OurRequestsPassLibniceAndLibniceAnswersPassOurVerifier) {
  // Chorus as the requester now: USERNAME "<libnice's ufrag>:<our ufrag>", signed with
  // libnice's password.
  const std::string username = kBrowser.ufrag + ":" + kChorus.ufrag;
  StunIntegrityKey key = Key(kBrowser.pwd);
  std::array<uint8_t, 256> request{};
  const StunBindingRequest spec{.transaction_id = TransactionId(77),
                                .username = username,
                                .priority = 0x7E7F00FF,
                                .use_candidate = true,
                                .controlling = true,
                                .tie_breaker = 42};
  const size_t request_size = BuildBindingRequest(request, spec, key);
  ASSERT_GT(request_size, 0u);

  StunAgent nice = NiceAgent();
  StunDefaultValidaterData credentials[] = {
      {reinterpret_cast<uint8_t*>(const_cast<char*>(username.data())), username.size(),
       reinterpret_cast<uint8_t*>(const_cast<char*>(kBrowser.pwd.data())), kBrowser.pwd.size()},
      {nullptr, 0, nullptr, 0}};
  NiceMessage parsed;
  ASSERT_EQ(stun_agent_validate(&nice, &parsed, request.data(), request_size,
                                stun_agent_default_validater, credentials),
            STUN_VALIDATION_SUCCESS);
  EXPECT_EQ(stun_usage_ice_conncheck_priority(&parsed), 0x7E7F00FFu);
  EXPECT_TRUE(stun_usage_ice_conncheck_use_candidate(&parsed));

  // A wrong signature is refused by libnice too.
  std::array<uint8_t, 256> forged{};
  StunIntegrityKey wrong = Key("not+the+browser+password");
  const size_t forged_size = BuildBindingRequest(forged, spec, wrong);
  NiceMessage forged_parsed;
  EXPECT_EQ(stun_agent_validate(&nice, &forged_parsed, forged.data(), forged_size,
                                stun_agent_default_validater, credentials),
            STUN_VALIDATION_UNAUTHORIZED);

  // libnice answers as the controlled agent; its answer passes our parser and verifiers.
  const net::SocketAddress source = Address("192.0.2.33", 3478);
  sockaddr_storage source_storage{};
  std::memcpy(&source_storage, source.sockaddr_ptr(), source.length());
  std::array<uint8_t, 1280> answer{};
  size_t answer_size = answer.size();
  NiceMessage reply;
  bool control = false;
  ASSERT_EQ(stun_usage_ice_conncheck_create_reply(
                &nice, &parsed, &reply, answer.data(), &answer_size, &source_storage,
                source.length(), &control, 7, STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
            STUN_USAGE_ICE_RETURN_SUCCESS);
  const std::span<const uint8_t> answer_bytes = std::span(answer).first(answer_size);
  StunMessage message;
  ASSERT_EQ(ParseStun(answer_bytes, &message), StunParseResult::kOk);
  EXPECT_EQ(message.message_class, StunClass::kSuccessResponse);
  EXPECT_EQ(message.transaction_id, spec.transaction_id);
  EXPECT_EQ(message.xor_mapped_address, source);
  EXPECT_TRUE(VerifyFingerprint(answer_bytes, message));
  EXPECT_TRUE(VerifyMessageIntegrity(answer_bytes, message, key));
  EXPECT_FALSE(VerifyMessageIntegrity(answer_bytes, message, Bytes(kChorus.pwd)));
}

}  // namespace
}  // namespace chorus::ice
