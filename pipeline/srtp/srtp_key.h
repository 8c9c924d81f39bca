#pragma once

// SDES key material (RFC 4568, section 6.1): the master key || master salt of one direction,
// generated here for what Chorus sends, parsed from the peer's "inline:" key-params for what it
// receives.
//
// Thread safety: a value type; distinct objects may be used on distinct threads, Generate() and
// FromBase64() are callable from any thread. Security: the bytes are wiped (sodium_memzero) when
// an object is destroyed or overwritten; never log a key (no text form of it goes to a log,
// and error messages never quote the text they refuse).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/srtp/srtp_suite.h"

namespace chorus::srtp {

class SrtpKeyMaterial {
 public:
  // Fresh key || salt from the operating system's CSPRNG (libsodium randombytes_buf). Aborts the
  // process only if libsodium cannot initialise (no randomness source), where no key is safe.
  static SrtpKeyMaterial Generate(SrtpSuite suite);

  // Parses RFC 4568 key-params for `suite`:
  //   ["inline:"] <base64 key||salt> ["|" lifetime] ["|" mki ":" mki-length]
  // Base64 is the standard alphabet, padded or not. A lifetime ("2^31" or decimal) is accepted
  // and ignored when it is 2^31 packets or more: Chorus never re-keys a running session, and
  // libsrtp still enforces its own limit of 2^48 SRTP packets. A shorter lifetime would need a
  // re-key Chorus does not do, so it is refused. An MKI is refused (Chorus uses one key per
  // direction and libsrtp sessions here are built without MKI).
  // Errors, all INVALID_ARGUMENT: bad base64, wrong decoded length for the suite, malformed or
  // short lifetime, MKI present, extra parameters. Messages never contain the key text.
  static absl::StatusOr<SrtpKeyMaterial> FromBase64(SrtpSuite suite, std::string_view text);

  SrtpKeyMaterial(const SrtpKeyMaterial& other) = default;
  SrtpKeyMaterial& operator=(const SrtpKeyMaterial& other);
  ~SrtpKeyMaterial();

  SrtpSuite suite() const { return suite_; }
  // Master key || master salt, KeyMaterialLength(suite()) bytes.
  std::span<const uint8_t> bytes() const { return {bytes_.data(), length_}; }

  // Plain base64 of key || salt (40 characters for every suite). This is what ffmpeg takes as
  // -srtp_out_params / -srtp_in_params and what the MediaNode API carries.
  std::string ToBase64() const;
  // The SDP form, "inline:" + ToBase64(), as it goes after the suite in an "a=crypto:" line.
  std::string ToInline() const;

 private:
  explicit SrtpKeyMaterial(SrtpSuite suite) : suite_(suite), length_(KeyMaterialLength(suite)) {}

  SrtpSuite suite_;
  size_t length_;
  std::array<uint8_t, kSrtpMaxKeyMaterialBytes> bytes_{};
};

}  // namespace chorus::srtp
