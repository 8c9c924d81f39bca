#pragma once

#include <cstdint>

namespace chorus::testing_support {

// Counts calls of the global operator new (replaced in allocation_counter.cc, linked into the
// test binary) between Start() and Stop(). Single-threaded use.
class AllocationCounter {
 public:
  void Start();
  void Stop();
  int64_t count() const { return count_; }

 private:
  int64_t count_ = 0;
};

}  // namespace chorus::testing_support
