#include "services/web/turn_credentials.h"

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace chorus::web {
namespace {

namespace wire = chorus::web::v1;

wire::IceServers Parse(const std::string& json) {
  wire::IceServers servers;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &servers).ok()) << json;
  return servers;
}

TEST(TurnCredentialsTest, TheCredentialIsBase64OfHmacSha1AsRfc2202AndTheTurnServerComputeIt) {
  // RFC 2202, test case 1: key 0x0b x 20, "Hi There" -> b617318655057264e28bc0b6fb378c8ef146be00.
  EXPECT_EQ(TurnCredential(std::string(20, '\x0b'), "Hi There"), "thcxhlUFcmTii8C2+zeMjvFGvgA=");
  // A TURN server with this shared secret computes the same for this username (Python's hmac).
  EXPECT_EQ(TurnCredential("north-turn-secret", "1800000000:chorus"),
            "tFdmpWTlQ4uSCCpKWEBdml/6jls=");
}

TEST(TurnCredentialsTest, APageGetsCredentialsOfItsOwnThatExpireAndFixedOnesAsTheyAre) {
  const wire::IceServers servers = Parse(R"({"ice_servers": [
      {"urls": ["stun:stun.hospital.example:3478"]},
      {"urls": ["turn:turn.hospital.example:3478?transport=udp", "turns:turn.hospital.example:443"],
       "shared_secret": "north-turn-secret"},
      {"urls": ["turn:backup.hospital.example:3478"], "username": "u", "credential": "c"},
      {"urls": ["turn:short.hospital.example:3478"], "shared_secret": "s",
       "credential_lifetime_seconds": 600}]})");
  ASSERT_TRUE(CheckIceServers(servers).ok());
  const auto page = IceServersForPage(servers, absl::FromUnixSeconds(1799956800));
  ASSERT_EQ(page.size(), 4);
  EXPECT_EQ(page[0].urls_size(), 1);
  EXPECT_EQ(page[0].username(), "");
  EXPECT_EQ(page[0].credential(), "");
  EXPECT_EQ(page[1].urls_size(), 2);
  EXPECT_EQ(page[1].username(), "1800000000:chorus");  // 12 hours later
  EXPECT_EQ(page[1].credential(), "tFdmpWTlQ4uSCCpKWEBdml/6jls=");
  EXPECT_EQ(page[2].username(), "u");
  EXPECT_EQ(page[2].credential(), "c");
  EXPECT_EQ(page[3].username(), "1799957400:chorus");
  // Nothing of a page's servers is the secret itself.
  for (const auto& server : page) {
    EXPECT_EQ(server.credential().find("north-turn-secret"), std::string::npos);
  }
  // The next page, a second later, gets other credentials.
  const auto later = IceServersForPage(servers, absl::FromUnixSeconds(1799956801));
  EXPECT_NE(later[1].credential(), page[1].credential());
}

TEST(TurnCredentialsTest, ServersThatCannotWorkAreRefusedWithoutQuotingTheirSecrets) {
  for (const char* json : {
           R"({"ice_servers": [{"urls": []}]})",
           R"({"ice_servers": [{"urls": ["http://turn.example"]}]})",
           R"({"ice_servers": [{"urls": ["turn:"]}]})",
           R"({"ice_servers": [{"urls": ["turn:t"], "username": "u", "shared_secret": "zz9"}]})",
           R"({"ice_servers": [{"urls": ["turn:t"], "credential_lifetime_seconds": 60}]})",
           R"({"ice_servers": [{"urls": ["turn:t"], "shared_secret": "zz9",
                                "credential_lifetime_seconds": 999999999}]})",
           R"({"ice_servers": [{"urls": ["turn:t"], "shared_secret": "zz9",
                                "credential_lifetime_seconds": -1}]})",
       }) {
    const absl::Status status = CheckIceServers(Parse(json));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_EQ(status.message().find("zz9"), std::string_view::npos) << status;
    EXPECT_NE(status.message().find("ice server 1"), std::string_view::npos) << status;
  }
}

}  // namespace
}  // namespace chorus::web
