#include "services/common/auth.h"

#include "gtest/gtest.h"

namespace chorus::common {
namespace {

constexpr char kTokens[] =
    "# platform tokens\n"
    "  0123456789abcdef0123456789abcdef  \n"
    "\n"
    "fedcba9876543210fedcba9876543210\n";

TEST(BearerAuthenticatorTest, AcceptsEveryListedTokenAndNothingElse) {
  auto auth = BearerAuthenticator::FromTokenList(kTokens);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ((*auth)->token_count(), 2u);
  EXPECT_TRUE((*auth)->CheckHeader("Bearer 0123456789abcdef0123456789abcdef", true).ok());
  EXPECT_TRUE((*auth)->CheckHeader("bearer fedcba9876543210fedcba9876543210", true).ok());

  grpc::Status missing = (*auth)->CheckHeader({}, false);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(missing.error_message().find("authorization"), std::string::npos);
  EXPECT_EQ((*auth)->CheckHeader("Basic dXNlcjpwYXNz", true).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ((*auth)->CheckHeader("Bearer ", true).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status wrong = (*auth)->CheckHeader("Bearer 0123456789abcdef0123456789abcdeF", true);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The message never echoes what was presented.
  EXPECT_EQ(wrong.error_message().find("0123456789"), std::string::npos);
}

TEST(BearerAuthenticatorTest, RefusesWeakOrEmptyTokenLists) {
  EXPECT_EQ(BearerAuthenticator::FromTokenList("short\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BearerAuthenticator::FromTokenList("# nothing\n\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BearerAuthenticator::FromFile("/nonexistent/chorus-tokens").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(BearerAuthenticatorTest, AllowAllAdmitsCallsWithoutMetadata) {
  auto auth = BearerAuthenticator::AllowAll();
  EXPECT_FALSE(auth->enabled());
  EXPECT_TRUE(auth->CheckHeader({}, false).ok());
}

}  // namespace
}  // namespace chorus::common
