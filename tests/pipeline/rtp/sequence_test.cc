#include "pipeline/rtp/sequence.h"

#include "gtest/gtest.h"

namespace chorus::rtp {
namespace {

TEST(SequenceUnwrapperTest, CountsAcrossWrapAround) {
  SequenceUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Unwrap(65534), 65534);
  EXPECT_EQ(unwrapper.Unwrap(65535), 65535);
  EXPECT_EQ(unwrapper.Unwrap(0), 65536);
  EXPECT_EQ(unwrapper.Unwrap(1), 65537);
  // Many cycles.
  int64_t value = 0;
  for (int i = 0; i < 3 * 65536; i += 1000) value = unwrapper.Unwrap(static_cast<uint16_t>(i + 2));
  EXPECT_EQ(value, 65536 + 196000 + 2);  // the last i is 196000
}

TEST(SequenceUnwrapperTest, ReorderingAcrossTheWrapStaysInItsCycle) {
  SequenceUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Unwrap(65535), 65535);
  EXPECT_EQ(unwrapper.Unwrap(1), 65537);
  EXPECT_EQ(unwrapper.Unwrap(0), 65536);      // late, after the wrap
  EXPECT_EQ(unwrapper.Unwrap(65534), 65534);  // late, before the wrap
  EXPECT_EQ(unwrapper.highest(), 65537);
  EXPECT_EQ(unwrapper.Peek(2), 65538);
  EXPECT_EQ(unwrapper.highest(), 65537);  // Peek remembers nothing
}

TEST(SequenceUnwrapperTest, OlderPacketAtTheStartGoesNegative) {
  SequenceUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Unwrap(0), 0);
  EXPECT_EQ(unwrapper.Unwrap(65535), -1);
  EXPECT_EQ(unwrapper.Unwrap(1), 1);
  unwrapper.Reset();
  EXPECT_FALSE(unwrapper.started());
  EXPECT_EQ(unwrapper.Unwrap(500), 500);
}

TEST(TimestampUnwrapperTest, CountsAcrossWrapAroundAndReordering) {
  TimestampUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Unwrap(0xffffff00u), 0xffffff00ll);
  EXPECT_EQ(unwrapper.Unwrap(0x00000100u), 0x100000100ll);
  EXPECT_EQ(unwrapper.Unwrap(0xfffffff0u), 0xfffffff0ll);  // reordered across the wrap
  EXPECT_EQ(unwrapper.Unwrap(0x80000000u), 0x180000000ll);
  EXPECT_EQ(unwrapper.highest(), 0x180000000ll);
}

}  // namespace
}  // namespace chorus::rtp
