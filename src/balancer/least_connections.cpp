#include "fulcrum/balancer/least_connections.h"

namespace fulcrum::balancer {

LeastConnectionsPicker::LeastConnectionsPicker(const upstream::Pool& pool,
                                               TieredSamplerConstSharedPtr tiers, uint64_t seed)
    : pool_(pool), tiers_(std::move(tiers)), rng_(seed) {
  scratch_.reserve(pool.members.size());
}

const upstream::PoolMember* LeastConnectionsPicker::scan(const std::vector<uint32_t>& tier,
                                                         const Eligibility& eligible) {
  const upstream::PoolMember* best = nullptr;
  uint64_t tied_weight = 0;
  for (uint32_t i : tier) {
    const upstream::PoolMember& m = pool_.members[i];
    if (!eligible(m)) continue;
    const int cmp = best == nullptr ? -1 : compareLoad(m, *best);
    if (cmp < 0) {
      best = &m;
      tied_weight = m.weight;
    } else if (cmp == 0) {
      // Weighted reservoir: after all ties, each was kept with probability weight / total.
      tied_weight += m.weight;
      if (rng_.below(tied_weight) < m.weight) best = &m;
    }
  }
  return best;
}

const upstream::PoolMember* LeastConnectionsPicker::pick(const PickContext& ctx) {
  const Eligibility eligible(ctx);
  if (pool_.primaries.size() <= kFullScanMaxMembers) {
    if (const auto* m = scan(pool_.primaries, eligible)) return m;
    return scan(pool_.backups, eligible);
  }
  const upstream::PoolMember* first = nullptr;
  const upstream::PoolMember* second = nullptr;
  drawTwo(pool_, *tiers_, rng_, eligible, scratch_, first, second);
  if (second != nullptr && compareLoad(*second, *first) < 0) return second;
  return first;
}

PolicySharedPtr LeastConnectionsFactory::build(const upstream::Pool& pool) const {
  return std::make_shared<TieredSampler>(pool);
}

PickerPtr LeastConnectionsFactory::createPicker(const upstream::Pool& pool, PolicySharedPtr shared,
                                                const Picker* previous, uint64_t seed) const {
  (void)previous;  // nothing worth carrying: the load lives in BackendState
  return std::make_unique<LeastConnectionsPicker>(pool, tieredSamplerOf(pool, shared), seed);
}

}  // namespace fulcrum::balancer
