#include "fulcrum/core/snapshot.h"

namespace fulcrum::core {

const PoolRuntime* Snapshot::findPool(const std::string& name) const {
  for (const auto& p : pools)
    if (p.pool().name() == name) return &p;
  return nullptr;
}

const ListenerRuntime* Snapshot::findListener(const std::string& name) const {
  for (const auto& l : listeners)
    if (l.config->name == name) return &l;
  return nullptr;
}

}  // namespace fulcrum::core
