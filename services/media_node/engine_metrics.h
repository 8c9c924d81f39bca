#pragma once

#include <vector>

#include "pipeline/engine/engine.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace chorus::media_node {

// Exports the media engine's counters, gauges and histograms (DESIGN.md, Load, metrics and
// scaling) at each scrape, reading the engine's atomics: the media path never touches a
// prometheus object or a lock. Labels are fixed enumerations (direction, reason, codec,
// instruction set), never participants or rooms.
// Thread-safe; `engine` must outlive it.
class EngineMetrics final : public prometheus::Collectable {
 public:
  explicit EngineMetrics(engine::MediaEngine* engine) : engine_(engine) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  engine::MediaEngine* const engine_;  // not owned
};

}  // namespace chorus::media_node
