#pragma once

#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace chorus::common {

// Readiness and draining of one process. Starts not ready; the app marks it ready once every
// listener is up. BeginDrain (on SIGTERM) turns readiness off for good: /readyz answers 503, the
// gRPC health service NOT_SERVING, and the controller and media node accept no new rooms while
// running ones go on. Observers hear of every change.
// Thread-safe.
class Lifecycle {
 public:
  using Observer = std::function<void(bool ready, bool draining)>;

  bool ready() const;
  bool draining() const;

  // Ignored once draining.
  void SetReady(bool ready);
  void BeginDrain();

  // Called at once with the current state, then on every change (outside the lock).
  void AddObserver(Observer observer);

 private:
  void Notify(bool ready, bool draining);

  mutable absl::Mutex mutex_;
  bool ready_ ABSL_GUARDED_BY(mutex_) = false;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<Observer> observers_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace chorus::common
