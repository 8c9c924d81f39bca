#pragma once

// DTLS-SRTP key derivation (RFC 5764, section 4.2): the SRTP protection profile the handshake
// chose, and the keying material exported from the DTLS master secret with the label
// "EXTRACTOR-dtls_srtp", split into the two directions in the form pipeline/srtp takes
// (SrtpKeyMaterial: master key || master salt).
//
// Pure functions over caller-owned bytes: any thread. They run once per handshake (control-plane
// cost), so failures are absl::Status. Key bytes are wiped from every temporary buffer.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "pipeline/srtp/srtp_key.h"
#include "pipeline/srtp/srtp_suite.h"

namespace chorus::dtls {

// The exporter label of RFC 5764, section 4.2.
inline constexpr std::string_view kDtlsSrtpExporterLabel = "EXTRACTOR-dtls_srtp";

// SRTPProtectionProfile values (RFC 5764, section 4.1.2; RFC 7714, section 14.2).
inline constexpr uint16_t kSrtpProfileAes128CmSha1_80 = 0x0001;
inline constexpr uint16_t kSrtpProfileAes128CmSha1_32 = 0x0002;
inline constexpr uint16_t kSrtpProfileAeadAes128Gcm = 0x0007;

// The suite of a profile Chorus negotiates (0x0001 and 0x0007; 0x0002 maps too, although the
// server never selects it); nullopt for any other value.
std::optional<srtp::SrtpSuite> SuiteFromSrtpProfile(uint16_t profile);

// How many bytes to export for `suite`: 2 * (master key + master salt), 60 for the AES-CM suites
// and 56 for AEAD_AES_128_GCM.
size_t DtlsSrtpExportLength(srtp::SrtpSuite suite);

// Which end of the DTLS handshake this side was.
enum class DtlsRole { kClient, kServer };

// The keys of one DTLS-SRTP association from this side's point of view.
struct SrtpKeys {
  srtp::SrtpSuite suite;
  // What this side protects with (its own write key || salt): for Chorus, the DTLS server, the
  // server_write_SRTP_master_key || server_write_SRTP_master_salt. Use with Direction::kOutbound.
  srtp::SrtpKeyMaterial local;
  // What this side unprotects with (the peer's write key || salt): for Chorus the client's. Use
  // with Direction::kInbound.
  srtp::SrtpKeyMaterial remote;
};

// Splits exported keying material laid out as RFC 5764 4.2 says,
//   client_write_key | server_write_key | client_write_salt | server_write_salt,
// into local and remote for `role`. INVALID_ARGUMENT when `material` is not
// DtlsSrtpExportLength(suite) bytes.
absl::StatusOr<SrtpKeys> SplitDtlsSrtpKeyingMaterial(srtp::SrtpSuite suite,
                                                     std::span<const uint8_t> material,
                                                     DtlsRole role);

}  // namespace chorus::dtls
