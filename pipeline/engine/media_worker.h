#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/engine/engine_stats.h"
#include "pipeline/net/event_loop.h"

namespace chorus::engine {

// Something a media worker ticks every 20 ms (a session).
class TickListener {
 public:
  virtual ~TickListener() = default;
  // Called on the worker thread at each 20 ms deadline. `now_us` is CLOCK_MONOTONIC.
  virtual void OnTick(int64_t now_us) = 0;
  // Called after every listener's OnTick of the same tick (a WebRTC port sends what the tick
  // queued in one batch).
  virtual void OnTickDone() {}
};

// One media worker (DESIGN.md, The media engine): a thread running an epoll event loop over the
// UDP sockets of the sessions it owns, a timerfd ticking every 20 ms on absolute deadlines, and
// a bounded inbox of commands from the control plane. Sessions stay on one worker for their
// whole life, so nothing a session owns needs a lock.
//
// Threads: Call() and load() from any thread; AddTickListener/RemoveTickListener/loop() only on
// the worker thread (inside a Call).
class MediaWorker {
 public:
  static constexpr int64_t kTickPeriodUs = 20'000;

  // With `start_thread` false the loop never runs on a thread of its own: the caller's thread is
  // the worker thread (benchmarks drive a session tick by tick this way).
  // `period_us`: the tick (20 ms for audio; video workers tick at their frame rate).
  static absl::StatusOr<std::unique_ptr<MediaWorker>> Create(int index, EngineStats* stats,
                                                             bool start_thread = true,
                                                             int64_t period_us = kTickPeriodUs,
                                                             const char* name = "media");
  // Stops the thread after running the commands already posted.
  ~MediaWorker();
  MediaWorker(const MediaWorker&) = delete;
  MediaWorker& operator=(const MediaWorker&) = delete;

  // Runs `command` on the worker thread and waits for it. RESOURCE_EXHAUSTED when the inbox is
  // full (the worker is overwhelmed); the command then does not run.
  absl::Status Call(std::function<void()> command);

  int index() const { return index_; }
  // Share of real time the worker thread spent on the CPU, averaged over about 5 s (0 to 1).
  double load() const { return load_.load(std::memory_order_relaxed); }
  // Sessions placed on this worker (kept by the engine on the control thread, for placement).
  std::atomic<int>& session_count() { return session_count_; }

  // Worker thread only.
  net::EventLoop& loop() { return *loop_; }
  void AddTickListener(TickListener* listener);
  void RemoveTickListener(TickListener* listener);

 private:
  MediaWorker(int index, EngineStats* stats, std::unique_ptr<net::EventLoop> loop,
              int64_t period_us);
  void Tick(uint64_t periods);

  const int index_;
  const int64_t period_us_;
  EngineStats* const stats_;  // not owned; outlives the worker
  std::unique_ptr<net::EventLoop> loop_;
  std::vector<TickListener*> listeners_;  // worker thread only
  std::thread thread_;
  std::atomic<double> load_{0};
  std::atomic<int> session_count_{0};
  // Load accounting, worker thread only.
  int64_t last_sample_wall_us_ = 0;
  int64_t last_sample_cpu_us_ = 0;
};

}  // namespace chorus::engine
