#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace chorus::net {

// One media worker's event loop (DESIGN.md, The media engine): epoll over the worker's UDP
// sockets, an eventfd that wakes it for posted commands, and a timerfd ticking on absolute
// CLOCK_MONOTONIC deadlines (so ticks do not drift, and a late tick is seen as an overrun).
//
// Threads: Run() and everything it calls (handlers, the tick, commands) run on the loop's own
// thread. Post() and Stop() may be called from any thread. Add/Remove/StartTicker/StopTicker
// only on the loop thread (or before Run).
class EventLoop {
 public:
  // Called when a registered descriptor is readable. Must drain it (non-blocking reads).
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnReadable() = 0;
  };
  // Called once per tick with the number of periods elapsed since the last call (1 normally;
  // more when the loop fell behind: the caller counts the difference as overruns).
  using TickFunction = std::function<void(uint64_t periods)>;
  using Command = std::function<void()>;

  // `inbox_capacity` bounds the commands waiting for the loop; Post fails beyond it.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(size_t inbox_capacity = 1024);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // `handler` must outlive its registration.
  bool Add(int fd, Handler* handler);
  // Stops watching `fd`; `handler` (the one given to Add) may be destroyed right after.
  void Remove(int fd, Handler* handler);
  // Loop thread only: the handler watching `fd` is called once more after the current batch of
  // events (or in the next round), as if `fd` had become readable, without a system call. For a
  // producer on the loop's own thread (a WebRTC transport handing audio to its endpoint's queue),
  // which so wakes its consumer for nothing. Nothing happens for an `fd` not added; a handler
  // removed before then is not called.
  void MarkReady(int fd);

  // Ticks every `period_us`, the first one period from now. Replaces a running ticker.
  bool StartTicker(int64_t period_us, TickFunction tick);
  void StopTicker();
  bool ticking() const { return ticking_; }

  // Queues `command` to run on the loop thread; false when the inbox is full (the caller answers
  // RESOURCE_EXHAUSTED or retries). Thread-safe.
  bool Post(Command command);

  // Runs until Stop(). Then returns, having run every command posted before Stop.
  void Run();
  // Thread-safe.
  void Stop();

  // One round of waiting (at most `timeout_ms`, -1 for ever) and dispatching; for tests.
  void RunOnce(int timeout_ms);

 private:
  EventLoop(int epoll_fd, int wake_fd, int timer_fd, size_t inbox_capacity);
  void DrainInbox();
  void OnTimer();

  const int epoll_fd_;
  const int wake_fd_;
  const int timer_fd_;
  const size_t inbox_capacity_;
  TickFunction tick_;
  bool ticking_ = false;
  bool stopping_ = false;  // loop thread only
  // Handlers removed while a batch of events is being dispatched: their later events in the same
  // batch are skipped, so a handler may be destroyed right after Remove. Loop thread only.
  std::vector<Handler*> removed_in_batch_;
  bool dispatching_ = false;
  // Loop thread only: every registered handler by descriptor (for MarkReady), and the handlers
  // marked ready (called after the batch; `running_` is the list being called).
  absl::flat_hash_map<int, Handler*> handlers_;
  std::vector<Handler*> ready_;
  std::vector<Handler*> running_;

  absl::Mutex inbox_mutex_;
  std::deque<Command> inbox_ ABSL_GUARDED_BY(inbox_mutex_);
  bool stop_requested_ ABSL_GUARDED_BY(inbox_mutex_) = false;
};

}  // namespace chorus::net
