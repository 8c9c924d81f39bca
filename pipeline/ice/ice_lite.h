#pragma once

// The ICE-lite side of one participant's transport (RFC 8445 section 2.5): Chorus has public host
// candidates only, never sends checks, and is always the controlled agent; the browser (a full
// agent) checks the candidate pairs and nominates one with USE-CANDIDATE. An IceLiteAgent answers
// those checks, remembers which remote addresses passed one (validated pairs), which pair was
// nominated last (the selected pair, where media goes), and when the last check on the selected
// pair arrived, which is the consent of RFC 7675 (browsers send one every ~5 s; consent expires
// after 30 s without one).
//
// Thread affinity: created on any thread, then used only on the media worker thread that owns
// the transport (debug builds check that every request comes from one thread). No locks.
//
// Hot path: HandleBindingRequest allocates nothing itself, takes no lock, logs nothing and throws
// nothing; pairs live in a fixed table. Every outcome is an IceResult the caller counts by
// IceResultName(); bad input is dropped or answered with a STUN error, never trusted.
//
// An ICE restart or a new offer with new credentials makes a new agent: credentials never change
// in place.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "pipeline/ice/stun.h"
#include "pipeline/net/socket_address.h"

namespace chorus::ice {

// One side's ICE credentials, as in "a=ice-ufrag" / "a=ice-pwd" (RFC 8839 section 5.4):
// ice-chars (ALPHA / DIGIT / "+" / "/"), ufrag 4..256 characters, password 22..256.
struct IceCredentials {
  std::string ufrag;
  std::string pwd;

  // Fresh local credentials from the operating system's CSPRNG (libsodium): an 8-character ufrag
  // and a 24-character password (144 bits). Callable from any thread. Aborts only if libsodium
  // cannot initialise (no randomness source), where no credential is safe.
  static IceCredentials Generate();
};

// INVALID_ARGUMENT naming which field breaks RFC 8839's grammar (never quoting the password).
absl::Status ValidateIceCredentials(const IceCredentials& credentials);

struct IceLiteConfig {
  IceCredentials local;   // Chorus's, sent in the SDP answer; Generate() them
  IceCredentials remote;  // the browser's, from the SDP offer
  // RFC 7675 section 5.1: consent expires this long after the last valid check.
  int64_t consent_timeout_us = 30'000'000;
};

// What handling one datagram did. With kResponded, kSelectedPair, kNoCredentials, kBadUsername,
// kBadIntegrity, kUnknownAttribute, kBadRequest and kRoleConflict a response was written and must
// be sent back to the request's source; with the others nothing was written and the datagram is
// dropped.
enum class IceResult : uint8_t {
  kResponded,          // a valid check: success response written, the pair is validated
  kSelectedPair,       // a valid check with USE-CANDIDATE on another pair than the selected one
                       // (or the first): this pair is now selected; success response written
  kBadMessage,         // not a well-formed STUN message (dropped)
  kNotBindingRequest,  // STUN, but an indication, a response or another method (dropped)
  kBadFingerprint,     // FINGERPRINT missing or wrong (dropped, RFC 8489 section 7.3)
  kNoCredentials,      // USERNAME or MESSAGE-INTEGRITY missing: 400 without integrity
  kBadUsername,        // USERNAME is not "<local ufrag>:<remote ufrag>": 401 without integrity
  kBadIntegrity,       // MESSAGE-INTEGRITY does not match the local password: 401
  kUnknownAttribute,   // authenticated, but carries unknown comprehension-required attributes:
                       // 420 with UNKNOWN-ATTRIBUTES (RFC 8489 section 6.3)
  kBadRequest,         // authenticated, but no PRIORITY or no ICE-CONTROLLING/CONTROLLED: 400
  kRoleConflict,       // the peer says it is controlled: 487 (a lite agent is always
                       // controlled, RFC 8445 sections 6.1.1 and 7.3.1.1)
  kBadAddress,         // `from` is neither IPv4 nor IPv6 (dropped)
  kNoSpace,            // `response_out` is smaller than kIceMaxResponseBytes needed (dropped)
};

inline constexpr size_t kIceResultCount = static_cast<size_t>(IceResult::kNoSpace) + 1;

// A short stable name for metrics labels ("responded", "bad_integrity", ...).
const char* IceResultName(IceResult result);

// A response buffer of this size always suffices.
inline constexpr size_t kIceMaxResponseBytes = 128;
// Validated pairs remembered per agent. A browser checks one pair per local candidate (a few
// interfaces, IPv4 and IPv6, relays); when the table is full the least recently checked pair
// that is not selected is forgotten.
inline constexpr size_t kIceMaxCandidatePairs = 16;

class IceLiteAgent {
 public:
  // INVALID_ARGUMENT when either side's credentials break RFC 8839 (ValidateIceCredentials) or
  // the consent timeout is not positive; INTERNAL when libcrypto cannot key HMAC-SHA1.
  static absl::StatusOr<std::unique_ptr<IceLiteAgent>> Create(const IceLiteConfig& config);
  IceLiteAgent(const IceLiteAgent&) = delete;
  IceLiteAgent& operator=(const IceLiteAgent&) = delete;

