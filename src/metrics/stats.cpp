#include "fulcrum/metrics/stats.h"

#include <algorithm>
#include <cmath>

namespace fulcrum::metrics {

void Histogram::observe(double seconds) {
  // NaN and negative durations (a clock step) count as zero rather than poisoning the sum.
  if (!(seconds > 0)) seconds = 0;
  // Buckets are few and sorted: the first bound >= seconds is the bucket (`le` semantics).
  const auto it = std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds);
  buckets[static_cast<size_t>(it - kLatencyBuckets.begin())].add();
  count.add();
  // One absurd sample (a stuck clock) is capped at ~11 days so it cannot wrap the sum.
  const double ns = std::min(seconds * 1e9, 1e15);
  sum_ns.store(sum_ns.load(std::memory_order_relaxed) + static_cast<uint64_t>(ns),
               std::memory_order_relaxed);
}

ListenerStatsSharedPtr StatsRegistry::listener(const std::string& name) {
  auto& slot = listeners_[name];
  if (!slot) {
    slot = std::make_shared<ListenerStats>(workers_);
    slot->listener = name;
  }
  return slot;
}

RouteStatsSharedPtr StatsRegistry::route(const std::string& listener, const std::string& pool) {
  auto& slot = routes_[{listener, pool}];
  if (!slot) {
    slot = std::make_shared<RouteStats>(workers_);
    slot->listener = listener;
    slot->pool = pool;
  }
  return slot;
}

BackendStatsSharedPtr StatsRegistry::backend(const std::string& pool, const std::string& address) {
  auto& slot = backends_[{pool, address}];
  if (!slot) {
    slot = std::make_shared<BackendStats>(workers_);
    slot->pool = pool;
    slot->backend = address;
  }
  return slot;
}

PoolStatsSharedPtr StatsRegistry::pool(const std::string& name) {
  auto& slot = pools_[name];
  if (!slot) {
    slot = std::make_shared<PoolStats>(workers_);
    slot->pool = name;
  }
  return slot;
}

namespace {

template <class Map>
auto values(const Map& map) {
  std::vector<typename Map::mapped_type> out;
  out.reserve(map.size());
  for (const auto& [key, value] : map) out.push_back(value);
  return out;
}

// An entry only the registry still holds belongs to no live snapshot, request or tunnel.
template <class Map>
size_t eraseUnused(Map& map) {
  return std::erase_if(map, [](const auto& kv) { return kv.second.use_count() == 1; });
}

}  // namespace

std::vector<ListenerStatsSharedPtr> StatsRegistry::listeners() const { return values(listeners_); }
std::vector<RouteStatsSharedPtr> StatsRegistry::routes() const { return values(routes_); }
std::vector<BackendStatsSharedPtr> StatsRegistry::backends() const { return values(backends_); }
std::vector<PoolStatsSharedPtr> StatsRegistry::pools() const { return values(pools_); }

size_t StatsRegistry::pruneUnused() {
  return eraseUnused(listeners_) + eraseUnused(routes_) + eraseUnused(backends_) +
         eraseUnused(pools_);
}

}  // namespace fulcrum::metrics
