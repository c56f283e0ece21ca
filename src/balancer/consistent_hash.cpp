#include "fulcrum/balancer/consistent_hash.h"

#include <algorithm>

namespace fulcrum::balancer {
namespace {

// The total load is re-read every primaries/kLoadRefreshDivisor picks: two state loads per
// pick amortized; the total moves by at most that many of this worker's picks meanwhile.
constexpr uint32_t kLoadRefreshDivisor = 2;
// Distinct ineligible owners met before checking whether any member is eligible at all.
constexpr size_t kChecksBeforeScan = 8;

bool anyEligible(const upstream::Pool& pool, const std::vector<uint32_t>& tier,
                 const Eligibility& eligible) {
  for (uint32_t i : tier) {
    if (eligible(pool.members[i])) return true;
  }
  return false;
}

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
      std::max<uint32_t>(1, static_cast<uint32_t>(pool.primaries.size()) / kLoadRefreshDivisor);
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
  // capacity = ceil(F% x (total + 1) x weight / total_weight), and a backend is over it when
  // active + 1 > capacity, i.e. active >= capacity, i.e. active x 100 x total_weight >=
  // F x (total + 1) x weight (integers: no division, no rounding).
  using U128 = unsigned __int128;
  const auto active =
      static_cast<uint64_t>(std::max(0, m.state->active.load(std::memory_order_relaxed)));
  return U128{active} * 100 * total_weight_ >=
         U128{balance_factor_} * (total_active_ + 1) * m.weight;
}

const upstream::PoolMember* ConsistentHashPicker::walk(const MaglevTable& table,
                                                       const std::vector<uint32_t>& tier,
                                                       uint64_t hash, const Eligibility& eligible,
                                                       bool bounded) {
  if (table.empty()) return nullptr;
  if (++walk_ == 0) {  // wrapped: old marks could look current
    std::fill(visited_.begin(), visited_.end(), 0);
    walk_ = 1;
  }
  const size_t members = std::min(tier.size(), MaglevTable::kMaxMembers);
  const upstream::PoolMember* fallback = nullptr;  // eligible but over capacity
  size_t checked = 0;
  uint32_t slot = table.slotOf(hash);
  for (uint32_t step = 0; step < table.size() && checked < members; ++step) {
    const uint32_t owner = table.owner(slot);
    slot = table.next(slot);
    if (visited_[owner] == walk_) continue;
    visited_[owner] = walk_;
    ++checked;
    const upstream::PoolMember& m = pool_.members[owner];
    if (eligible(m)) {
      if (!bounded || !overCapacity(m)) return &m;
      if (fallback == nullptr) fallback = &m;
    } else if (checked == kChecksBeforeScan && fallback == nullptr &&
               !anyEligible(pool_, tier, eligible)) {
      return nullptr;  // all down: do not walk the whole table to find out
    }
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
  auto table = std::dynamic_pointer_cast<const ConsistentHashShared>(shared);
  if (!table) table = std::make_shared<ConsistentHashShared>(pool);
  return std::make_unique<ConsistentHashPicker>(
      pool, std::move(table), dynamic_cast<const ConsistentHashPicker*>(previous), seed);
}

}  // namespace fulcrum::balancer
