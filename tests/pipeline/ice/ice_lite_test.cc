#include "pipeline/ice/ice_lite.h"

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/pipeline/ice/ice_test_util.h"
#include "tests/support/allocation_counter.h"

namespace chorus::ice {
namespace {

using ::chorus::ice::testing::Address;
using ::chorus::ice::testing::BuildCheck;
using ::chorus::ice::testing::Bytes;
using ::chorus::ice::testing::CheckSpec;
using ::chorus::ice::testing::TransactionId;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kSecondUs = 1'000'000;

const IceCredentials kLocal{"LoCaLuFr", "local+password/of/23chr"};
const IceCredentials kRemote{"rEmO", "remote+side+pwd+1234567"};

class IceLiteAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<IceLiteAgent>> agent =
        IceLiteAgent::Create({.local = kLocal, .remote = kRemote});
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
  }

  // A check as the browser sends it: right username and password, ICE-CONTROLLING, PRIORITY,
  // FINGERPRINT.
  static CheckSpec Check(bool use_candidate = false) {
    CheckSpec spec;
    spec.username = kLocal.ufrag + ":" + kRemote.ufrag;
    spec.password = kLocal.pwd;
    spec.use_candidate = use_candidate;
    return spec;
  }

  IceResult Handle(const std::vector<uint8_t>& request, const net::SocketAddress& from,
                   int64_t now_us) {
    response_len_ = 0;
    return agent_->HandleBindingRequest(request, from, now_us, response_, &response_len_);
  }
  IceResult Handle(const CheckSpec& spec, const net::SocketAddress& from, int64_t now_us) {
    return Handle(BuildCheck(spec), from, now_us);
  }

  std::span<const uint8_t> response() const {
    return std::span<const uint8_t>(response_).first(response_len_);
  }
  StunMessage ParsedResponse() const {
    StunMessage message;
    EXPECT_EQ(ParseStun(response(), &message), StunParseResult::kOk);
    EXPECT_TRUE(VerifyFingerprint(response(), message));
    return message;
  }
  // An error response with `code`, its integrity as expected, for the transaction of `spec`.
  void ExpectError(uint16_t code, bool with_integrity, const CheckSpec& spec) const {
    ASSERT_GT(response_len_, 0u);
    const StunMessage message = ParsedResponse();
    EXPECT_EQ(message.method, kStunMethodBinding);
    EXPECT_EQ(message.message_class, StunClass::kErrorResponse);
    EXPECT_EQ(message.transaction_id, spec.transaction_id);
    EXPECT_EQ(message.error_code, code);
    EXPECT_EQ(message.message_integrity_offset.has_value(), with_integrity);
    if (with_integrity) {
      EXPECT_TRUE(VerifyMessageIntegrity(response(), message, Bytes(kLocal.pwd)));
    }
  }

  std::unique_ptr<IceLiteAgent> agent_;
  std::array<uint8_t, kIceMaxResponseBytes> response_{};
  size_t response_len_ = 0;
  const net::SocketAddress a_ = Address("198.51.100.7", 50000);
  const net::SocketAddress b_ = Address("203.0.113.40", 61000);
  const net::SocketAddress c_ = Address("2001:db8::42", 50001);
};

// ----- Credentials and creation -----

TEST(IceCredentialsTest, GeneratedCredentialsAreRandomIceChars) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const IceCredentials credentials = IceCredentials::Generate();
    EXPECT_EQ(credentials.ufrag.size(), 8u);
    EXPECT_EQ(credentials.pwd.size(), 24u);
    EXPECT_TRUE(ValidateIceCredentials(credentials).ok());
    EXPECT_TRUE(seen.insert(credentials.ufrag).second);
    EXPECT_TRUE(seen.insert(credentials.pwd).second);
  }
}

TEST(IceCredentialsTest, ValidationFollowsRfc8839) {
  EXPECT_TRUE(ValidateIceCredentials({"abcd", std::string(22, 'x')}).ok());
  EXPECT_TRUE(ValidateIceCredentials({std::string(256, 'A'), std::string(256, '+')}).ok());
  EXPECT_FALSE(ValidateIceCredentials({"abc", std::string(22, 'x')}).ok());
  EXPECT_FALSE(ValidateIceCredentials({std::string(257, 'A'), std::string(22, 'x')}).ok());
  EXPECT_FALSE(ValidateIceCredentials({"ab:d", std::string(22, 'x')}).ok());
  EXPECT_FALSE(ValidateIceCredentials({"abcd", std::string(21, 'x')}).ok());
  const absl::Status bad_pwd = ValidateIceCredentials({"abcd", "secret-with space-and-more"});
  EXPECT_EQ(bad_pwd.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_pwd.message(), Not(HasSubstr("secret")));
}

