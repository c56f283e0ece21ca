// Checks across the whole file, after every part has been read: unique names, listening
// addresses that cannot all be bound, and references to pools.
#include <fmt/format.h>

#include <set>

#include "fulcrum/config/did_you_mean.h"
#include "fulcrum/config/section_parsers.h"
#include "fulcrum/config/value_parsers.h"

namespace fulcrum::config {
namespace {

template <class T>
void checkUniqueNames(Diagnostics& diag, const std::vector<T>& items, const std::string& list) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].name.empty()) continue;  // missing or invalid: already reported
    for (size_t j = 0; j < i; ++j) {
      if (items[j].name == items[i].name) {
        diag.error(indexPath(list, i) + ".name",
                   fmt::format("duplicate name \"{}\" (also {}[{}])", items[i].name, list, j));
        break;
      }
    }
  }
}

void checkAddresses(Diagnostics& diag, const Config& config) {
  const auto& ls = config.listeners;
  for (size_t i = 0; i < ls.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (addressesOverlap(ls[i].listen, ls[j].listen)) {
        diag.error(indexPath("listeners", i) + ".listen",
                   fmt::format("{} overlaps the address of listeners[{}] (\"{}\", {})",
                               ls[i].listen.text, j, ls[j].name, ls[j].listen.text));
        break;
      }
    }
  }
  if (!config.admin.enabled) return;
  for (size_t i = 0; i < ls.size(); ++i) {
    if (addressesOverlap(config.admin.listen, ls[i].listen)) {
      diag.error("admin.listen",
                 fmt::format("{} overlaps the address of listeners[{}] (\"{}\", {})",
                             config.admin.listen.text, i, ls[i].name, ls[i].listen.text));
      break;
    }
  }
}

// Every pool a listener or a route names must exist.
void checkPoolReferences(Diagnostics& diag, const Config& config) {
  // Without pools (already an error), every reference would be reported again.
  if (config.pools.empty()) return;
  std::vector<std::string_view> names;
  for (const auto& pool : config.pools) {
    // An unnamed pool (already an error) might be the one referred to: do not pile on.
    if (pool.name.empty()) return;
    names.push_back(pool.name);
  }
  auto check = [&](const std::string& pool, const std::string& path) {
    if (pool.empty() || config.findPool(pool) != nullptr) return;
    diag.error(path, "no pool is named \"" + pool + "\"" + didYouMean(pool, names));
  };
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const ListenerConfig& l = config.listeners[i];
    std::string path = indexPath("listeners", i);
    check(l.pool, path + ".pool");
    for (size_t r = 0; r < l.routes.size(); ++r) {
      check(l.routes[r].pool, indexPath(path + ".routes", r) + ".pool");
    }
  }
}

void warnUnusedPools(Diagnostics& diag, const Config& config) {
  std::set<std::string> used;
  for (const auto& l : config.listeners) {
    used.insert(l.pool);
    for (const auto& r : l.routes) used.insert(r.pool);
  }
  for (size_t i = 0; i < config.pools.size(); ++i) {
    const std::string& name = config.pools[i].name;
    if (!name.empty() && used.count(name) == 0) {
      diag.warning(indexPath("pools", i) + ".name",
                   "pool \"" + name + "\" is not used by any listener or route");
    }
  }
}

}  // namespace

void validateConfig(Diagnostics& diag, const Config& config) {
  checkUniqueNames(diag, config.listeners, "listeners");
  checkUniqueNames(diag, config.pools, "pools");
  checkAddresses(diag, config);
  checkPoolReferences(diag, config);
  if (!diag.hasErrors()) warnUnusedPools(diag, config);
}

}  // namespace fulcrum::config
