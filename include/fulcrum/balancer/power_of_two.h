#pragma once
// power_of_two: two distinct eligible backends drawn at random by weight, the one with fewer
// active connections per unit of weight wins (ties: the first draw, so an idle pool still
// follows the weights). O(1) per pick, and unlike a global minimum it does not send every
// worker to the same backend at once.

#include <cstdint>
#include <vector>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/rng.h"
#include "fulcrum/balancer/weighted_sampler.h"

namespace fulcrum::balancer {

// Worker-local.
class PowerOfTwoPicker : public Picker {
 public:
  PowerOfTwoPicker(const upstream::Pool& pool, TieredSamplerConstSharedPtr tiers, uint64_t seed);
  const upstream::PoolMember* pick(const PickContext& ctx) override;

 private:
  const upstream::Pool& pool_;
  TieredSamplerConstSharedPtr tiers_;
  Rng rng_;
  std::vector<uint32_t> scratch_;
};

class PowerOfTwoFactory : public PolicyFactory {
 public:
  std::string_view name() const override { return "power_of_two"; }
  PolicySharedPtr build(const upstream::Pool& pool) const override;
  PickerPtr createPicker(const upstream::Pool& pool, PolicySharedPtr shared, const Picker* previous,
                         uint64_t seed) const override;
};

}  // namespace fulcrum::balancer
