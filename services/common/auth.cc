#include "services/common/auth.h"

#include <sodium.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/status.h"

namespace chorus::common {
namespace {

constexpr size_t kMinTokenLength = 16;

std::array<unsigned char, 32> Sha256(std::string_view text) {
  std::array<unsigned char, 32> digest;
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size());
  return digest;
}

}  // namespace

std::unique_ptr<BearerAuthenticator> BearerAuthenticator::AllowAll() {
  return std::unique_ptr<BearerAuthenticator>(new BearerAuthenticator({}));
}

absl::StatusOr<std::vector<BearerAuthenticator::Digest>> BearerAuthenticator::Parse(
    std::string_view contents) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  std::vector<Digest> digests;
  int line_number = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(contents.data(), contents.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() < kMinTokenLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token on line ", line_number, " is shorter than ", kMinTokenLength, " characters"));
    }
    digests.push_back(Sha256(std::string_view(line.data(), line.size())));
  }
  if (digests.empty()) {
    return absl::InvalidArgumentError("the token list holds no token");
  }
  return digests;
}

absl::StatusOr<std::unique_ptr<BearerAuthenticator>> BearerAuthenticator::FromTokenList(
    std::string_view contents) {
  auto digests = Parse(contents);
  if (!digests.ok()) return digests.status();
  return std::unique_ptr<BearerAuthenticator>(new BearerAuthenticator(*std::move(digests)));
}

size_t BearerAuthenticator::token_count() const {
  absl::MutexLock lock(&mutex_);
  return digests_.size();
}

absl::Status BearerAuthenticator::Replace(std::string_view contents) {
  if (!enabled_) {
    return absl::FailedPreconditionError("no token list was configured at start");
  }
  auto digests = Parse(contents);
  if (!digests.ok()) return digests.status();
  absl::MutexLock lock(&mutex_);
  digests_ = *std::move(digests);
  return absl::OkStatus();
}

absl::Status BearerAuthenticator::ReloadFile(const std::string& path) {
  auto contents = ReadFileForFlag("--api_tokens_file", path);
  if (!contents.ok()) return contents.status();
  absl::Status status = Replace(*contents);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--api_tokens_file '", path, "': ", status.message()));
  }
  return status;
}

void BearerAuthenticator::AddProcessToken(std::string_view token) {
  if (!enabled_) return;
  absl::MutexLock lock(&mutex_);
  process_digests_.push_back(Sha256(token));
}

absl::StatusOr<std::unique_ptr<BearerAuthenticator>> BearerAuthenticator::FromFile(
    const std::string& path) {
  auto contents = ReadFileForFlag("--api_tokens_file", path);
  if (!contents.ok()) return contents.status();
  auto authenticator = FromTokenList(*contents);
  if (!authenticator.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--api_tokens_file '", path, "': ", authenticator.status().message()));
  }
  return authenticator;
}

grpc::Status BearerAuthenticator::Check(const grpc::ServerContext& context) const {
  if (!enabled()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return CheckHeader({}, false);
  return CheckHeader(std::string_view(it->second.data(), it->second.size()), true);
}

grpc::Status BearerAuthenticator::CheckHeader(std::string_view authorization, bool present) const {
  if (!enabled()) return grpc::Status::OK;
  if (!present) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(authorization.data(), kScheme.size()),
                              absl::string_view(kScheme.data(), kScheme.size()))) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the authorization metadata must use the Bearer scheme");
  }
  std::string_view rest = authorization.substr(kScheme.size());
  absl::string_view token = absl::StripAsciiWhitespace(absl::string_view(rest.data(), rest.size()));
  Digest presented = Sha256(std::string_view(token.data(), token.size()));
  // Compare with every digest, without stopping early, in constant time each.
  int matches = 0;
  absl::MutexLock lock(&mutex_);
  for (const Digest& known : digests_) {
    matches |= (sodium_memcmp(known.data(), presented.data(), known.size()) == 0) ? 1 : 0;
  }
  for (const Digest& known : process_digests_) {
    matches |= (sodium_memcmp(known.data(), presented.data(), known.size()) == 0) ? 1 : 0;
  }
  if (matches == 0) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the bearer token is not valid");
  }
  return grpc::Status::OK;
}

std::string RandomSecret() {
  if (sodium_init() < 0) std::abort();
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof(bytes));
  char hex[65];
  sodium_bin2hex(hex, sizeof(hex), bytes, sizeof(bytes));
  sodium_memzero(bytes, sizeof(bytes));
  return hex;
}

}  // namespace chorus::common
