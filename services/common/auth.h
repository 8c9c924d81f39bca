#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace chorus::common {

// Bearer-token authentication of API calls ("authorization: Bearer <token>" metadata).
//
// Tokens come from a file, one per line; only their SHA-256 digests are kept in memory. A
// presented token is hashed and compared with every known digest in constant time, so timing
// tells nothing about which token or how much of it matched. Tokens never reach logs.
//
// With no tokens configured the authenticator admits every call: that is the --dev default, and
// the mode where client certificates (mutual TLS) authenticate callers instead.
// Thread-safe: immutable after creation.
class BearerAuthenticator {
 public:
  // Admits every call.
  static std::unique_ptr<BearerAuthenticator> AllowAll();
  // Parses token file contents: one token per line, blank lines and lines starting with '#'
  // ignored, surrounding whitespace trimmed. A token must be at least 16 characters.
  static absl::StatusOr<std::unique_ptr<BearerAuthenticator>> FromTokenList(
      std::string_view contents);
  // Reads and parses the file given by --api_tokens_file.
  static absl::StatusOr<std::unique_ptr<BearerAuthenticator>> FromFile(const std::string& path);

  bool enabled() const { return !digests_.empty(); }
  size_t token_count() const { return digests_.size(); }

  // OK, or UNAUTHENTICATED with a message that says what is missing (never echoing the token).
  grpc::Status Check(const grpc::ServerContext& context) const;
  // The same check on a raw "authorization" header value; exposed for tests.
  grpc::Status CheckHeader(std::string_view authorization, bool present) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  explicit BearerAuthenticator(std::vector<Digest> digests) : digests_(std::move(digests)) {}

  std::vector<Digest> digests_;
};

// 32 random bytes from the operating system's CSPRNG, hex encoded.
std::string RandomSecret();

}  // namespace chorus::common
