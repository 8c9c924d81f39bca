#include "services/controller/controller_metrics.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

namespace chorus::controller {
namespace {

namespace v1 = chorus::v1;

// An enum value's name without the prefix every value of its enum shares ("REJECT_REASON_").
std::string Suffix(const std::string& name, std::string_view prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

}  // namespace

ControllerMetrics::ControllerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  joins_ = &prometheus::BuildCounter()
                .Name("chorus_joins_total")
                .Help("Participants who joined a room (waiting in its lobby or admitted), by role")
                .Register(*registry_);
  refusals_ = &prometheus::BuildCounter()
                   .Name("chorus_join_refusals_total")
                   .Help("Joins refused, by reason (the JoinRejected reasons, and UNKNOWN_INVITE)")
                   .Register(*registry_);
  // From seconds (a host already there) to an hour (a clinician running late).
  lobby_wait_ = &prometheus::BuildHistogram()
                     .Name("chorus_lobby_wait_seconds")
                     .Help("Time from joining to admission, for participants who waited")
                     .Register(*registry_)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 5, 15, 30, 60, 120, 300,
                                                                      600, 900, 1800, 3600});
  rooms_closed_ = &prometheus::BuildCounter()
                       .Name("chorus_rooms_closed_total")
                       .Help("Rooms that ended, by reason (closed, idle, expired, one_time_ended)")
                       .Register(*registry_);
  auto& rooms = prometheus::BuildGauge()
                    .Name("chorus_rooms")
                    .Help("Rooms by state: open (nobody in them) or active")
                    .Register(*registry_);
  rooms_open_ = &rooms.Add({{"state", "open"}});
  rooms_active_ = &rooms.Add({{"state", "active"}});
  auto& participants = prometheus::BuildGauge()
                           .Name("chorus_participants")
                           .Help("Participants by state: waiting (in a lobby) or admitted")
                           .Register(*registry_);
  participants_waiting_ = &participants.Add({{"state", "waiting"}});
  participants_admitted_ = &participants.Add({{"state", "admitted"}});
  // Every value appears from the start, at 0, so that rates and alerts see the series.
  for (int role : {v1::ROLE_HOST, v1::ROLE_GUEST, v1::ROLE_INTERPRETER}) {
    joins_->Add({{"role", Suffix(v1::Role_Name(role), "ROLE_")}});
  }
  for (int reason = v1::RejectReason_MIN + 1; reason <= v1::RejectReason_MAX; ++reason) {
    if (v1::RejectReason_IsValid(reason)) {
      refusals_->Add({{"reason", Suffix(v1::RejectReason_Name(reason), "REJECT_REASON_")}});
    }
  }
  refusals_->Add({{"reason", "UNKNOWN_INVITE"}});
  for (CloseReason reason : {CloseReason::kClosed, CloseReason::kIdle, CloseReason::kExpired,
                             CloseReason::kOneTimeEnded}) {
    rooms_closed_->Add({{"reason", CloseReasonName(reason)}});
  }
}

void ControllerMetrics::CountJoin(v1::Role role) {
  joins_->Add({{"role", Suffix(v1::Role_Name(role), "ROLE_")}}).Increment();
}

void ControllerMetrics::CountRefusal(v1::RejectReason reason) {
  // A value this binary does not know would have no name: it cannot come from the code.
  const std::string name = v1::RejectReason_IsValid(reason) ? v1::RejectReason_Name(reason) : "";
  refusals_->Add({{"reason", Suffix(name.empty() ? "UNSPECIFIED" : name, "REJECT_REASON_")}})
      .Increment();
}

void ControllerMetrics::CountUnknownInvite() {
  refusals_->Add({{"reason", "UNKNOWN_INVITE"}}).Increment();
}

void ControllerMetrics::ObserveLobbyWait(absl::Duration waited) {
  lobby_wait_->Observe(absl::ToDoubleSeconds(std::max(waited, absl::ZeroDuration())));
}

const char* ControllerMetrics::CloseReasonName(CloseReason reason) {
  switch (reason) {
    case CloseReason::kClosed:
      return "closed";
    case CloseReason::kIdle:
      return "idle";
    case CloseReason::kExpired:
      return "expired";
    case CloseReason::kOneTimeEnded:
      return "one_time_ended";
  }
  return "closed";
}

void ControllerMetrics::CountRoomClosed(CloseReason reason) {
  rooms_closed_->Add({{"reason", CloseReasonName(reason)}}).Increment();
}

void ControllerMetrics::SetCountSource(std::function<RoomCounts()> source) {
  absl::MutexLock lock(&mutex_);
  source_ = std::move(source);
}

std::vector<prometheus::MetricFamily> ControllerMetrics::Collect() const {
  {
    // Held while counting, so that SetCountSource(nullptr) waits for a count under way.
    absl::MutexLock lock(&mutex_);
    if (source_) {
      const RoomCounts counts = source_();
      rooms_open_->Set(static_cast<double>(counts.rooms_open));
      rooms_active_->Set(static_cast<double>(counts.rooms_active));
      participants_waiting_->Set(static_cast<double>(counts.participants_waiting));
      participants_admitted_->Set(static_cast<double>(counts.participants_admitted));
    }
  }
  return registry_->Collect();
}

}  // namespace chorus::controller
