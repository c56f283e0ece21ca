#include "fulcrum/balancer/consistent_hash.h"

#include <algorithm>

namespace fulcrum::balancer {
namespace {

constexpr uint32_t kLoadMembersPerPick = 16;

const RoundRobinPicker* previousRoundRobin(const ConsistentHashPicker* previous) {
  return previous == nullptr ? nullptr : &previous->roundRobin();
}

}  // namespace

ConsistentHashPicker::ConsistentHashPicker(const upstream::Pool& pool,
                                           ConsistentHashSharedConstSharedPtr shared,
                                           const ConsistentHashPicker* previous, uint64_t seed)
    : pool_(pool),
      shared_(std::move(shared)),
      round_robin_(pool, shared_->round_robin, previousRoundRobin(previous), seed),
      visited_(pool.members.size(), 0) {
  balance_factor_ = pool.config != nullptr ? pool.config->hash_balance_factor : 0;
  for (uint32_t i : pool.primaries) total_weight_ += pool.members[i].weight;
  refresh_every_ =
      std::max<uint32_t>(1, static_cast<uint32_t>(pool.primaries.size()) / kLoadMembersPerPick);
}

void ConsistentHashPicker::refreshLoad() {
  uint64_t total = 0;
  for (uint32_t i : pool_.primaries) {
    total += static_cast<uint64_t>(
        std::max(0, pool_.members[i].state->active.load(std::memory_order_relaxed)));
  }
  total_active_ = total;
}

bool ConsistentHashPicker::overCapacity(const upstream::PoolMember& m) const {
  // capacity = ceil(F/100 x (total + 1) x weight / total_weight); over when active + 1 > it.
  const uint64_t active =
      static_cast<uint64_t>(std::max(0, m.state->active.load(std::memory_order_relaxed)));
  using U128 = unsigned __int128;
  const U128 scale = U128{100} * total_weight_;
  const U128 capacity =
      (U128{balance_factor_} * (total_active_ + 1) * m.weight + scale - 1) / scale;
  return active + 1 > capacity;
}

const upstream::PoolMember* ConsistentHashPicker::walk(const HashRing& ring,
                                                       const std::vector<uint32_t>& tier,
                                                       uint64_t hash, const Eligibility& eligible,
                                                       bool bounded) {
  if (ring.empty()) return nullptr;
  if (++walk_ == 0) {  // wrapped: old marks could look current
    std::fill(visited_.begin(), visited_.end(), 0);
    walk_ = 1;
  }
  const upstream::PoolMember* fallback = nullptr;  // eligible but over capacity
  size_t checked = 0;
  size_t point = ring.find(hash);
  for (size_t step = 0; step < ring.size() && checked < tier.size(); ++step) {
    const uint32_t owner = ring.owner(point);
    point = ring.next(point);
    if (visited_[owner] == walk_) continue;
    visited_[owner] = walk_;
    ++checked;
    const upstream::PoolMember& m = pool_.members[owner];
    if (!eligible(m)) continue;
    if (!bounded || !overCapacity(m)) return &m;
    if (fallback == nullptr) fallback = &m;
  }
  return fallback;
}

const upstream::PoolMember* ConsistentHashPicker::pick(const PickContext& ctx) {
  const Eligibility eligible(ctx);
  if (!ctx.hash.has_value()) return round_robin_.pick(eligible);
  const bool bounded = balance_factor_ != 0 && total_weight_ != 0;
  if (bounded) {
    if (until_refresh_ == 0) {
      refreshLoad();
      until_refresh_ = refresh_every_;
    }
    --until_refresh_;
  }
  if (const auto* m = walk(shared_->primaries, pool_.primaries, *ctx.hash, eligible, bounded)) {
    return m;
  }
  return walk(shared_->backups, pool_.backups, *ctx.hash, eligible, false);
}

void ConsistentHashFactory::validate(const config::PoolConfig& pool,
                                     std::vector<std::string>& errors) const {
  if (pool.hash_key.kind == config::HashKeyKind::kNone) {
    errors.push_back(
        "consistent_hash needs a hash_key (source_ip, header:NAME, cookie:NAME, "
        "path or query:NAME)");
  }
  if (pool.hash_balance_factor != 0 && pool.hash_balance_factor < 100) {
    errors.push_back("hash_balance_factor must be 0 (off) or at least 100, got " +
                     std::to_string(pool.hash_balance_factor));
  }
}

PolicySharedPtr ConsistentHashFactory::build(const upstream::Pool& pool) const {
  return std::make_shared<ConsistentHashShared>(pool);
}

PickerPtr ConsistentHashFactory::createPicker(const upstream::Pool& pool, PolicySharedPtr shared,
                                              const Picker* previous, uint64_t seed) const {
  auto ring = std::dynamic_pointer_cast<const ConsistentHashShared>(shared);
  if (!ring) ring = std::make_shared<ConsistentHashShared>(pool);
  return std::make_unique<ConsistentHashPicker>(
      pool, std::move(ring), dynamic_cast<const ConsistentHashPicker*>(previous), seed);
}

}  // namespace fulcrum::balancer
