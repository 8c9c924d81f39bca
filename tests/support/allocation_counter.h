#pragma once

// Counts heap allocations made through operator new on the calling thread while a
// ScopedAllocationCounter lives: the tests that prove the media hot path allocates nothing link
// allocation_counter.cc, which replaces the global operator new.
namespace chorus::testing {

class ScopedAllocationCounter {
 public:
  ScopedAllocationCounter();
  ~ScopedAllocationCounter();
  int count() const;
};

}  // namespace chorus::testing
