#pragma once
// A published configuration generation: the Config plus everything derived from it that
// workers read. Immutable after build; shared by std::shared_ptr<const Snapshot>, so the old
// one is freed when the last request or tunnel that started on it ends.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fulcrum/balancer/pool_balancer.h"
#include "fulcrum/config/config.h"
#include "fulcrum/core/connection_slot.h"
#include "fulcrum/metrics/stats.h"

namespace fulcrum::core {

struct PoolRuntime {
  balancer::PoolBalancerConstSharedPtr balancer;
  metrics::PoolStatsSharedPtr stats;
  std::vector<metrics::BackendStatsSharedPtr> backend_stats;  // by member index
  const upstream::Pool& pool() const { return *balancer->pool; }
  const config::PoolConfig& config() const { return *balancer->pool->config; }
};

struct RouteRuntime {
  const config::Route* route = nullptr;
  uint32_t pool = 0;  // index into Snapshot::pools
  metrics::RouteStatsSharedPtr stats;
};

struct ListenerRuntime {
  uint32_t index = 0;  // position in Snapshot::listeners
  const config::ListenerConfig* config = nullptr;
  std::vector<RouteRuntime> routes;
  RouteRuntime default_route;  // the listener's own `pool`
  metrics::ListenerStatsSharedPtr stats;
  // Open connections across all workers, kept across reloads by listener address.
  ConnectionCounter active_connections;
};

struct Snapshot {
  config::ConfigConstSharedPtr config;
  uint64_t generation = 0;
  std::chrono::system_clock::time_point loaded_at;
  std::vector<PoolRuntime> pools;          // same order as config->pools
  std::vector<ListenerRuntime> listeners;  // same order as config->listeners

  const PoolRuntime* findPool(const std::string& name) const;
  const ListenerRuntime* findListener(const std::string& name) const;
};

using SnapshotConstSharedPtr = std::shared_ptr<const Snapshot>;

}  // namespace fulcrum::core
