#pragma once
// The Prometheus view of Fulcrum's stats (CONFIG.md "Metrics"). Workers only ever write their
// own cells; this sums them at scrape time on the control thread, so a request costs no lock
// and no shared atomic.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fulcrum/metrics/stats.h"

namespace fulcrum::core {
struct Snapshot;
}  // namespace fulcrum::core

namespace fulcrum::metrics {

// Every metric family, in the order of CONFIG.md's table. Counters and histograms come from
// `stats`; backend gauges (up, active connections) and sticky table sizes from `snapshot`
// (may be null: those families are then empty). Control thread only.
std::vector<prometheus::MetricFamily> collectMetrics(const StatsRegistry& stats,
                                                     const core::Snapshot* snapshot);

// The whole exposition, text format 0.0.4 (what GET /metrics answers).
std::string renderMetrics(const StatsRegistry& stats, const core::Snapshot* snapshot);

// Adapter for a prometheus::Registry / Exposer. Control thread only: Collect() reads the
// registry's maps, which only the control thread mutates.
class StatsCollector : public prometheus::Collectable {
 public:
  using SnapshotSource = std::function<std::shared_ptr<const core::Snapshot>()>;
  StatsCollector(const StatsRegistry& stats, SnapshotSource snapshot)
      : stats_(stats), snapshot_(std::move(snapshot)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const StatsRegistry& stats_;
  SnapshotSource snapshot_;
};

}  // namespace fulcrum::metrics
