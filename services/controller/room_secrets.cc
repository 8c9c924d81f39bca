#include "services/controller/room_secrets.h"

#include <sodium.h>

#include <array>
#include <cstdlib>
#include <mutex>

namespace chorus::controller::secrets {
namespace {

// PIN hashes: Argon2id (libsodium crypto_pwhash) with 16 MiB and 2 passes: a PIN is short, so the
// hash's job is to make a stolen memory dump expensive to search, not to be unguessable.
constexpr unsigned long long kPinOps = 2;
constexpr size_t kPinMemory = 16u << 20;

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

}  // namespace

std::string RandomId(size_t bytes) {
  EnsureSodium();
  std::array<unsigned char, 16> random{};
  randombytes_buf(random.data(), bytes);
  std::array<char, 33> hex{};
  sodium_bin2hex(hex.data(), hex.size(), random.data(), bytes);
  return std::string(hex.data());
}

std::string RandomDialInId() {
  EnsureSodium();
  std::string id(1, static_cast<char>('1' + randombytes_uniform(9)));
  while (id.size() < 9) id.push_back(static_cast<char>('0' + randombytes_uniform(10)));
  return id;
}

std::string NewSecret() {
  EnsureSodium();
  std::array<unsigned char, 32> secret{};
  randombytes_buf(secret.data(), secret.size());
  char token[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(token, sizeof(token), secret.data(), secret.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(secret.data(), secret.size());
  return std::string(token);
}

std::string HashToken(const std::string& token) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size());
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

std::string HashPin(const std::string& pin) {
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, pin.data(), pin.size(), kPinOps, kPinMemory) != 0) return {};
  return out;
}

bool PinMatches(const std::string& hash, const std::string& pin) {
  if (hash.empty()) return false;
  return crypto_pwhash_str_verify(hash.c_str(), pin.data(), pin.size()) == 0;
}

}  // namespace chorus::controller::secrets
