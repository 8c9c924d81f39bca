#include "services/common/lifecycle.h"

#include <vector>

#include "gtest/gtest.h"

namespace chorus::common {
namespace {

TEST(LifecycleTest, DrainingTurnsReadinessOffForGood) {
  Lifecycle lifecycle;
  std::vector<std::pair<bool, bool>> seen;
  lifecycle.AddObserver([&](bool ready, bool draining) { seen.emplace_back(ready, draining); });
  EXPECT_FALSE(lifecycle.ready());
  lifecycle.SetReady(true);
  EXPECT_TRUE(lifecycle.ready());
  lifecycle.BeginDrain();
  EXPECT_FALSE(lifecycle.ready());
  EXPECT_TRUE(lifecycle.draining());
  lifecycle.SetReady(true);  // ignored while draining
  lifecycle.BeginDrain();    // idempotent
  EXPECT_FALSE(lifecycle.ready());
  std::vector<std::pair<bool, bool>> expected = {{false, false}, {true, false}, {false, true}};
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace chorus::common
