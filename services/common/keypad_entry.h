#pragma once

#include <optional>
#include <string>

namespace chorus::common {

// Keys a telephone caller types toward a PIN, wherever they come from (RFC 4733 key presses the
// media node reports, SIP INFO the SIP role receives): digits are kept, at most 32, until '#'
// ends the entry; '*' starts over; any other key is ignored. Never logged.
class KeypadEntry {
 public:
  static constexpr size_t kMaxDigits = 32;

  // The PIN typed, when `key` ends an entry that has digits; nothing otherwise.
  std::optional<std::string> Press(char key) {
    if (key >= '0' && key <= '9') {
      if (typed_.size() < kMaxDigits) typed_.push_back(key);
    } else if (key == '*') {
      typed_.clear();
    } else if (key == '#' && !typed_.empty()) {
      std::string pin;
      pin.swap(typed_);
      return pin;
    }
    return std::nullopt;
  }

 private:
  std::string typed_;
};

}  // namespace chorus::common
