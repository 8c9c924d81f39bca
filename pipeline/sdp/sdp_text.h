#pragma once

// Character classes, number parsing and string building for SDP text (RFC 8866 section 9
// grammar), shared by the parser, the negotiation and the answer writer. (Debian's Abseil keeps
// its own string_view type, so absl::StrCat and friends do not take std::string_view.)

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace chorus::sdp::internal {

// RFC 8866 token-char: visible ASCII except the separators  " ( ) , / : ; < = > ? @ [ \ ] .
bool IsTokenChar(char c);
// One or more token-chars.
bool IsToken(std::string_view text);
// token *("/" token), the m= line's proto field.
bool IsProtocol(std::string_view text);
// RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/".
bool IsIceChars(std::string_view text);
// Visible ASCII (0x21-0x7e), at least one character: a=ssrc cname values, extmap URIs.
bool IsVisible(std::string_view text);
// An ICE candidate address: an IPv4 or IPv6 literal or a host name (letters, digits, '.', ':',
// '-', '_'), 1 to 255 characters.
bool IsCandidateAddress(std::string_view text);

// Decimal digits only (no sign, no spaces), value at most `max`. Refuses more than 20 digits, so
// the value never overflows.
std::optional<uint64_t> ParseDecimal(std::string_view text, uint64_t max);

// The fields of `text` separated by runs of spaces (RFC 8866 uses one space; a few writers put
// two). Empty fields are dropped.
std::vector<std::string_view> SplitFields(std::string_view text);

// The value of `key` in a=fmtp parameters "k1=v1;k2=v2" (spaces around entries ignored, keys
// compared without case); nullopt when absent.
std::optional<std::string_view> FmtpParameter(std::string_view parameters, std::string_view key);

// ASCII-only comparison without case, as SDP compares encoding names and hash functions.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool IsHexDigit(char c);
// `text` without leading and trailing spaces and tabs.
std::string_view StripSpaces(std::string_view text);
std::string AsciiLower(std::string_view text);

// Cat("line ", 12, ": ", what): text pieces and integers (as decimal) joined.
inline void AppendPiece(std::string* out, std::string_view piece) { out->append(piece); }
template <typename Int>
requires std::is_integral_v<Int> &&
    (!std::is_same_v<Int, char>)&&(!std::is_same_v<Int, bool>)void AppendPiece(std::string* out,
                                                                               Int value) {
  out->append(std::to_string(value));
}
template <typename... Pieces>
void Append(std::string* out, const Pieces&... pieces) {
  (AppendPiece(out, pieces), ...);
}
template <typename... Pieces>
std::string Cat(const Pieces&... pieces) {
  std::string out;
  Append(&out, pieces...);
  return out;
}

}  // namespace chorus::sdp::internal
