#include "services/common/keypad_entry.h"

#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace chorus::common {
namespace {

std::optional<std::string> Type(KeypadEntry& entry, const std::string& keys) {
  std::optional<std::string> last;
  for (char key : keys) {
    if (auto pin = entry.Press(key)) last = pin;
  }
  return last;
}

TEST(KeypadEntryTest, HashEndsThePinStarStartsOverOtherKeysAreIgnored) {
  KeypadEntry entry;
  EXPECT_EQ(Type(entry, "2468"), std::nullopt);
  EXPECT_EQ(Type(entry, "0#"), "24680");
  EXPECT_EQ(Type(entry, "#"), std::nullopt);  // nothing typed since
  EXPECT_EQ(Type(entry, "11*13A5#"), "135");  // '*' starts over; 'A' is no digit
  // At most 32 digits are kept.
  EXPECT_EQ(Type(entry, std::string(40, '7') + "#"), std::string(32, '7'));
}

}  // namespace
}  // namespace chorus::common
