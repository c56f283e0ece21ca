#include "fulcrum/balancer/pool_balancer.h"

#include <algorithm>

#include "fulcrum/balancer/sticky_picker.h"
#include "fulcrum/core/log.h"
#include "fulcrum/sticky/cookie_id.h"
#include "fulcrum/sticky/source_ip_table.h"
#include "fulcrum/sticky/table_registry.h"

namespace fulcrum::balancer {
namespace {

// The first 16 hex digits of a cookie id as a number; false if any is not lowercase hex.
bool cookiePrefix(std::string_view id, uint64_t& out) {
  if (id.size() != sticky::kCookieIdLength) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = id[i];
    uint64_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return false;
    }
    v = (v << 4) | digit;
  }
  out = v;
  return true;
}

const std::pair<uint64_t, uint32_t>* lowerBound(
    const std::vector<std::pair<uint64_t, uint32_t>>& index, uint64_t key) {
  auto it = std::lower_bound(index.begin(), index.end(), std::make_pair(key, uint32_t{0}));
  return it == index.end() ? nullptr : &*it;
}

}  // namespace

std::string_view PoolBalancer::cookieFor(const upstream::PoolMember& member) const {
  if (member.index >= cookie_ids.size()) return {};
  return cookie_ids[member.index];
}

const upstream::PoolMember* PoolBalancer::findByCookie(std::string_view token) const {
  uint64_t key;
  if (cookie_index.empty() || !cookiePrefix(token, key)) return nullptr;
  auto it =
      std::lower_bound(cookie_index.begin(), cookie_index.end(), std::make_pair(key, uint32_t{0}));
  for (; it != cookie_index.end() && it->first == key; ++it) {
    if (cookie_ids[it->second] == token) return &pool->members[it->second];
  }
  return nullptr;
}

const upstream::PoolMember* PoolBalancer::findByAddressHash(uint64_t hash) const {
  const auto* entry = lowerBound(address_index, hash);
  if (entry == nullptr || entry->first != hash) return nullptr;
  return &pool->members[entry->second];
}

PoolBalancerConstSharedPtr buildPoolBalancer(const config::PoolConfig& config, uint32_t id,
                                             upstream::BackendRegistry& backends,
                                             sticky::TableRegistry& tables) {
  auto balancer = std::make_shared<PoolBalancer>();
  balancer->pool = upstream::buildPool(config, id, backends);
  balancer->factory = findPolicy(config.policy);
  if (balancer->factory == nullptr) {
    // The loader rejects unknown names; this only guards a config built some other way.
    log::error("pool {}: unknown policy '{}', using round_robin", config.name, config.policy);
    balancer->factory = findPolicy("round_robin");
  }
  const upstream::Pool& pool = *balancer->pool;
  balancer->shared = balancer->factory->build(pool);

  balancer->address_hashes.reserve(pool.members.size());
  for (const auto& m : pool.members) {
    balancer->address_hashes.push_back(hashKey(m.address()));
    balancer->address_index.emplace_back(balancer->address_hashes.back(), m.index);
  }
  std::sort(balancer->address_index.begin(), balancer->address_index.end());

  if (config.sticky.mode == config::StickyMode::kCookie) {
    for (const auto& m : pool.members) {
      balancer->cookie_ids.push_back(
          sticky::cookieId(config.sticky.secret, config.name, m.address()));
      uint64_t key;
      if (cookiePrefix(balancer->cookie_ids.back(), key)) {
        balancer->cookie_index.emplace_back(key, m.index);
      }
    }
    std::sort(balancer->cookie_index.begin(), balancer->cookie_index.end());
  }
  balancer->source_ip_table = tables.get(config);
  return balancer;
}

PickerPtr createPoolPicker(const PoolBalancer& balancer, const Picker* previous, uint64_t seed) {
  // The previous picker may be a sticky wrapper: the policy's own cursor is inside.
  if (const auto* sticky = dynamic_cast<const StickyPicker*>(previous)) previous = sticky->inner();
  PickerPtr picker =
      balancer.factory->createPicker(*balancer.pool, balancer.shared, previous, seed);
  if (balancer.pool->config->sticky.mode == config::StickyMode::kNone) return picker;
  return std::make_unique<StickyPicker>(balancer, std::move(picker));
}

}  // namespace fulcrum::balancer
