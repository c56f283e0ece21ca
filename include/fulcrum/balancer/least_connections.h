#pragma once
// least_connections: the eligible backend with the fewest active connections relative to its
// weight (BackendState::active, shared by all workers). Ties are broken by weighted
// reservoir sampling, so equally loaded backends share the traffic by weight instead of the
// first one taking it all (Envoy least_request_lb.cc). Pools of more than
// kFullScanMaxMembers primaries use the better of two weighted random choices: O(1), and it
// keeps workers from all piling onto the same momentary minimum.

#include <cstdint>
#include <vector>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/rng.h"
#include "fulcrum/balancer/weighted_sampler.h"

namespace fulcrum::balancer {

// -1, 0 or 1 as a carries less, the same or more load per unit of weight than b
// (active / weight, compared by cross-multiplication: no division, exact).
inline int compareLoad(const upstream::PoolMember& a, const upstream::PoolMember& b) {
  const int64_t la = int64_t{a.state->active.load(std::memory_order_relaxed)} * b.weight;
  const int64_t lb = int64_t{b.state->active.load(std::memory_order_relaxed)} * a.weight;
  return la < lb ? -1 : (la > lb ? 1 : 0);
}

// Worker-local.
class LeastConnectionsPicker : public Picker {
 public:
  static constexpr size_t kFullScanMaxMembers = 16;
  LeastConnectionsPicker(const upstream::Pool& pool, TieredSamplerConstSharedPtr tiers,
                         uint64_t seed);
  const upstream::PoolMember* pick(const PickContext& ctx) override;

 private:
  const upstream::PoolMember* scan(const std::vector<uint32_t>& tier, const Eligibility& eligible);

  const upstream::Pool& pool_;
  TieredSamplerConstSharedPtr tiers_;
  Rng rng_;
  std::vector<uint32_t> scratch_;
};

class LeastConnectionsFactory : public PolicyFactory {
 public:
  std::string_view name() const override { return "least_connections"; }
  PolicySharedPtr build(const upstream::Pool& pool) const override;
  PickerPtr createPicker(const upstream::Pool& pool, PolicySharedPtr shared, const Picker* previous,
                         uint64_t seed) const override;
};

}  // namespace fulcrum::balancer
