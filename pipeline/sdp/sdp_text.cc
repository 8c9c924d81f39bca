#include "pipeline/sdp/sdp_text.h"

namespace chorus::sdp::internal {
namespace {

constexpr size_t kMaxDecimalDigits = 20;
constexpr size_t kMaxAddressBytes = 255;

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool IsTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x27) || u == 0x2a || u == 0x2b || u == 0x2d ||
         u == 0x2e || (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5a) ||
         (u >= 0x5e && u <= 0x7e);
}

bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

bool IsProtocol(std::string_view text) {
  size_t start = 0;
  while (true) {
    const size_t slash = text.find('/', start);
    if (!IsToken(text.substr(start, slash == std::string_view::npos ? slash : slash - start))) {
      return false;
    }
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool IsIceChars(std::string_view text) {
  for (char c : text) {
    if (!IsAlnum(c) && c != '+' && c != '/') return false;
  }
  return true;
}

bool IsVisible(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return false;
  }
  return true;
}

bool IsCandidateAddress(std::string_view text) {
  if (text.empty() || text.size() > kMaxAddressBytes) return false;
  for (char c : text) {
    if (!IsAlnum(c) && c != '.' && c != ':' && c != '-' && c != '_') return false;
  }
  return true;
}

std::optional<uint64_t> ParseDecimal(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > kMaxDecimalDigits) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;  // value * 10 + digit > max
    value = value * 10 + digit;
  }
  return value;
}

std::vector<std::string_view> SplitFields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

std::optional<std::string_view> FmtpParameter(std::string_view parameters, std::string_view key) {
  size_t start = 0;
  while (start <= parameters.size()) {
    size_t end = parameters.find(';', start);
    if (end == std::string_view::npos) end = parameters.size();
    const std::string_view entry = StripSpaces(parameters.substr(start, end - start));
    const size_t equals = entry.find('=');
    if (equals != std::string_view::npos &&
        EqualsIgnoreCase(StripSpaces(entry.substr(0, equals)), key)) {
      return StripSpaces(entry.substr(equals + 1));
    }
    start = end + 1;
  }
  return std::nullopt;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string_view StripSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string AsciiLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = Lower(c);
  return lower;
}

}  // namespace chorus::sdp::internal