TEST(IceCredentialsTest, CreateRefusesBadConfiguration) {
  EXPECT_EQ(IceLiteAgent::Create({.local = {"ab", kLocal.pwd}, .remote = kRemote}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      IceLiteAgent::Create({.local = kLocal, .remote = {"rEmO", "short"}}).status().message(),
      HasSubstr("remote ice-pwd"));
  EXPECT_FALSE(
      IceLiteAgent::Create({.local = kLocal, .remote = kRemote, .consent_timeout_us = 0}).ok());
}

// ----- Valid checks, validation, nomination -----

TEST_F(IceLiteAgentTest, ValidCheckIsAnsweredWithTheRequestersAddress) {
  for (const net::SocketAddress& from : {a_, c_}) {
    const CheckSpec spec = Check();
    EXPECT_EQ(Handle(spec, from, 10 * kSecondUs), IceResult::kResponded);
    ASSERT_GT(response_len_, 0u);
    const StunMessage message = ParsedResponse();
    EXPECT_EQ(message.message_class, StunClass::kSuccessResponse);
    EXPECT_EQ(message.method, kStunMethodBinding);
    EXPECT_EQ(message.transaction_id, spec.transaction_id);
    EXPECT_EQ(message.xor_mapped_address, from);
    EXPECT_TRUE(VerifyMessageIntegrity(response(), message, Bytes(kLocal.pwd)));
    EXPECT_TRUE(agent_->IsValidated(from));
  }
  EXPECT_EQ(agent_->validated_pair_count(), 2u);
  EXPECT_FALSE(agent_->IsValidated(b_));
  // Validated but not nominated: nothing selected, no consent to expire.
  EXPECT_EQ(agent_->selected(), nullptr);
  EXPECT_EQ(agent_->last_check_us(), std::nullopt);
  EXPECT_FALSE(agent_->ConsentExpired(1000 * kSecondUs));
}

TEST_F(IceLiteAgentTest, DualStackSocketsAnswerIpv4MappedSourcesAsIpv4) {
  const net::SocketAddress mapped = Address("::ffff:198.51.100.7", 50000);
  EXPECT_EQ(Handle(Check(), mapped, 0), IceResult::kResponded);
  EXPECT_EQ(ParsedResponse().xor_mapped_address, a_);
  EXPECT_TRUE(agent_->IsValidated(mapped));
}

TEST_F(IceLiteAgentTest, NominationSelectsAndALaterNominationSwitches) {
  EXPECT_EQ(Handle(Check(), a_, 1 * kSecondUs), IceResult::kResponded);
  EXPECT_EQ(Handle(Check(/*use_candidate=*/true), a_, 2 * kSecondUs), IceResult::kSelectedPair);
  ASSERT_NE(agent_->selected(), nullptr);
  EXPECT_EQ(*agent_->selected(), a_);
  EXPECT_EQ(agent_->last_check_us(), 2 * kSecondUs);
  // Nominating the selected pair again changes nothing.
  EXPECT_EQ(Handle(Check(true), a_, 3 * kSecondUs), IceResult::kResponded);
  // Checks on another pair validate it without moving media.
  EXPECT_EQ(Handle(Check(), b_, 4 * kSecondUs), IceResult::kResponded);
  EXPECT_EQ(*agent_->selected(), a_);
  // A nomination of that pair (the browser moved to another network) switches.
  EXPECT_EQ(Handle(Check(true), b_, 5 * kSecondUs), IceResult::kSelectedPair);
  EXPECT_EQ(*agent_->selected(), b_);
  EXPECT_EQ(agent_->last_check_us(), 5 * kSecondUs);
  EXPECT_TRUE(agent_->IsValidated(a_));
  // A pair nominated in its first check is validated and selected at once.
  EXPECT_EQ(Handle(Check(true), c_, 6 * kSecondUs), IceResult::kSelectedPair);
  EXPECT_EQ(*agent_->selected(), c_);
}

TEST_F(IceLiteAgentTest, ComprehensionOptionalAttributesAreIgnored) {
  CheckSpec spec = Check(true);
  spec.extra = {{0xC057, std::string("\x00\x01\x00\x0a", 4)},  // GOOG-NETWORK-INFO
                {kStunAttrSoftware, "a browser"}};
  EXPECT_EQ(Handle(spec, a_, 0), IceResult::kSelectedPair);
}

TEST_F(IceLiteAgentTest, RepeatedRequestIsAnsweredAgain) {
  // STUN retransmits with the same transaction; the answer is the same.
  const std::vector<uint8_t> request = BuildCheck(Check());
  EXPECT_EQ(Handle(request, a_, 0), IceResult::kResponded);
  const std::vector<uint8_t> first(response().begin(), response().end());
  EXPECT_EQ(Handle(request, a_, 1), IceResult::kResponded);
  EXPECT_THAT(std::vector<uint8_t>(response().begin(), response().end()),
              ::testing::ElementsAreArray(first));
}

// ----- Refusals: what is answered, what is dropped, and that no state changes -----

TEST_F(IceLiteAgentTest, WrongUsernameIsUnauthorizedWithoutIntegrity) {
  for (const std::string& username :
       {kLocal.ufrag + ":" + "other", "other:" + kRemote.ufrag, kRemote.ufrag + ":" + kLocal.ufrag,
        kLocal.ufrag, kLocal.ufrag + ":" + kRemote.ufrag + "x", std::string()}) {
    CheckSpec spec = Check(true);
    spec.username = username;
    EXPECT_EQ(Handle(spec, a_, 0), IceResult::kBadUsername) << username;
    ExpectError(kStunErrorUnauthorized, /*with_integrity=*/false, spec);
  }
  EXPECT_FALSE(agent_->IsValidated(a_));
  EXPECT_EQ(agent_->selected(), nullptr);
}

TEST_F(IceLiteAgentTest, WrongPasswordIsUnauthorized) {
  for (const std::string& password : {kRemote.pwd, kLocal.pwd + "x", std::string("x")}) {
    CheckSpec spec = Check(true);
    spec.password = password;
    EXPECT_EQ(Handle(spec, a_, 0), IceResult::kBadIntegrity);
    ExpectError(kStunErrorUnauthorized, false, spec);
  }
  EXPECT_FALSE(agent_->IsValidated(a_));
  EXPECT_EQ(agent_->selected(), nullptr);
}

TEST_F(IceLiteAgentTest, MissingCredentialsAreABadRequestWithoutIntegrity) {
  CheckSpec no_username = Check();
  no_username.with_username = false;
  EXPECT_EQ(Handle(no_username, a_, 0), IceResult::kNoCredentials);
  ExpectError(kStunErrorBadRequest, false, no_username);
  CheckSpec no_integrity = Check();
  no_integrity.with_integrity = false;
  EXPECT_EQ(Handle(no_integrity, a_, 0), IceResult::kNoCredentials);
  ExpectError(kStunErrorBadRequest, false, no_integrity);
  EXPECT_FALSE(agent_->IsValidated(a_));
}

TEST_F(IceLiteAgentTest, MissingOrWrongFingerprintIsDroppedSilently) {
  CheckSpec no_fingerprint = Check(true);
  no_fingerprint.with_fingerprint = false;
  EXPECT_EQ(Handle(no_fingerprint, a_, 0), IceResult::kBadFingerprint);
  EXPECT_EQ(response_len_, 0u);
  CheckSpec bad_fingerprint = Check(true);
  bad_fingerprint.corrupt_fingerprint = true;
  EXPECT_EQ(Handle(bad_fingerprint, a_, 0), IceResult::kBadFingerprint);
  EXPECT_EQ(response_len_, 0u);
  EXPECT_FALSE(agent_->IsValidated(a_));
}

TEST_F(IceLiteAgentTest, ControlledPeerGetsRoleConflict) {
  CheckSpec spec = Check(true);
  spec.controlling = false;
  spec.controlled = true;
  for (uint64_t tie_breaker : {uint64_t{0}, ~uint64_t{0}}) {
    spec.tie_breaker = tie_breaker;
    EXPECT_EQ(Handle(spec, a_, 0), IceResult::kRoleConflict);
    ExpectError(kStunErrorRoleConflict, /*with_integrity=*/true, spec);
  }
  EXPECT_FALSE(agent_->IsValidated(a_));
  EXPECT_EQ(agent_->selected(), nullptr);
}

TEST_F(IceLiteAgentTest, AuthenticatedRequestsWithoutPriorityOrOneRoleAreBad) {
  CheckSpec no_priority = Check(true);
  no_priority.with_priority = false;
  EXPECT_EQ(Handle(no_priority, a_, 0), IceResult::kBadRequest);
  ExpectError(kStunErrorBadRequest, true, no_priority);
  CheckSpec no_role = Check(true);
  no_role.controlling = false;
  EXPECT_EQ(Handle(no_role, a_, 0), IceResult::kBadRequest);
  ExpectError(kStunErrorBadRequest, true, no_role);
  CheckSpec both_roles = Check(true);
  both_roles.controlled = true;
  EXPECT_EQ(Handle(both_roles, a_, 0), IceResult::kBadRequest);
  ExpectError(kStunErrorBadRequest, true, both_roles);
  EXPECT_FALSE(agent_->IsValidated(a_));
}

// Unknown comprehension-required attributes: answered 420 with UNKNOWN-ATTRIBUTES (RFC 8489
// section 6.3.1), but only once the request authenticated; a forged one gets the 401 of any
// forgery and learns nothing.
TEST_F(IceLiteAgentTest, UnknownRequiredAttributesAreAnswered420AfterAuthentication) {
  CheckSpec spec = Check(true);
  spec.extra = {{0x0031, "xyz"}, {0x7FFE, ""}};
  EXPECT_EQ(Handle(spec, a_, 0), IceResult::kUnknownAttribute);
  ExpectError(kStunErrorUnknownAttribute, true, spec);
  EXPECT_THAT(response().subspan(20 + 8 + 20, 8),
              ElementsAre(0x00, 0x0A, 0x00, 0x04, 0x00, 0x31, 0x7F, 0xFE));
  EXPECT_FALSE(agent_->IsValidated(a_));

  spec.password = "not-the-password-at-all";
  EXPECT_EQ(Handle(spec, a_, 0), IceResult::kBadIntegrity);
}

TEST_F(IceLiteAgentTest, OtherStunMessagesAndGarbageAreDropped) {
  CheckSpec indication = Check();
  indication.type = StunMessageType(kStunMethodBinding, StunClass::kIndication);
  EXPECT_EQ(Handle(indication, a_, 0), IceResult::kNotBindingRequest);
  CheckSpec response = Check();
  response.type = StunMessageType(kStunMethodBinding, StunClass::kSuccessResponse);
  EXPECT_EQ(Handle(response, a_, 0), IceResult::kNotBindingRequest);
  CheckSpec allocate = Check();
  allocate.type = StunMessageType(0x003, StunClass::kRequest);
  EXPECT_EQ(Handle(allocate, a_, 0), IceResult::kNotBindingRequest);
  EXPECT_EQ(response_len_, 0u);

  EXPECT_EQ(Handle(std::vector<uint8_t>{}, a_, 0), IceResult::kBadMessage);
  EXPECT_EQ(Handle(std::vector<uint8_t>(100, 0x80), a_, 0), IceResult::kBadMessage);  // RTP-ish
  EXPECT_EQ(Handle(std::vector<uint8_t>(2000, 0x00), a_, 0), IceResult::kBadMessage);
  EXPECT_EQ(response_len_, 0u);
  EXPECT_EQ(agent_->validated_pair_count(), 0u);
}

TEST_F(IceLiteAgentTest, EveryTruncationOfAValidCheckIsDropped) {
  const std::vector<uint8_t> request = BuildCheck(Check(true));
  for (size_t n = 0; n < request.size(); ++n) {
    const std::vector<uint8_t> prefix(request.begin(), request.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_EQ(Handle(prefix, a_, 0), IceResult::kBadMessage) << n;
    EXPECT_EQ(response_len_, 0u);
    // With the header's length made to match, the rest is still never a valid check.
    if (n >= 20 && n % 4 == 0) {
      std::vector<uint8_t> relabelled = prefix;
      relabelled[2] = static_cast<uint8_t>((n - 20) >> 8);
      relabelled[3] = static_cast<uint8_t>(n - 20);
      const IceResult result = Handle(relabelled, a_, 0);
      EXPECT_NE(result, IceResult::kResponded) << n;
      EXPECT_NE(result, IceResult::kSelectedPair) << n;
    }
  }
  EXPECT_EQ(agent_->validated_pair_count(), 0u);
}

TEST_F(IceLiteAgentTest, FailedChecksFromANewAddressNeitherValidateNorSelectIt) {
  ASSERT_EQ(Handle(Check(true), a_, 0), IceResult::kSelectedPair);
  // An attacker at b_ who does not know the password, nominating itself.
  CheckSpec forged = Check(true);
  forged.password = "guessed-password-123456";
  EXPECT_EQ(Handle(forged, b_, 1), IceResult::kBadIntegrity);
  CheckSpec no_fingerprint = Check(true);
  no_fingerprint.with_fingerprint = false;
  EXPECT_EQ(Handle(no_fingerprint, b_, 2), IceResult::kBadFingerprint);
  CheckSpec controlled = Check(true);
  controlled.controlling = false;
  controlled.controlled = true;
  EXPECT_EQ(Handle(controlled, b_, 3), IceResult::kRoleConflict);
  EXPECT_FALSE(agent_->IsValidated(b_));
  EXPECT_EQ(*agent_->selected(), a_);
  EXPECT_EQ(agent_->validated_pair_count(), 1u);
}

TEST_F(IceLiteAgentTest, BadSourceAddressOrSmallBufferIsRefused) {
  const std::vector<uint8_t> request = BuildCheck(Check(true));
  EXPECT_EQ(Handle(request, net::SocketAddress(), 0), IceResult::kBadAddress);
  std::array<uint8_t, kIceMaxResponseBytes - 1> small{};
  size_t length = 99;
  EXPECT_EQ(agent_->HandleBindingRequest(request, a_, 0, small, &length), IceResult::kNoSpace);
  EXPECT_EQ(length, 0u);
  EXPECT_EQ(agent_->validated_pair_count(), 0u);
}

// ----- Consent freshness (RFC 7675) with an injected clock -----

TEST_F(IceLiteAgentTest, ConsentExpiresThirtySecondsAfterTheLastCheckOnTheSelectedPair) {
  const int64_t t0 = 100 * kSecondUs;
  ASSERT_EQ(Handle(Check(true), a_, t0), IceResult::kSelectedPair);
  EXPECT_FALSE(agent_->ConsentExpired(t0));
  EXPECT_FALSE(agent_->ConsentExpired(t0 + 30 * kSecondUs - 1));
  EXPECT_TRUE(agent_->ConsentExpired(t0 + 30 * kSecondUs));

  // Consent checks every 5 s keep it fresh.
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(Handle(Check(), a_, t0 + i * 5 * kSecondUs), IceResult::kResponded);
    EXPECT_FALSE(agent_->ConsentExpired(t0 + i * 5 * kSecondUs + 29 * kSecondUs));
  }
  const int64_t t1 = t0 + 50 * kSecondUs;
  EXPECT_EQ(agent_->last_check_us(), t1);

  // Checks on another pair and failed checks on this one do not refresh it.
  EXPECT_EQ(Handle(Check(), b_, t1 + 10 * kSecondUs), IceResult::kResponded);
  CheckSpec forged = Check();
  forged.password = "guessed-password-123456";
  EXPECT_EQ(Handle(forged, a_, t1 + 20 * kSecondUs), IceResult::kBadIntegrity);
  CheckSpec controlled = Check();
  controlled.controlling = false;
  controlled.controlled = true;
  EXPECT_EQ(Handle(controlled, a_, t1 + 25 * kSecondUs), IceResult::kRoleConflict);
  EXPECT_EQ(agent_->last_check_us(), t1);
  EXPECT_TRUE(agent_->ConsentExpired(t1 + 30 * kSecondUs));

  // Switching to the other pair (nominated) carries its own consent.
  EXPECT_EQ(Handle(Check(true), b_, t1 + 31 * kSecondUs), IceResult::kSelectedPair);
  EXPECT_FALSE(agent_->ConsentExpired(t1 + 31 * kSecondUs));
  EXPECT_TRUE(agent_->ConsentExpired(t1 + 61 * kSecondUs));
}

TEST(IceLiteConsentTest, TimeoutIsConfigurable) {
  auto agent = IceLiteAgent::Create(
      {.local = kLocal, .remote = kRemote, .consent_timeout_us = 5 * kSecondUs});
  ASSERT_TRUE(agent.ok());
  CheckSpec spec;
  spec.username = kLocal.ufrag + ":" + kRemote.ufrag;
  spec.password = kLocal.pwd;
  spec.use_candidate = true;
  const std::vector<uint8_t> request = BuildCheck(spec);
  std::array<uint8_t, kIceMaxResponseBytes> out{};
  size_t length = 0;
  ASSERT_EQ((*agent)->HandleBindingRequest(request, Address("192.0.2.1", 9), 0, out, &length),
            IceResult::kSelectedPair);
  EXPECT_FALSE((*agent)->ConsentExpired(5 * kSecondUs - 1));
  EXPECT_TRUE((*agent)->ConsentExpired(5 * kSecondUs));
}

// ----- Pair table -----

TEST_F(IceLiteAgentTest, FullPairTableForgetsTheLeastRecentlyCheckedUnselectedPair) {
  std::vector<net::SocketAddress> remotes;
  for (uint16_t i = 0; i < kIceMaxCandidatePairs + 1; ++i) {
    remotes.push_back(Address("192.0.2.10", static_cast<uint16_t>(40000 + i)));
  }
  // remotes[0] is checked first and selected, remotes[1] is the next oldest.
  ASSERT_EQ(Handle(Check(true), remotes[0], 0), IceResult::kSelectedPair);
  for (size_t i = 1; i < kIceMaxCandidatePairs; ++i) {
    ASSERT_EQ(Handle(Check(), remotes[i], static_cast<int64_t>(i)), IceResult::kResponded);
  }
  EXPECT_EQ(agent_->validated_pair_count(), kIceMaxCandidatePairs);
  ASSERT_EQ(Handle(Check(), remotes[kIceMaxCandidatePairs], 100), IceResult::kResponded);
  EXPECT_EQ(agent_->validated_pair_count(), kIceMaxCandidatePairs);
  EXPECT_TRUE(agent_->IsValidated(remotes[0]));  // selected: kept although the oldest
  EXPECT_FALSE(agent_->IsValidated(remotes[1]));
  EXPECT_TRUE(agent_->IsValidated(remotes[kIceMaxCandidatePairs]));
  EXPECT_EQ(*agent_->selected(), remotes[0]);
}

// ----- Hot path -----

TEST_F(IceLiteAgentTest, HandlingChecksAllocatesNothing) {
  const std::vector<uint8_t> valid = BuildCheck(Check(true));
  CheckSpec forged_spec = Check();
  forged_spec.password = "guessed-password-123456";
  const std::vector<uint8_t> forged = BuildCheck(forged_spec);
  CheckSpec unknown_spec = Check();
  unknown_spec.extra = {{0x0031, "x"}};
  const std::vector<uint8_t> unknown = BuildCheck(unknown_spec);
  const std::vector<uint8_t> garbage(64, 0x01);
  ASSERT_EQ(Handle(valid, a_, 0), IceResult::kSelectedPair);  // the pair exists before counting

  chorus::testing::ScopedAllocationCounter counter;
  for (int i = 0; i < 100; ++i) {
    size_t length = 0;
    agent_->HandleBindingRequest(valid, a_, i, response_, &length);
    agent_->HandleBindingRequest(valid, b_, i, response_, &length);
    agent_->HandleBindingRequest(forged, a_, i, response_, &length);
    agent_->HandleBindingRequest(unknown, a_, i, response_, &length);
    agent_->HandleBindingRequest(garbage, a_, i, response_, &length);
    (void)StunUsernameLocalPart(valid);
    (void)agent_->ConsentExpired(i);
    (void)agent_->IsValidated(b_);
  }
  EXPECT_EQ(counter.count(), 0);
}

TEST(IceResultTest, EveryResultHasAMetricName) {
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(IceResult::kNoSpace); ++i) {
    const std::string name = IceResultName(static_cast<IceResult>(i));
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  for (int i = 0; i <= static_cast<int>(StunParseResult::kTooManyAttributes); ++i) {
    EXPECT_STRNE(StunParseResultName(static_cast<StunParseResult>(i)), "unknown");
  }
}

}  // namespace
}  // namespace chorus::ice
