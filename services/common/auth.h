#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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
// The token list can be replaced while serving (SIGHUP): calls under way are not affected.
// Thread-safe.
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

  bool enabled() const { return enabled_; }
  size_t token_count() const;

  // Replaces the accepted tokens with those of `contents` (the FromTokenList format). On error
  // (an empty list, a short token) the old tokens stay. FAILED_PRECONDITION on AllowAll().
  absl::Status Replace(std::string_view contents);
  // Replace() with the contents of a file.
  absl::Status ReloadFile(const std::string& path);
  // Also accepts `token` (a RandomSecret() that never leaves the process: the web signalling's
  // calls on the in-process channel), whatever Replace() later does. No-op on AllowAll().
  void AddProcessToken(std::string_view token);

  // OK, or UNAUTHENTICATED with a message that says what is missing (never echoing the token).
  grpc::Status Check(const grpc::ServerContext& context) const;
  // The same check on a raw "authorization" header value; exposed for tests.
  grpc::Status CheckHeader(std::string_view authorization, bool present) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  explicit BearerAuthenticator(std::vector<Digest> digests)
      : enabled_(!digests.empty()), digests_(std::move(digests)) {}
  static absl::StatusOr<std::vector<Digest>> Parse(std::string_view contents);

  const bool enabled_;
  mutable absl::Mutex mutex_;
  std::vector<Digest> digests_ ABSL_GUARDED_BY(mutex_);
  std::vector<Digest> process_digests_ ABSL_GUARDED_BY(mutex_);
};

// 32 random bytes from the operating system's CSPRNG, hex encoded.
std::string RandomSecret();

}  // namespace chorus::common
