#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/srtp/srtp_suite.h"

namespace chorus::srtp {

// One SDES master key and salt (RFC 4568). The bytes are wiped when the object goes away. Never
// log a key: not its text, not its bytes.
class SrtpKeyMaterial {
 public:
  // Fresh key material from the operating system's CSPRNG (libsodium).
  static SrtpKeyMaterial Generate(SrtpSuite suite);
  // From base64 text as in "inline:<key||salt>" of an SDP crypto attribute (the "inline:" prefix
  // and a "|lifetime" part are accepted; an MKI is refused). INVALID_ARGUMENT on bad base64 or a
  // length that does not fit the suite.
  static absl::StatusOr<SrtpKeyMaterial> FromBase64(SrtpSuite suite, std::string_view text);

  SrtpKeyMaterial(const SrtpKeyMaterial& other);
  SrtpKeyMaterial& operator=(const SrtpKeyMaterial& other);
  ~SrtpKeyMaterial();

  SrtpSuite suite() const { return suite_; }
  std::span<const uint8_t> bytes() const { return {bytes_.data(), length_}; }
  // Plain base64 of key || salt (what SDP "inline:" carries).
  std::string ToBase64() const;

 private:
  SrtpKeyMaterial(SrtpSuite suite) : suite_(suite), length_(KeyMaterialLength(suite)) {}
  SrtpSuite suite_;
  size_t length_;
  std::array<uint8_t, 32> bytes_{};
};

}  // namespace chorus::srtp
