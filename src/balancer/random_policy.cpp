#include "fulcrum/balancer/random_policy.h"

namespace fulcrum::balancer {

RandomPicker::RandomPicker(const upstream::Pool& pool, TieredSamplerConstSharedPtr tiers,
                           uint64_t seed)
    : pool_(pool), tiers_(std::move(tiers)), rng_(seed) {
  scratch_.reserve(pool.members.size());
}

const upstream::PoolMember* RandomPicker::pick(const PickContext& ctx) {
  const Eligibility eligible(ctx);
  if (const auto* m = drawEligible(pool_, tiers_->primaries(), rng_, eligible)) return m;
  collectEligible(pool_, eligible, scratch_);
  return pickWeighted(pool_, scratch_, rng_);
}

PolicySharedPtr RandomFactory::build(const upstream::Pool& pool) const {
  return std::make_shared<TieredSampler>(pool);
}

PickerPtr RandomFactory::createPicker(const upstream::Pool& pool, PolicySharedPtr shared,
                                      const Picker* previous, uint64_t seed) const {
  (void)previous;
  return std::make_unique<RandomPicker>(pool, tieredSamplerOf(pool, shared), seed);
}

}  // namespace fulcrum::balancer
