#pragma once

#include <cstddef>
#include <string>

// The controller's secrets: random ids, invite and session tokens, and the hashes it keeps of
// them and of PINs (libsodium). Nothing here is logged; only hashes are stored.
namespace chorus::controller::secrets {

// `bytes` random bytes (at most 16) as lower-case hex: room, invite and participant ids.
std::string RandomId(size_t bytes);

// A room's dial-in id: 9 random digits, the first not 0.
std::string RandomDialInId();

// 32 random bytes, URL-safe base64 without padding (43 characters): invite and session tokens.
std::string NewSecret();

// The SHA-256 of a token (raw bytes): what the stores keep of invite and session tokens, and of
// a client's address for the PIN lockout.
std::string HashToken(const std::string& token);

// A PIN's Argon2id hash (libsodium's encoded string; empty if hashing failed). Slow by design
// (16 MiB, 2 passes): call it outside any lock.
std::string HashPin(const std::string& pin);

// Whether `pin` matches the encoded hash (false for an empty hash). As slow as HashPin.
bool PinMatches(const std::string& hash, const std::string& pin);

}  // namespace chorus::controller::secrets
