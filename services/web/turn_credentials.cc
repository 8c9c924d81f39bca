#include "services/web/turn_credentials.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace chorus::web {
namespace {

namespace wire = chorus::web::v1;

constexpr int64_t kDefaultLifetimeSeconds = 12 * 3600;
constexpr int64_t kMaxLifetimeSeconds = 7 * 24 * 3600;

bool KnownScheme(const std::string& url) {
  for (std::string_view scheme : {"stun:", "stuns:", "turn:", "turns:"}) {
    if (url.size() > scheme.size() && url.compare(0, scheme.size(), scheme) == 0) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckIceServers(const wire::IceServers& servers) {
  for (int i = 0; i < servers.ice_servers_size(); ++i) {
    const wire::IceServerConfig& server = servers.ice_servers(i);
    auto invalid = [i](const char* why) {
      return absl::InvalidArgumentError(absl::StrCat("ice server ", i + 1, ": ", why));
    };
    if (server.urls().empty()) return invalid("needs urls");
    for (const std::string& url : server.urls()) {
      if (!KnownScheme(url) || url.size() > 512) {
        return invalid("each url is stun:, stuns:, turn: or turns: and a host");
      }
    }
    const bool fixed = !server.username().empty() || !server.credential().empty();
    if (fixed && !server.shared_secret().empty()) {
      return invalid("either username and credential, or shared_secret, not both");
    }
    if (server.credential_lifetime_seconds() != 0 && server.shared_secret().empty()) {
      return invalid("credential_lifetime_seconds goes with shared_secret");
    }
    if (server.credential_lifetime_seconds() < 0 ||
        server.credential_lifetime_seconds() > kMaxLifetimeSeconds) {
      return invalid("credential_lifetime_seconds is 1 to 604800 (7 days)");
    }
  }
  return absl::OkStatus();
}

std::string TurnCredential(std::string_view secret, std::string_view username) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(username.data()), username.size(), digest, &length);
  return absl::Base64Escape(
      std::string(reinterpret_cast<const char*>(digest), static_cast<size_t>(length)));
}

google::protobuf::RepeatedPtrField<wire::IceServer> IceServersForPage(
    const wire::IceServers& servers, absl::Time now) {
  google::protobuf::RepeatedPtrField<wire::IceServer> page;
  for (const wire::IceServerConfig& server : servers.ice_servers()) {
    wire::IceServer* out = page.Add();
    *out->mutable_urls() = server.urls();
    if (server.shared_secret().empty()) {
      out->set_username(server.username());
      out->set_credential(server.credential());
      continue;
    }
    const int64_t lifetime = server.credential_lifetime_seconds() > 0
                                 ? server.credential_lifetime_seconds()
                                 : kDefaultLifetimeSeconds;
    const std::string username = absl::StrCat(absl::ToUnixSeconds(now) + lifetime, ":chorus");
    out->set_credential(TurnCredential(server.shared_secret(), username));
    out->set_username(username);
  }
  return page;
}

}  // namespace chorus::web
