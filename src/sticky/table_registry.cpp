#include "fulcrum/sticky/table_registry.h"

#include <set>

namespace fulcrum::sticky {

SourceIpTableSharedPtr TableRegistry::get(const config::PoolConfig& pool) {
  if (pool.sticky.mode != config::StickyMode::kSourceIp) return nullptr;
  auto& table = tables_[pool.name];
  if (!table || table->capacity() != pool.sticky.table_size ||
      table->ttl() != std::chrono::milliseconds(pool.sticky.ttl)) {
    table = std::make_shared<SourceIpTable>(pool.sticky.table_size,
                                            std::chrono::milliseconds(pool.sticky.ttl));
  }
  return table;
}

void TableRegistry::retainOnly(const config::Config& config) {
  std::set<std::string> keep;
  for (const auto& pool : config.pools) {
    if (pool.sticky.mode == config::StickyMode::kSourceIp) keep.insert(pool.name);
  }
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (keep.count(it->first) == 0) {
      it = tables_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t TableRegistry::expireAll(int64_t now_ms) {
  size_t removed = 0;
  for (auto& [name, table] : tables_) removed += table->expire(now_ms);
  return removed;
}

std::vector<std::pair<std::string, SourceIpTableSharedPtr>> TableRegistry::tables() const {
  return {tables_.begin(), tables_.end()};
}

}  // namespace fulcrum::sticky
