#pragma once
// random: an eligible backend chosen with probability proportional to its weight, in O(1)
// from an alias table built once per pool and shared by the workers.

#include <cstdint>
#include <vector>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/rng.h"
#include "fulcrum/balancer/weighted_sampler.h"

namespace fulcrum::balancer {

// Worker-local.
class RandomPicker : public Picker {
 public:
  RandomPicker(const upstream::Pool& pool, TieredSamplerConstSharedPtr tiers, uint64_t seed);
  const upstream::PoolMember* pick(const PickContext& ctx) override;

 private:
  const upstream::Pool& pool_;
  TieredSamplerConstSharedPtr tiers_;
  Rng rng_;
  std::vector<uint32_t> scratch_;
};

class RandomFactory : public PolicyFactory {
 public:
  std::string_view name() const override { return "random"; }
  PolicySharedPtr build(const upstream::Pool& pool) const override;
  PickerPtr createPicker(const upstream::Pool& pool, PolicySharedPtr shared, const Picker* previous,
                         uint64_t seed) const override;
};

}  // namespace fulcrum::balancer
