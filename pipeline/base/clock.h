#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

namespace chorus::base {

// Monotonic time in microseconds since an arbitrary origin. Injected wherever behaviour depends on
// time (jitter buffer, speaker hold, rate limits) so tests drive it with a FakeClock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUs() const = 0;
};

// CLOCK_MONOTONIC. Thread-safe, stateless.
class MonotonicClock final : public Clock {
 public:
  int64_t NowUs() const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
  }
};

// The process-wide monotonic clock.
inline const Clock& RealClock() {
  static const MonotonicClock clock;
  return clock;
}

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_us = 1'000'000) : now_us_(start_us) {}
  int64_t NowUs() const override { return now_us_.load(std::memory_order_relaxed); }
  void AdvanceUs(int64_t delta_us) { now_us_.fetch_add(delta_us, std::memory_order_relaxed); }
  void SetUs(int64_t now_us) { now_us_.store(now_us, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_us_;
};

}  // namespace chorus::base
