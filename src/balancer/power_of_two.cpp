#include "fulcrum/balancer/power_of_two.h"

#include "fulcrum/balancer/least_connections.h"

namespace fulcrum::balancer {

PowerOfTwoPicker::PowerOfTwoPicker(const upstream::Pool& pool, TieredSamplerConstSharedPtr tiers,
                                   uint64_t seed)
    : pool_(pool), tiers_(std::move(tiers)), rng_(seed) {
  scratch_.reserve(pool.members.size());
}

const upstream::PoolMember* PowerOfTwoPicker::pick(const PickContext& ctx) {
  const Eligibility eligible(ctx);
  const upstream::PoolMember* first = nullptr;
  const upstream::PoolMember* second = nullptr;
  drawTwo(pool_, *tiers_, rng_, eligible, scratch_, first, second);
  if (second != nullptr && compareLoad(*second, *first) < 0) return second;
  return first;
}

PolicySharedPtr PowerOfTwoFactory::build(const upstream::Pool& pool) const {
  return std::make_shared<TieredSampler>(pool);
}

PickerPtr PowerOfTwoFactory::createPicker(const upstream::Pool& pool, PolicySharedPtr shared,
                                          const Picker* previous, uint64_t seed) const {
  (void)previous;
  return std::make_unique<PowerOfTwoPicker>(pool, tieredSamplerOf(pool, shared), seed);
}

}  // namespace fulcrum::balancer
