#include "pipeline/engine/media_worker.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/synchronization/notification.h"

namespace chorus::engine {
namespace {

int64_t ClockUs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// Load is sampled every 250 ms and smoothed with this weight (about a 5 s time constant).
constexpr int64_t kLoadSampleUs = 250'000;
constexpr double kLoadSmoothing = 0.05;

}  // namespace

absl::StatusOr<std::unique_ptr<MediaWorker>> MediaWorker::Create(int index, EngineStats* stats,
                                                                 bool start_thread,
                                                                 int64_t period_us,
                                                                 const char* name) {
  auto loop = net::EventLoop::Create(/*inbox_capacity=*/4096);
  if (!loop.ok()) return loop.status();
  std::unique_ptr<MediaWorker> worker(new MediaWorker(index, stats, *std::move(loop), period_us));
  MediaWorker* raw = worker.get();
  if (!start_thread) return worker;
  const std::string thread_name = std::string("chorus-") + name + "-" + std::to_string(index);
  raw->thread_ = std::thread([raw, thread_name] {
    const std::string& name = thread_name;
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    raw->last_sample_wall_us_ = ClockUs(CLOCK_MONOTONIC);
    raw->last_sample_cpu_us_ = ClockUs(CLOCK_THREAD_CPUTIME_ID);
    raw->loop_->Run();
  });
  return worker;
}

MediaWorker::MediaWorker(int index, EngineStats* stats, std::unique_ptr<net::EventLoop> loop,
                         int64_t period_us)
    : index_(index), period_us_(period_us), stats_(stats), loop_(std::move(loop)) {}

MediaWorker::~MediaWorker() {
  loop_->Stop();
  if (thread_.joinable()) thread_.join();
}

absl::Status MediaWorker::Call(std::function<void()> command) {
  if (!thread_.joinable() || thread_.get_id() == std::this_thread::get_id()) {
    command();
    return absl::OkStatus();
  }
  absl::Notification done;
  if (!loop_->Post([&] {
        command();
        done.Notify();
      })) {
    return absl::ResourceExhaustedError("the media worker's command queue is full");
  }
  done.WaitForNotification();
  return absl::OkStatus();
}

void MediaWorker::AddTickListener(TickListener* listener) {
  listeners_.push_back(listener);
  if (!loop_->ticking()) {
    last_sample_wall_us_ = ClockUs(CLOCK_MONOTONIC);
    last_sample_cpu_us_ = ClockUs(CLOCK_THREAD_CPUTIME_ID);
    loop_->StartTicker(period_us_, [this](uint64_t periods) { Tick(periods); });
  }
}

// A worker without sessions stops its timer: an idle node costs nothing.
void MediaWorker::RemoveTickListener(TickListener* listener) {
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
  if (listeners_.empty()) {
    loop_->StopTicker();
    load_.store(0, std::memory_order_relaxed);
  }
}

void MediaWorker::Tick(uint64_t periods) {
  const int64_t start_us = ClockUs(CLOCK_MONOTONIC);
  Bump(stats_->ticks);
  if (periods > 1) Bump(stats_->tick_overruns, periods - 1);
  if (!listeners_.empty()) {
    for (TickListener* listener : listeners_) listener->OnTick(start_us);
    for (TickListener* listener : listeners_) listener->OnTickDone();
    stats_->tick_duration_us.Observe(static_cast<double>(ClockUs(CLOCK_MONOTONIC) - start_us));
  }
  if (start_us - last_sample_wall_us_ >= kLoadSampleUs) {
    const int64_t cpu_us = ClockUs(CLOCK_THREAD_CPUTIME_ID);
    double busy = static_cast<double>(cpu_us - last_sample_cpu_us_) /
                  static_cast<double>(start_us - last_sample_wall_us_);
    busy = std::clamp(busy, 0.0, 1.0);
    double previous = load_.load(std::memory_order_relaxed);
    load_.store(previous + kLoadSmoothing * (busy - previous), std::memory_order_relaxed);
    last_sample_wall_us_ = start_us;
    last_sample_cpu_us_ = cpu_us;
  }
}

}  // namespace chorus::engine
