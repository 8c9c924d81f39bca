#include "pipeline/net/event_loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace chorus::net {
namespace {

// epoll user data for the loop's own descriptors; sockets carry their Handler pointer.
constexpr uint64_t kWakeTag = 1;
constexpr uint64_t kTimerTag = 2;

}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(size_t inbox_capacity) {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd < 0 || wake_fd < 0 || timer_fd < 0) {
    std::string reason = std::strerror(errno);
    for (int fd : {epoll_fd, wake_fd, timer_fd}) {
      if (fd >= 0) close(fd);
    }
    return absl::InternalError("event loop: " + reason);
  }
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.u64 = kWakeTag;
  epoll_event timer{};
  timer.events = EPOLLIN;
  timer.data.u64 = kTimerTag;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &wake);
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, timer_fd, &timer);
  return std::unique_ptr<EventLoop>(
      new EventLoop(epoll_fd, wake_fd, timer_fd, inbox_capacity == 0 ? 1 : inbox_capacity));
}

EventLoop::EventLoop(int epoll_fd, int wake_fd, int timer_fd, size_t inbox_capacity)
    : epoll_fd_(epoll_fd),
      wake_fd_(wake_fd),
      timer_fd_(timer_fd),
      inbox_capacity_(inbox_capacity) {}

EventLoop::~EventLoop() {
  close(timer_fd_);
  close(wake_fd_);
  close(epoll_fd_);
}

bool EventLoop::Add(int fd, Handler* handler) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return false;
  handlers_[fd] = handler;
  return true;
}

void EventLoop::Remove(int fd, Handler* handler) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
  std::erase(ready_, handler);
  if (dispatching_) removed_in_batch_.push_back(handler);
}

void EventLoop::MarkReady(int fd) {
  auto it = handlers_.find(fd);
  if (it != handlers_.end()) ready_.push_back(it->second);
}

bool EventLoop::StartTicker(int64_t period_us, TickFunction tick) {
  if (period_us <= 0) return false;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  itimerspec spec{};
  spec.it_interval.tv_sec = period_us / 1'000'000;
  spec.it_interval.tv_nsec = (period_us % 1'000'000) * 1000;
  int64_t first_ns = int64_t{now.tv_nsec} + period_us * 1000;
  spec.it_value.tv_sec = now.tv_sec + first_ns / 1'000'000'000;
  spec.it_value.tv_nsec = first_ns % 1'000'000'000;
  if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) return false;
  tick_ = std::move(tick);
  ticking_ = true;
  return true;
}

void EventLoop::StopTicker() {
  itimerspec off{};
  timerfd_settime(timer_fd_, 0, &off, nullptr);
  ticking_ = false;
  uint64_t drained;
  while (read(timer_fd_, &drained, sizeof(drained)) > 0) {
  }
}

bool EventLoop::Post(Command command) {
  {
    absl::MutexLock lock(&inbox_mutex_);
    if (inbox_.size() >= inbox_capacity_) return false;
    inbox_.push_back(std::move(command));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  return true;
}

void EventLoop::Stop() {
  {
    absl::MutexLock lock(&inbox_mutex_);
    stop_requested_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void EventLoop::DrainInbox() {
  uint64_t counter;
  while (read(wake_fd_, &counter, sizeof(counter)) > 0) {
  }
  for (;;) {
    Command command;
    {
      absl::MutexLock lock(&inbox_mutex_);
      if (inbox_.empty()) {
        if (stop_requested_) stopping_ = true;
        return;
      }
      command = std::move(inbox_.front());
      inbox_.pop_front();
    }
    command();
  }
}

void EventLoop::OnTimer() {
  uint64_t periods = 0;
  if (read(timer_fd_, &periods, sizeof(periods)) != sizeof(periods) || periods == 0) return;
  if (ticking_ && tick_) tick_(periods);
}

void EventLoop::RunOnce(int timeout_ms) {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  // Handlers marked ready are due now: look at the descriptors without waiting.
  int n = epoll_wait(epoll_fd_, events, kMaxEvents, ready_.empty() ? timeout_ms : 0);
  dispatching_ = true;
  removed_in_batch_.clear();
  for (int i = 0; i < n; ++i) {
    if (events[i].data.u64 == kWakeTag) {
      DrainInbox();
    } else if (events[i].data.u64 == kTimerTag) {
      OnTimer();
    } else {
      auto* handler = static_cast<Handler*>(events[i].data.ptr);
      bool removed = false;
      for (Handler* gone : removed_in_batch_) removed |= gone == handler;
      if (!removed) handler->OnReadable();
    }
  }
  // What the batch marked ready (and what those mark in turn), each in the order marked.
  while (!ready_.empty()) {
    running_.swap(ready_);
    for (Handler* handler : running_) {
      bool removed = false;
      for (Handler* gone : removed_in_batch_) removed |= gone == handler;
      if (!removed) handler->OnReadable();
    }
    running_.clear();
  }
  dispatching_ = false;
}

void EventLoop::Run() {
  while (!stopping_) RunOnce(-1);
}

}  // namespace chorus::net
