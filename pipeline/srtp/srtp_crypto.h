#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace chorus::srtp {

// The primitives under libsrtp2. libsrtp2 does SRTP itself (key derivation, packet layout, replay
// protection); the block cipher and the MAC are plug-ins of its crypto kernel. Debian builds it on
// NSS, whose AES counter mode sets up a new PKCS #11 context for every packet (a lock and several
// allocations each): at a thousand listeners that is most of a tick. Chorus therefore installs
// AES-128 counter mode and HMAC-SHA1 of its own choosing through libsrtp2's public
// srtp_replace_cipher_type / srtp_replace_auth_type: Nettle's (plain structures used in place,
// AES-NI and SHA extensions), or OpenSSL's libcrypto (whose EVP layer allocates in every HMAC).
// libsrtp2 checks each replacement against its own known-answer tests and those of the type it
// replaces before taking it. AEAD_AES_128_GCM comes from libcrypto either way.
enum class CryptoBackend {
  kLibsrtp,  // libsrtp2's built-in primitives (NSS on Debian)
  kOpenSsl,  // AES-CM and HMAC-SHA1 from libcrypto
  kNettle,   // AES-CM and HMAC-SHA1 from Nettle (the default)
};

// Installs the primitives into libsrtp2's crypto kernel. Called once, right after srtp_init():
// Nettle's unless CHORUS_SRTP_CRYPTO=openssl or CHORUS_SRTP_CRYPTO=libsrtp asks for libcrypto's
// or libsrtp2's own (for comparison).
absl::Status InstallCryptoBackend();

// What the sessions of this process use (decided by the first session created).
CryptoBackend ActiveCryptoBackend();
std::string_view CryptoBackendName(CryptoBackend backend);

}  // namespace chorus::srtp
