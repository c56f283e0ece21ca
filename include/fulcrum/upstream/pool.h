#pragma once
// A pool as workers see it: its config and its members with their shared runtime state.
// Immutable after build (the BackendState it points to is atomics only).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fulcrum/config/config.h"
#include "fulcrum/upstream/backend_state.h"

namespace fulcrum::upstream {

struct PoolMember {
  uint32_t index = 0;  // position in Pool::members
  const config::BackendConfig* config = nullptr;
  BackendStateSharedPtr state;
  uint32_t weight = 1;
  bool backup = false;
  uint32_t max_connections = 0;  // copied from config: 0 = unlimited
  const std::string& address() const { return config->address.text; }
};

struct Pool {
  uint32_t id = 0;  // position in the snapshot's pool list
  const config::PoolConfig* config = nullptr;
  std::vector<PoolMember> members;
  // Indices of the members that can take traffic (weight > 0), by tier: backups are used
  // only when no primary is eligible. Drained members (weight 0) are in neither.
  std::vector<uint32_t> primaries;
  std::vector<uint32_t> backups;
  const std::string& name() const { return config->name; }
};

using PoolConstSharedPtr = std::shared_ptr<const Pool>;

// Control thread only. Owns the BackendState of every backend by identity (pool name +
// address, never the weight), so a reload keeps health and history of unchanged backends.
class BackendRegistry {
 public:
  BackendStateSharedPtr get(const std::string& pool, const std::string& address);
  // Drops the state of backends that no pool of the new config names any more.
  void retainOnly(const config::Config& config);
  size_t size() const { return states_.size(); }

 private:
  std::map<std::pair<std::string, std::string>, BackendStateSharedPtr> states_;
};

// Builds a Pool from its config, taking states from the registry.
PoolConstSharedPtr buildPool(const config::PoolConfig& config, uint32_t id,
                             BackendRegistry& registry);

}  // namespace fulcrum::upstream
