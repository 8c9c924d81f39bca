#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace chorus::srtp {

// The primitives under libsrtp2. libsrtp2 does SRTP itself (key derivation, packet layout, replay
// protection); the block cipher and the MAC are plug-ins of its crypto kernel. Debian builds it on
// NSS, whose AES counter mode sets up a new PKCS #11 context for every packet (a lock and several
// allocations each): at a thousand listeners that is most of a tick. Chorus therefore installs
// AES-128 counter mode and HMAC-SHA1 from Nettle (plain structures used in place, AES-NI and SHA
// extensions; OpenSSL's EVP layer, the first choice, allocated in every HMAC) and
// AEAD_AES_128_GCM from OpenSSL's libcrypto, through libsrtp2's public srtp_replace_cipher_type /
// srtp_replace_auth_type. libsrtp2 checks each replacement against its own known-answer tests and
// those of the type it replaces before taking it.
enum class CryptoBackend {
  kLibsrtp,  // libsrtp2's built-in primitives (NSS on Debian)
  kNettle,   // AES-CM and HMAC-SHA1 from Nettle, AES-GCM from libcrypto (the default)
};

// Installs the primitives into libsrtp2's crypto kernel. Called once, right after srtp_init(),
// unless CHORUS_SRTP_CRYPTO=libsrtp asks to keep libsrtp2's own (for comparison).
absl::Status InstallCryptoBackend();

// What the sessions of this process use (decided by the first session created).
CryptoBackend ActiveCryptoBackend();
std::string_view CryptoBackendName(CryptoBackend backend);

}  // namespace chorus::srtp
