#include "pipeline/dtls/dtls_srtp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <string>

namespace chorus::dtls {
namespace {

using srtp::SrtpKeyMaterial;
using srtp::SrtpSuite;

// pipeline/srtp builds SrtpKeyMaterial only from its SDES text form, so the bytes go through
// base64 in a stack buffer that is wiped afterwards.
absl::StatusOr<SrtpKeyMaterial> ToKeyMaterial(SrtpSuite suite, std::span<const uint8_t> key,
                                              std::span<const uint8_t> salt) {
  std::array<uint8_t, srtp::kSrtpMaxKeyMaterialBytes> joined{};
  std::memcpy(joined.data(), key.data(), key.size());
  std::memcpy(joined.data() + key.size(), salt.data(), salt.size());
  // 4 * ceil(30 / 3) = 40 characters and the NUL EVP_EncodeBlock writes.
  std::array<char, 48> text{};
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), joined.data(),
                                     static_cast<int>(key.size() + salt.size()));
  absl::StatusOr<SrtpKeyMaterial> material = SrtpKeyMaterial::FromBase64(
      suite, std::string_view(text.data(), static_cast<size_t>(length)));
  OPENSSL_cleanse(joined.data(), joined.size());
  OPENSSL_cleanse(text.data(), text.size());
  return material;
}

}  // namespace

std::optional<SrtpSuite> SuiteFromSrtpProfile(uint16_t profile) {
  switch (profile) {
    case kSrtpProfileAes128CmSha1_80:
      return SrtpSuite::kAesCm128HmacSha1_80;
    case kSrtpProfileAes128CmSha1_32:
      return SrtpSuite::kAesCm128HmacSha1_32;
    case kSrtpProfileAeadAes128Gcm:
      return SrtpSuite::kAeadAes128Gcm;
    default:
      return std::nullopt;
  }
}

size_t DtlsSrtpExportLength(SrtpSuite suite) { return 2 * srtp::KeyMaterialLength(suite); }

absl::StatusOr<SrtpKeys> SplitDtlsSrtpKeyingMaterial(SrtpSuite suite,
                                                     std::span<const uint8_t> material,
                                                     DtlsRole role) {
  if (material.size() != DtlsSrtpExportLength(suite)) {
    return absl::InvalidArgumentError("DTLS-SRTP: exported keying material of " +
                                      std::to_string(material.size()) + " bytes, " +
                                      std::string(srtp::SuiteName(suite)) + " needs " +
                                      std::to_string(DtlsSrtpExportLength(suite)));
  }
  const size_t key_bytes = srtp::kSrtpMasterKeyBytes;
  const size_t salt_bytes = srtp::MasterSaltLength(suite);
  const std::span<const uint8_t> client_key = material.subspan(0, key_bytes);
  const std::span<const uint8_t> server_key = material.subspan(key_bytes, key_bytes);
  const std::span<const uint8_t> client_salt = material.subspan(2 * key_bytes, salt_bytes);
  const std::span<const uint8_t> server_salt =
      material.subspan(2 * key_bytes + salt_bytes, salt_bytes);

  absl::StatusOr<SrtpKeyMaterial> client = ToKeyMaterial(suite, client_key, client_salt);
  if (!client.ok()) return client.status();
  absl::StatusOr<SrtpKeyMaterial> server = ToKeyMaterial(suite, server_key, server_salt);
  if (!server.ok()) return server.status();
  if (role == DtlsRole::kServer) return SrtpKeys{suite, *server, *client};
  return SrtpKeys{suite, *client, *server};
}

}  // namespace chorus::dtls
