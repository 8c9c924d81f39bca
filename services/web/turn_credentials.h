#pragma once

// The STUN and TURN servers a page is handed in its "hello": fixed credentials as configured, or
// credentials of its own under the TURN REST API scheme (a secret shared with the TURN server),
// so that what one page learns expires and opens no TURN server to anyone for good.

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "chorus/v1/web_signalling.pb.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace chorus::web {

// Checks --ice_servers_file's servers: each has urls (stun:, stuns:, turn: or turns:); a server
// has fixed credentials or a shared secret, not both; a lifetime only with a secret, at most 7
// days. INVALID_ARGUMENT saying which server and why (never a secret).
absl::Status CheckIceServers(const chorus::web::v1::IceServers& servers);

// A page's servers at `now`: fixed credentials as they are; for a shared secret, username
// "<expiry>:chorus" (expiry = now + lifetime, Unix seconds) and credential
// base64(HMAC-SHA1(secret, username)).
google::protobuf::RepeatedPtrField<chorus::web::v1::IceServer> IceServersForPage(
    const chorus::web::v1::IceServers& servers, absl::Time now);

// The TURN REST API credential of `username` under `secret`: base64(HMAC-SHA1(secret, username)).
std::string TurnCredential(std::string_view secret, std::string_view username);

}  // namespace chorus::web