  const IceCredentials& local_credentials() const { return local_; }
  const IceCredentials& remote_credentials() const { return remote_; }

  // Handles one datagram that arrived from `from` at `now_us` (the injected monotonic clock).
  // Checks, in RFC order: STUN syntax, Binding request, FINGERPRINT, USERNAME and
  // MESSAGE-INTEGRITY (RFC 8489 section 9.1.3), unknown comprehension-required attributes,
  // PRIORITY and role (RFC 8445 section 7.3). Writes the response into `response_out` and its
  // length into `*response_len` (0 when nothing is to be sent). Only a valid check changes
  // state: it validates the pair `from`, refreshes its consent, and selects it when it carries
  // USE-CANDIDATE (a later nomination of another pair switches: browsers do that on a network
  // change). `request` and `response_out` must not overlap.
  IceResult HandleBindingRequest(std::span<const uint8_t> request, const net::SocketAddress& from,
                                 int64_t now_us, std::span<uint8_t> response_out,
                                 size_t* response_len);

  // Whether a valid check has come from `remote` (and the pair was not forgotten since).
  bool IsValidated(const net::SocketAddress& remote) const;
  // The selected pair's remote address (where media goes), or null before any nomination. Valid
  // until the next HandleBindingRequest.
  const net::SocketAddress* selected() const;
  // RFC 7675: true once a pair is selected and no valid check arrived on it for the consent
  // timeout. Before any nomination there is no consent to lose: false (the transport's own
  // connection timeout covers a peer that never nominates).
  bool ConsentExpired(int64_t now_us) const;
  // When the last valid check on the selected pair arrived; nullopt before any nomination.
  std::optional<int64_t> last_check_us() const;
  size_t validated_pair_count() const { return pair_count_; }

 private:
  struct Pair {
    net::SocketAddress remote;
    int64_t last_check_us = 0;
    uint32_t priority = 0;  // PRIORITY of the last check (the browser's peer-reflexive priority)
  };

  IceLiteAgent(const IceLiteConfig& config, StunIntegrityKey local_key);
  // Index of the pair of `remote`, or -1.
  int FindPair(const net::SocketAddress& remote) const;
  // The pair of `remote`, added (forgetting the least recently checked unselected pair when the
  // table is full) if it is new.
  int FindOrAddPair(const net::SocketAddress& remote);
  bool OnOwningThread();

  const IceCredentials local_;
  const IceCredentials remote_;
  const std::string expected_username_;  // "<local ufrag>:<remote ufrag>"
  const int64_t consent_timeout_us_;
  StunIntegrityKey local_key_;  // HMAC-SHA1 keyed with local_.pwd
  std::array<Pair, kIceMaxCandidatePairs> pairs_;
  size_t pair_count_ = 0;
  int selected_ = -1;  // index into pairs_, -1 before any nomination
  std::thread::id owning_thread_;
};

}  // namespace chorus::ice
