#include "pipeline/srtp/srtp_crypto.h"

#include <nettle/aes.h>
#include <nettle/ctr.h>
#include <nettle/hmac.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/crypto_types.h>
#include <srtp2/srtp.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace chorus::srtp {
namespace {

std::atomic<CryptoBackend> g_backend{CryptoBackend::kLibsrtp};

// ----- AES-128 in counter mode (RFC 3711 section 4.1.1), from Nettle -----
//
// Nettle (libnettle: AES-NI and SHA extensions) rather than OpenSSL 3's EVP layer, which costs
// more than the arithmetic at SRTP's packet sizes: every HMAC duplicates its digest context (an
// allocation and a free) and looks its parameters up by name, and each object a packet touches is
// one more cache miss when a thousand listeners' contexts take turns. Nettle's contexts are plain
// structures (the AES key schedule; the HMAC's inner and outer SHA-1 states), used in place with
// no allocation.

constexpr int kAesKeyLength = 16;

// RFC 3711 appendix B.2: the first two keystream blocks for this key and salt at index zero.
constexpr uint8_t kAesCmTestKey[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f,
    0x3c, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
uint8_t kAesCmTestIv[16] = {};
constexpr uint8_t kAesCmTestPlaintext[32] = {};
constexpr uint8_t kAesCmTestCiphertext[32] = {
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
    0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab};
const srtp_cipher_test_case_t kAesCmTest = {SRTP_AES_ICM_128_KEY_LEN_WSALT,
                                            kAesCmTestKey,
                                            kAesCmTestIv,
                                            32,
                                            kAesCmTestPlaintext,
                                            32,
                                            kAesCmTestCiphertext,
                                            0,
                                            nullptr,
                                            0,
                                            nullptr};

struct NettleAesCmState {
  aes128_ctx key{};
  uint8_t salt[16] = {};
  uint8_t counter[16] = {};
  // Keystream left over from a call that ended inside a block (counter mode continues there).
  uint8_t keystream[16] = {};
  unsigned used = 16;
};

extern const srtp_cipher_type_t kNettleAesCmType;

void Aes128Encrypt(const void* key, size_t length, uint8_t* out, const uint8_t* in) {
  aes128_encrypt(static_cast<const aes128_ctx*>(key), length, out, in);
}

srtp_err_status_t NettleAesCmAlloc(srtp_cipher_pointer_t* out, int key_length, int /*tag_length*/) {
  if (key_length != SRTP_AES_ICM_128_KEY_LEN_WSALT) return srtp_err_status_bad_param;
  auto* cipher = static_cast<srtp_cipher_t*>(std::calloc(1, sizeof(srtp_cipher_t)));
  void* memory = std::calloc(1, sizeof(NettleAesCmState));
  if (cipher == nullptr || memory == nullptr) {
    std::free(cipher);
    std::free(memory);
    return srtp_err_status_alloc_fail;
  }
  cipher->type = &kNettleAesCmType;
  cipher->state = new (memory) NettleAesCmState;
  cipher->key_len = key_length;
  cipher->algorithm = SRTP_AES_ICM_128;
  *out = cipher;
  return srtp_err_status_ok;
}

srtp_err_status_t NettleAesCmDealloc(srtp_cipher_pointer_t cipher) {
  if (cipher == nullptr) return srtp_err_status_bad_param;
  if (cipher->state != nullptr) {
    OPENSSL_cleanse(cipher->state, sizeof(NettleAesCmState));  // the key schedule
    std::free(cipher->state);
  }
  OPENSSL_cleanse(cipher, sizeof(*cipher));
  std::free(cipher);
  return srtp_err_status_ok;
}

// `key` is the 16-byte key followed by the 14-byte salt.
srtp_err_status_t NettleAesCmInit(void* opaque, const uint8_t* key) {
  auto* state = static_cast<NettleAesCmState*>(opaque);
  aes128_set_encrypt_key(&state->key, key);
  std::memset(state->salt, 0, sizeof(state->salt));
  std::memcpy(state->salt, key + kAesKeyLength, SRTP_SALT_LEN);
  state->used = 16;
  return srtp_err_status_ok;
}

srtp_err_status_t NettleAesCmSetIv(void* opaque, uint8_t* iv,
                                   srtp_cipher_direction_t /*direction*/) {
  auto* state = static_cast<NettleAesCmState*>(opaque);
  for (int i = 0; i < 16; ++i) state->counter[i] = static_cast<uint8_t>(state->salt[i] ^ iv[i]);
  state->used = 16;
  return srtp_err_status_ok;
}

// Counter mode, in place, both ways; a call may end inside a block and the next go on from there.
srtp_err_status_t NettleAesCmCrypt(void* opaque, uint8_t* buffer, unsigned int* length) {
  auto* state = static_cast<NettleAesCmState*>(opaque);
  const size_t total = *length;
  size_t done = 0;
  while (state->used < 16 && done < total) buffer[done++] ^= state->keystream[state->used++];
  const size_t whole = (total - done) & ~size_t{15};
  if (whole > 0) {
    ctr_crypt(&state->key, Aes128Encrypt, AES_BLOCK_SIZE, state->counter, whole, buffer + done,
              buffer + done);
    done += whole;
  }
  if (done < total) {
    std::memset(state->keystream, 0, sizeof(state->keystream));
    ctr_crypt(&state->key, Aes128Encrypt, AES_BLOCK_SIZE, state->counter, AES_BLOCK_SIZE,
              state->keystream, state->keystream);
    state->used = 0;
    while (done < total) buffer[done++] ^= state->keystream[state->used++];
  }
  return srtp_err_status_ok;
}

const srtp_cipher_type_t kNettleAesCmType = {
    NettleAesCmAlloc,
    NettleAesCmDealloc,
    NettleAesCmInit,
    nullptr,  // no additional data in counter mode
    NettleAesCmCrypt,
    NettleAesCmCrypt,
    NettleAesCmSetIv,
    nullptr,  // no tag
    "AES-128 counter mode (Nettle)",
    &kAesCmTest,
    SRTP_AES_ICM_128,
};

// ----- AES-128 in Galois/counter mode (RFC 7714), AEAD_AES_128_GCM -----
//
// libsrtp2 computes the 12-byte IV from the salt and the packet index itself and hands the
// cipher the IV, the header as additional data, then the payload; the tag follows the payload.

struct AesGcmState {
  EVP_CIPHER_CTX* context = nullptr;
  int tag_length = 16;
};

const EVP_CIPHER* Aes128Gcm() {
  static const EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  return cipher;
}

extern const srtp_cipher_type_t kAesGcmType;

srtp_err_status_t AesGcmAlloc(srtp_cipher_pointer_t* out, int key_length, int tag_length) {
  if (key_length != SRTP_AES_GCM_128_KEY_LEN_WSALT) return srtp_err_status_bad_param;
  if (tag_length != 8 && tag_length != 16) return srtp_err_status_bad_param;
  if (Aes128Gcm() == nullptr) return srtp_err_status_cipher_fail;
  auto* cipher = static_cast<srtp_cipher_t*>(std::calloc(1, sizeof(srtp_cipher_t)));
  void* memory = std::calloc(1, sizeof(AesGcmState));
  AesGcmState* state = memory != nullptr ? new (memory) AesGcmState : nullptr;
  EVP_CIPHER_CTX* context = EVP_CIPHER_CTX_new();
  if (cipher == nullptr || state == nullptr || context == nullptr) {
    std::free(cipher);
    std::free(state);
    EVP_CIPHER_CTX_free(context);
    return srtp_err_status_alloc_fail;
  }
  state->context = context;
  state->tag_length = tag_length;
  cipher->type = &kAesGcmType;
  cipher->state = state;
  cipher->key_len = key_length;
  cipher->algorithm = SRTP_AES_GCM_128;
  *out = cipher;
  return srtp_err_status_ok;
}

srtp_err_status_t AesGcmDealloc(srtp_cipher_pointer_t cipher) {
  if (cipher == nullptr) return srtp_err_status_bad_param;
  auto* state = static_cast<AesGcmState*>(cipher->state);
  if (state != nullptr) {
    EVP_CIPHER_CTX_free(state->context);  // wipes the expanded key
    std::free(state);
  }
  OPENSSL_cleanse(cipher, sizeof(*cipher));
  std::free(cipher);
  return srtp_err_status_ok;
}

// `key` is the 16-byte key (the salt that follows is libsrtp2's, for the IV).
srtp_err_status_t AesGcmInit(void* opaque, const uint8_t* key) {
  auto* state = static_cast<AesGcmState*>(opaque);
  if (EVP_CipherInit_ex(state->context, Aes128Gcm(), nullptr, nullptr, nullptr, 1) != 1 ||
      EVP_CIPHER_CTX_ctrl(state->context, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_CipherInit_ex(state->context, nullptr, nullptr, key, nullptr, -1) != 1) {
    return srtp_err_status_init_fail;
  }
  return srtp_err_status_ok;
}

// A new message: its IV and direction (the expanded key stays).
srtp_err_status_t AesGcmSetIv(void* opaque, uint8_t* iv, srtp_cipher_direction_t direction) {
  auto* state = static_cast<AesGcmState*>(opaque);
  if (direction != srtp_direction_encrypt && direction != srtp_direction_decrypt) {
    return srtp_err_status_bad_param;
  }
  const int encrypt = direction == srtp_direction_encrypt ? 1 : 0;
  if (EVP_CipherInit_ex(state->context, nullptr, nullptr, nullptr, iv, encrypt) != 1) {
    return srtp_err_status_cipher_fail;
  }
  return srtp_err_status_ok;
}

srtp_err_status_t AesGcmSetAad(void* opaque, const uint8_t* aad, uint32_t length) {
  auto* state = static_cast<AesGcmState*>(opaque);
  if (length > 0x7fffffffu) return srtp_err_status_bad_param;
  int written = 0;
  if (EVP_CipherUpdate(state->context, nullptr, &written, aad, static_cast<int>(length)) != 1) {
    return srtp_err_status_algo_fail;
  }
  return srtp_err_status_ok;
}

srtp_err_status_t AesGcmEncrypt(void* opaque, uint8_t* buffer, unsigned int* length) {
  auto* state = static_cast<AesGcmState*>(opaque);
  if (*length > 0x7fffffffu) return srtp_err_status_bad_param;
  int written = 0;
  if (EVP_CipherUpdate(state->context, buffer, &written, buffer, static_cast<int>(*length)) != 1 ||
      written != static_cast<int>(*length)) {
    return srtp_err_status_cipher_fail;
  }
  return srtp_err_status_ok;
}

// After encrypting: the tag of the message.
srtp_err_status_t AesGcmGetTag(void* opaque, uint8_t* tag, uint32_t* length) {
  auto* state = static_cast<AesGcmState*>(opaque);
  uint8_t rest[16];
  int written = 0;
  if (EVP_CipherFinal_ex(state->context, rest, &written) != 1 ||
      EVP_CIPHER_CTX_ctrl(state->context, EVP_CTRL_AEAD_GET_TAG, state->tag_length, tag) != 1) {
    return srtp_err_status_algo_fail;
  }
  *length = static_cast<uint32_t>(state->tag_length);
  return srtp_err_status_ok;
}

// `*length` counts the ciphertext and its tag; on success it counts the plaintext.
srtp_err_status_t AesGcmDecrypt(void* opaque, uint8_t* buffer, unsigned int* length) {
  auto* state = static_cast<AesGcmState*>(opaque);
  const unsigned int tag_length = static_cast<unsigned int>(state->tag_length);
  if (*length < tag_length || *length > 0x7fffffffu) return srtp_err_status_bad_param;
  const int data_length = static_cast<int>(*length - tag_length);
  int written = 0;
  uint8_t rest[16];
  if (EVP_CIPHER_CTX_ctrl(state->context, EVP_CTRL_AEAD_SET_TAG, state->tag_length,
                          buffer + data_length) != 1 ||
      EVP_CipherUpdate(state->context, buffer, &written, buffer, data_length) != 1) {
    return srtp_err_status_cipher_fail;
  }
  if (EVP_CipherFinal_ex(state->context, rest, &written) != 1) return srtp_err_status_auth_fail;
  *length -= tag_length;
  return srtp_err_status_ok;
}

// The GCM specification's test case 4 (AES-128, 60-byte plaintext, 20 bytes of additional data,
// 96-bit IV); the key is followed by a salt libsrtp2 does not pass to the cipher.
constexpr uint8_t kAesGcmTestKey[SRTP_AES_GCM_128_KEY_LEN_WSALT] = {
    0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30,
    0x83, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c};
uint8_t kAesGcmTestIv[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                             0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
constexpr uint8_t kAesGcmTestPlaintext[60] = {
    0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5, 0xaf, 0xf5, 0x26,
    0x9a, 0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda, 0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31,
    0x8a, 0x72, 0x1c, 0x3c, 0x0c, 0x95, 0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49,
    0xa6, 0xb5, 0x25, 0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39};
constexpr uint8_t kAesGcmTestAad[20] = {0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
                                        0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2};
// Ciphertext, then the 16-byte tag.
constexpr uint8_t kAesGcmTestCiphertext[76] = {
    0x42, 0x83, 0x1e, 0xc2, 0x21, 0x77, 0x74, 0x24, 0x4b, 0x72, 0x21, 0xb7, 0x84, 0xd0, 0xd4, 0x9c,
    0xe3, 0xaa, 0x21, 0x2f, 0x2c, 0x02, 0xa4, 0xe0, 0x35, 0xc1, 0x7e, 0x23, 0x29, 0xac, 0xa1, 0x2e,
    0x21, 0xd5, 0x14, 0xb2, 0x54, 0x66, 0x93, 0x1c, 0x7d, 0x8f, 0x6a, 0x5a, 0xac, 0x84, 0xaa, 0x05,
    0x1b, 0xa3, 0x0b, 0x39, 0x6a, 0x0a, 0xac, 0x97, 0x3d, 0x58, 0xe0, 0x91, 0x5b, 0xc9, 0x4f, 0xbc,
    0x32, 0x21, 0xa5, 0xdb, 0x94, 0xfa, 0xe9, 0x5a, 0xe7, 0x12, 0x1a, 0x47};
const srtp_cipher_test_case_t kAesGcmTest = {SRTP_AES_GCM_128_KEY_LEN_WSALT,
                                             kAesGcmTestKey,
                                             kAesGcmTestIv,
                                             60,
                                             kAesGcmTestPlaintext,
                                             76,
                                             kAesGcmTestCiphertext,
                                             20,
                                             kAesGcmTestAad,
                                             16,
                                             nullptr};

const srtp_cipher_type_t kAesGcmType = {
    AesGcmAlloc,  AesGcmDealloc,    AesGcmInit,
    AesGcmSetAad, AesGcmEncrypt,    AesGcmDecrypt,
    AesGcmSetIv,  AesGcmGetTag,     "AES-128 GCM (OpenSSL libcrypto)",
    &kAesGcmTest, SRTP_AES_GCM_128,
};

// ----- HMAC-SHA1 (RFC 2104), the SRTP and SRTCP authentication tag -----

constexpr int kSha1Length = 20;

// RFC 2202 section 3, test case 2 ("what do ya want for nothing?" under the key "Jefe").
constexpr uint8_t kHmacTestKey[4] = {'J', 'e', 'f', 'e'};
constexpr uint8_t kHmacTestData[28] = {'w', 'h', 'a', 't', ' ', 'd', 'o', ' ', 'y', 'a',
                                       ' ', 'w', 'a', 'n', 't', ' ', 'f', 'o', 'r', ' ',
                                       'n', 'o', 't', 'h', 'i', 'n', 'g', '?'};
constexpr uint8_t kHmacTestTag[kSha1Length] = {0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f,
                                               0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
                                               0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
const srtp_auth_test_case_t kHmacTest = {4,           kHmacTestKey, 28,     kHmacTestData,
                                         kSha1Length, kHmacTestTag, nullptr};

struct NettleHmacState {
  hmac_sha1_ctx context{};
  uint8_t key[kSha1Length] = {};
  size_t key_length = 0;
  bool inside_message = false;  // updated since the last tag: start() must begin afresh
};

extern const srtp_auth_type_t kNettleHmacType;

srtp_err_status_t NettleHmacAlloc(srtp_auth_pointer_t* out, int key_length, int tag_length) {
  if (key_length < 0 || key_length > kSha1Length || tag_length < 0 || tag_length > kSha1Length) {
    return srtp_err_status_bad_param;
  }
  auto* auth = static_cast<srtp_auth_t*>(std::calloc(1, sizeof(srtp_auth_t)));
  void* memory = std::calloc(1, sizeof(NettleHmacState));
  if (auth == nullptr || memory == nullptr) {
    std::free(auth);
    std::free(memory);
    return srtp_err_status_alloc_fail;
  }
  auth->type = &kNettleHmacType;
  auth->state = new (memory) NettleHmacState;
  auth->out_len = tag_length;
  auth->key_len = key_length;
  auth->prefix_len = 0;
  *out = auth;
  return srtp_err_status_ok;
}

srtp_err_status_t NettleHmacDealloc(srtp_auth_pointer_t auth) {
  if (auth == nullptr) return srtp_err_status_bad_param;
  if (auth->state != nullptr) {
    OPENSSL_cleanse(auth->state, sizeof(NettleHmacState));  // the key and its pads' states
    std::free(auth->state);
  }
  OPENSSL_cleanse(auth, sizeof(*auth));
  std::free(auth);
  return srtp_err_status_ok;
}

srtp_err_status_t NettleHmacInit(void* opaque, const uint8_t* key, int key_length) {
  if (key_length < 0 || key_length > kSha1Length) return srtp_err_status_bad_param;
  auto* state = static_cast<NettleHmacState*>(opaque);
  state->key_length = static_cast<size_t>(key_length);
  std::memcpy(state->key, key, state->key_length);
  hmac_sha1_set_key(&state->context, state->key_length, state->key);
  state->inside_message = false;
  return srtp_err_status_ok;
}

// A new message under the same key. Nettle's digest leaves the context ready for the next
// message; only a message abandoned halfway needs the key set again.
srtp_err_status_t NettleHmacStart(void* opaque) {
  auto* state = static_cast<NettleHmacState*>(opaque);
  if (state->inside_message) {
    hmac_sha1_set_key(&state->context, state->key_length, state->key);
    state->inside_message = false;
  }
  return srtp_err_status_ok;
}

srtp_err_status_t NettleHmacUpdate(void* opaque, const uint8_t* message, int length) {
  if (length < 0) return srtp_err_status_bad_param;
  auto* state = static_cast<NettleHmacState*>(opaque);
  hmac_sha1_update(&state->context, static_cast<size_t>(length), message);
  state->inside_message = true;
  return srtp_err_status_ok;
}

srtp_err_status_t NettleHmacCompute(void* opaque, const uint8_t* message, int length,
                                    int tag_length, uint8_t* tag) {
  if (length < 0 || tag_length < 0 || tag_length > kSha1Length) {
    return srtp_err_status_bad_param;
  }
  auto* state = static_cast<NettleHmacState*>(opaque);
  hmac_sha1_update(&state->context, static_cast<size_t>(length), message);
  hmac_sha1_digest(&state->context, static_cast<size_t>(tag_length), tag);
  state->inside_message = false;
  return srtp_err_status_ok;
}

const srtp_auth_type_t kNettleHmacType = {
    NettleHmacAlloc, NettleHmacDealloc,    NettleHmacInit, NettleHmacCompute, NettleHmacUpdate,
    NettleHmacStart, "HMAC-SHA1 (Nettle)", &kHmacTest,     SRTP_HMAC_SHA1,
};

}  // namespace

absl::Status InstallCryptoBackend() {
  const char* choice = std::getenv("CHORUS_SRTP_CRYPTO");
  const std::string_view name = choice != nullptr ? choice : "";
  if (name == "libsrtp") {
    g_backend = CryptoBackend::kLibsrtp;
    return absl::OkStatus();
  }
  if (!name.empty() && name != "nettle") {
    return absl::InvalidArgumentError("CHORUS_SRTP_CRYPTO must be 'nettle' or 'libsrtp'");
  }
  // Each replacement passes its own known-answer test and that of the type it replaces.
  if (srtp_err_status_t status = srtp_replace_cipher_type(&kNettleAesCmType, SRTP_AES_ICM_128);
      status != srtp_err_status_ok) {
    return absl::InternalError("libsrtp2 refused the Nettle AES-CM cipher (error " +
                               std::to_string(static_cast<int>(status)) + ")");
  }
  if (srtp_err_status_t status = srtp_replace_cipher_type(&kAesGcmType, SRTP_AES_GCM_128);
      status != srtp_err_status_ok) {
    return absl::InternalError("libsrtp2 refused the OpenSSL AES-GCM cipher (error " +
                               std::to_string(static_cast<int>(status)) + ")");
  }
  if (srtp_err_status_t status = srtp_replace_auth_type(&kNettleHmacType, SRTP_HMAC_SHA1);
      status != srtp_err_status_ok) {
    return absl::InternalError("libsrtp2 refused the Nettle HMAC-SHA1 (error " +
                               std::to_string(static_cast<int>(status)) + ")");
  }
  g_backend = CryptoBackend::kNettle;
  return absl::OkStatus();
}

CryptoBackend ActiveCryptoBackend() { return g_backend.load(); }

std::string_view CryptoBackendName(CryptoBackend backend) {
  return backend == CryptoBackend::kNettle ? "nettle" : "libsrtp";
}

}  // namespace chorus::srtp
