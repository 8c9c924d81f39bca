#include "services/common/lifecycle.h"

namespace chorus::common {

bool Lifecycle::ready() const {
  absl::MutexLock lock(&mutex_);
  return ready_;
}

bool Lifecycle::draining() const {
  absl::MutexLock lock(&mutex_);
  return draining_;
}

void Lifecycle::SetReady(bool ready) {
  {
    absl::MutexLock lock(&mutex_);
    if (draining_ || ready_ == ready) return;
    ready_ = ready;
  }
  Notify(ready, false);
}

void Lifecycle::BeginDrain() {
  {
    absl::MutexLock lock(&mutex_);
    if (draining_) return;
    draining_ = true;
    ready_ = false;
  }
  Notify(false, true);
}

void Lifecycle::AddObserver(Observer observer) {
  bool ready, draining;
  {
    absl::MutexLock lock(&mutex_);
    observers_.push_back(observer);
    ready = ready_;
    draining = draining_;
  }
  observer(ready, draining);
}

void Lifecycle::Notify(bool ready, bool draining) {
  std::vector<Observer> observers;
  {
    absl::MutexLock lock(&mutex_);
    observers = observers_;
  }
  for (const Observer& observer : observers) observer(ready, draining);
}

}  // namespace chorus::common
