#include "fulcrum/upstream/pool.h"

#include <set>

namespace fulcrum::upstream {

BackendStateSharedPtr BackendRegistry::get(const std::string& pool, const std::string& address) {
  auto& slot = states_[{pool, address}];
  if (!slot) slot = std::make_shared<BackendState>();
  return slot;
}

void BackendRegistry::retainOnly(const config::Config& config) {
  std::set<std::pair<std::string, std::string>> keep;
  for (const auto& pool : config.pools) {
    for (const auto& backend : pool.backends) keep.emplace(pool.name, backend.address.text);
  }
  for (auto it = states_.begin(); it != states_.end();) {
    if (keep.count(it->first) == 0) {
      it = states_.erase(it);
    } else {
      ++it;
    }
  }
}

PoolConstSharedPtr buildPool(const config::PoolConfig& config, uint32_t id,
                             BackendRegistry& registry) {
  auto pool = std::make_shared<Pool>();
  pool->id = id;
  pool->config = &config;
  pool->members.reserve(config.backends.size());
  for (const auto& backend : config.backends) {
    PoolMember member;
    member.index = static_cast<uint32_t>(pool->members.size());
    member.config = &backend;
    member.state = registry.get(config.name, backend.address.text);
    member.weight = backend.weight;
    member.backup = backend.backup;
    member.max_connections = backend.max_connections;
    if (member.weight > 0)
      (member.backup ? pool->backups : pool->primaries).push_back(member.index);
    pool->members.push_back(std::move(member));
  }
  return pool;
}

}  // namespace fulcrum::upstream
