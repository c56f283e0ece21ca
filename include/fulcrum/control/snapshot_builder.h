#pragma once
// Builds a Snapshot from a validated Config, reusing the runtime state (backend health and
// history, sticky tables, metric cells, connection counts) of everything whose identity is
// unchanged. Control thread only.

#include <map>
#include <memory>
#include <string>

#include "fulcrum/core/snapshot.h"
#include "fulcrum/metrics/stats.h"
#include "fulcrum/sticky/table_registry.h"
#include "fulcrum/upstream/pool.h"

namespace fulcrum::control {

class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(metrics::StatsRegistry& stats) : stats_(stats) {}

  core::SnapshotConstSharedPtr build(config::ConfigConstSharedPtr config, uint64_t generation);
  // Drops source-IP sticky entries past their ttl (the data path only drops those it meets).
  size_t expireSticky(int64_t now_ms) { return tables_.expireAll(now_ms); }

 private:
  metrics::StatsRegistry& stats_;
  upstream::BackendRegistry backends_;
  sticky::TableRegistry tables_;
  std::map<std::string, core::ConnectionCounter> connection_counters_;  // by listener address
};

}  // namespace fulcrum::control
