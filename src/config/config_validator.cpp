// Checks across the whole file, after every part has been read: unique names, listening
// addresses that cannot all be bound, and references to pools.
#include <fmt/format.h>

#include <cctype>
#include <map>
#include <set>
#include <string>
#include <utility>

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

// The pools a listener sends to: its own and its routes'.
std::set<std::string> poolsOf(const ListenerConfig& l) {
  std::set<std::string> pools{l.pool};
  for (const auto& r : l.routes) pools.insert(r.pool);
  return pools;
}

// Balancing settings that read the HTTP request, on a pool a tcp listener uses: its connections
// carry no request the proxy reads, so the setting does nothing for them.
void warnHttpOnlyBalancing(Diagnostics& diag, const Config& config) {
  for (const ListenerConfig& l : config.listeners) {
    if (l.protocol != Protocol::kTcp) continue;
    for (const std::string& name : poolsOf(l)) {
      const PoolConfig* p = config.findPool(name);
      if (p == nullptr) continue;
      const std::string path = indexPath("pools", static_cast<size_t>(p - config.pools.data()));
      if (p->sticky.mode == StickyMode::kCookie) {
        diag.warning(path + ".sticky.mode",
                     "ignored for the connections of tcp listener \"" + l.name +
                         "\": cookie stickiness needs HTTP (mode: source_ip works on tcp)");
      }
      const HashKeyKind k = p->hash_key.kind;
      if (k == HashKeyKind::kHeader || k == HashKeyKind::kCookie || k == HashKeyKind::kPath ||
          k == HashKeyKind::kQuery) {
        diag.warning(path + ".hash_key",
                     "ignored for the connections of tcp listener \"" + l.name +
                         "\": they carry no HTTP request to take the key from, so they are "
                         "spread round robin (hash_key: source_ip works on tcp)");
      }
    }
  }
}

// Two cookie-sticky pools behind one http listener with one cookie name: each pool's answers
// replace the other's cookie (its id is keyed to its own pool), so a client moving between
// them is re-pinned on every request and neither pool sticks.
void warnSharedStickyCookie(Diagnostics& diag, const Config& config) {
  std::set<std::pair<std::string, std::string>> reported;
  for (const ListenerConfig& l : config.listeners) {
    if (l.protocol != Protocol::kHttp) continue;
    std::map<std::string, const PoolConfig*> by_cookie;
    for (const std::string& name : poolsOf(l)) {
      const PoolConfig* p = config.findPool(name);
      if (p == nullptr || p->sticky.mode != StickyMode::kCookie) continue;
      auto [it, added] = by_cookie.emplace(p->sticky.cookie, p);
      if (added || !reported.emplace(it->second->name, p->name).second) continue;
      diag.warning(
          indexPath("pools", static_cast<size_t>(p - config.pools.data())) + ".sticky.cookie",
          "pools \"" + it->second->name + "\" and \"" + p->name + "\" both serve listener \"" +
              l.name + "\" with the sticky cookie " + p->sticky.cookie +
              ": each pool's answers replace the other's cookie, so neither sticks; "
              "give one of them another cookie name");
    }
  }
}

// Browsers keep a cookie named __Host-... or __Secure-... only when it is set with Secure over
// HTTPS; the proxy's cookie is not (TLS is not built), so the client would never send it back.
void warnCookiePrefixes(Diagnostics& diag, const Config& config) {
  for (size_t i = 0; i < config.pools.size(); ++i) {
    const StickyConfig& s = config.pools[i].sticky;
    if (s.mode != StickyMode::kCookie) continue;
    std::string lower;
    for (char c : s.cookie) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind("__host-", 0) == 0 || lower.rfind("__secure-", 0) == 0) {
      diag.warning(indexPath("pools", i) + ".sticky.cookie",
                   "browsers drop a cookie named " + s.cookie +
                       " unless it is set with Secure over HTTPS, which this proxy's cookie is "
                       "not: stickiness would never hold; choose a name without that prefix");
    }
  }
}

}  // namespace

void validateConfig(Diagnostics& diag, const Config& config) {
  checkUniqueNames(diag, config.listeners, "listeners");
  checkUniqueNames(diag, config.pools, "pools");
  checkAddresses(diag, config);
  checkPoolReferences(diag, config);
  if (!diag.hasErrors()) {
    warnUnusedPools(diag, config);
    warnHttpOnlyBalancing(diag, config);
    warnSharedStickyCookie(diag, config);
    warnCookiePrefixes(diag, config);
  }
}

}  // namespace fulcrum::config
