#include "fulcrum/control/snapshot_builder.h"

namespace fulcrum::control {

core::SnapshotConstSharedPtr SnapshotBuilder::build(config::ConfigConstSharedPtr config,
                                                    uint64_t generation) {
  auto snap = std::make_shared<core::Snapshot>();
  snap->config = config;
  snap->generation = generation;
  snap->loaded_at = std::chrono::system_clock::now();

  snap->pools.reserve(config->pools.size());
  for (uint32_t i = 0; i < config->pools.size(); ++i) {
    const config::PoolConfig& pc = config->pools[i];
    core::PoolRuntime pr;
    pr.balancer = balancer::buildPoolBalancer(pc, i, backends_, tables_);
    pr.stats = stats_.pool(pc.name);
    for (const auto& b : pc.backends)
      pr.backend_stats.push_back(stats_.backend(pc.name, b.address.text));
    snap->pools.push_back(std::move(pr));
  }
  auto pool_index = [&](const std::string& name) -> uint32_t {
    for (uint32_t i = 0; i < config->pools.size(); ++i)
      if (config->pools[i].name == name) return i;
    return 0;  // unreachable: the loader checked every reference
  };

  std::map<std::string, core::ConnectionCounter> counters;
  snap->listeners.reserve(config->listeners.size());
  for (uint32_t i = 0; i < config->listeners.size(); ++i) {
    const config::ListenerConfig& lc = config->listeners[i];
    core::ListenerRuntime lr;
    lr.index = i;
    lr.config = &lc;
    lr.stats = stats_.listener(lc.name);
    for (const auto& route : lc.routes) {
      core::RouteRuntime rr;
      rr.route = &route;
      rr.pool = pool_index(route.pool);
      rr.stats = stats_.route(lc.name, route.pool);
      lr.routes.push_back(std::move(rr));
    }
    lr.default_route.pool = pool_index(lc.pool);
    // Only http listeners count requests; a tcp listener would show an empty histogram.
    if (lc.protocol == config::Protocol::kHttp)
      lr.default_route.stats = stats_.route(lc.name, lc.pool);
    auto& counter = connection_counters_[lc.listen.socketKey()];
    if (!counter) counter = std::make_shared<std::atomic<int64_t>>(0);
    counters[lc.listen.socketKey()] = counter;
    lr.active_connections = counter;
    snap->listeners.push_back(std::move(lr));
  }
  // Forget what the new config no longer names (sessions still hold their own references).
  connection_counters_.swap(counters);
  backends_.retainOnly(*config);
  tables_.retainOnly(*config);
  return snap;
}

}  // namespace fulcrum::control
