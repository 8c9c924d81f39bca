#pragma once

#include <memory>

#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "services/common/server_config.h"

namespace chorus::common {

// The metrics every chorusd process exports, and the registry the other parts of the process add
// their families to. Labels never carry personal data: no names, PINs, tokens, addresses of
// participants; rooms are not labels either (unbounded), they are counted.
// Thread-safe (prometheus-cpp metrics are atomic).
class ServerMetrics {
 public:
  explicit ServerMetrics(Role role);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void SetReady(bool ready);
  void SetDraining(bool draining);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* ready_;     // owned by registry_
  prometheus::Gauge* draining_;  // owned by registry_
};

}  // namespace chorus::common
