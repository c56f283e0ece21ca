#include "fulcrum/balancer/pool_balancer.h"

#include <utility>
#include <vector>

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

}  // namespace

std::string_view PoolBalancer::cookieFor(const upstream::PoolMember& member) const {
  if (member.index >= cookie_ids.size()) return {};
  return cookie_ids[member.index];
}

const upstream::PoolMember* PoolBalancer::findByCookie(std::string_view token) const {
  uint64_t key;
  if (cookie_ids.empty() || !cookiePrefix(token, key)) return nullptr;
  const auto index = cookie_index.find(key);
  // The full id must match: 64 bits of prefix are not the whole secret-keyed id.
  if (!index || cookie_ids[*index] != token) return nullptr;
  return &pool->members[*index];
}

const upstream::PoolMember* PoolBalancer::findByAddressHash(uint64_t hash) const {
  const auto index = address_index.find(hash);
  return index ? &pool->members[*index] : nullptr;
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

  std::vector<std::pair<uint64_t, uint32_t>> entries;
  balancer->address_hashes.reserve(pool.members.size());
  for (const auto& m : pool.members) {
    balancer->address_hashes.push_back(hashKey(m.address()));
    entries.emplace_back(balancer->address_hashes.back(), m.index);
  }
  balancer->address_index = IndexMap(entries);

  if (config.sticky.mode == config::StickyMode::kCookie) {
    entries.clear();
    for (const auto& m : pool.members) {
      balancer->cookie_ids.push_back(
          sticky::cookieId(config.sticky.secret, config.name, m.address()));
      uint64_t key;
      if (cookiePrefix(balancer->cookie_ids.back(), key)) entries.emplace_back(key, m.index);
    }
    balancer->cookie_index = IndexMap(entries);
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
