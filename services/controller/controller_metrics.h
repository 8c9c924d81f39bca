#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chorus/v1/rooms.pb.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace chorus::controller {

// How many rooms and participants there are, by state, when metrics are collected.
struct RoomCounts {
  int64_t rooms_open = 0;    // nobody in them
  int64_t rooms_active = 0;  // somebody in them
  int64_t participants_waiting = 0;
  int64_t participants_admitted = 0;
};

// The controller's metrics (docs/metrics.md, "Rooms and joins (controller)"): joins, refused
// joins by reason, time in the waiting room, rooms closed by reason, and rooms and participants
// by state. Labels are enum names written in the code (roles, reject reasons, states, close
// reasons), never names, ids, tokens or display names: rooms and participants are counted, never
// labelled.
//
// The counters are prometheus-cpp atomics, updated by RoomsService under its own mutex; the
// gauges are counted at collection through the source RoomsService sets. Thread-safe.
class ControllerMetrics final : public prometheus::Collectable {
 public:
  ControllerMetrics();

  // Why a room ended.
  enum class CloseReason { kClosed, kIdle, kExpired, kOneTimeEnded };
  // Its name in logs and labels: closed, idle, expired, one_time_ended.
  static const char* CloseReasonName(CloseReason reason);

  void CountJoin(chorus::v1::Role role);
  // A refused join, as reported to the room's watchers (a JoinRejected event).
  void CountRefusal(chorus::v1::RejectReason reason);
  // A join with an invite token that matches no invite of the room (no event: nobody's invite).
  void CountUnknownInvite();
  // A participant admitted from the waiting room, `waited` after joining.
  void ObserveLobbyWait(absl::Duration waited);
  void CountRoomClosed(CloseReason reason);

  // What Collect() reads the gauges from; empty (before RoomsService sets it, or once it is gone)
  // leaves them as last counted. Collect() calls `source` under this class's mutex, so that
  // setting an empty one waits for a count under way: `source` must never call back into this
  // class's SetCountSource or Collect.
  void SetCountSource(std::function<RoomCounts()> source);

  // The families of this registry, with the gauges counted now.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  // Families and metrics are owned by registry_.
  prometheus::Family<prometheus::Counter>* joins_;
  prometheus::Family<prometheus::Counter>* refusals_;
  prometheus::Histogram* lobby_wait_;
  prometheus::Family<prometheus::Counter>* rooms_closed_;
  prometheus::Gauge* rooms_open_;
  prometheus::Gauge* rooms_active_;
  prometheus::Gauge* participants_waiting_;
  prometheus::Gauge* participants_admitted_;
  mutable absl::Mutex mutex_;
  std::function<RoomCounts()> source_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace chorus::controller
