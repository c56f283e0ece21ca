#pragma once
// weighted_response_time: prefers backends that answer fast, where a failure counts as a
// slow answer (BackendState::recordResponse folds it as a penalty latency), so a backend
// that fails fast loses traffic instead of gaining it.
//
// Two distinct candidates are drawn by weight and the one with the lower cost wins, cost =
// decayed EWMA x (1 + active / weight) (Finagle/Envoy peak-EWMA style: a backend that is fast
// but already busy is not piled onto; per unit of weight, so that a backend of weight 3 is
// busy only with three times the requests in flight of one of weight 1, and under
// concurrency the weights still hold). Costs within ~11% are a tie, resolved for the first
// (weighted random) draw, so similar backends share by weight and noise does not herd all
// traffic onto whichever is a hair faster. A backend with no history costs the pool's average
// (of those with history), so a new backend gets a fair trial. An old average decays, so a
// backend shunned for being slow is probed again after a few half-lives.

#include <cstdint>
#include <vector>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/rng.h"
#include "fulcrum/balancer/weighted_sampler.h"

namespace fulcrum::balancer {

// Worker-local.
class WeightedResponseTimePicker : public Picker {
 public:
  // Cost of every backend while none of the pool has history.
  static constexpr uint64_t kDefaultEwmaUs = 10'000;
  WeightedResponseTimePicker(const upstream::Pool& pool, TieredSamplerConstSharedPtr tiers,
                             uint64_t seed);
  const upstream::PoolMember* pick(const PickContext& ctx) override;

 private:
  double cost(const upstream::PoolMember& m, int64_t now_ms) const;
  void refreshAverage(int64_t now_ms);

  const upstream::Pool& pool_;
  TieredSamplerConstSharedPtr tiers_;
  Rng rng_;
  std::vector<uint32_t> scratch_;
  // The average is refreshed every refresh_every_ picks: O(1) amortized per pick even for
  // 1,000 backends, fresh enough for a value that only stands in for missing history.
  uint64_t average_us_ = kDefaultEwmaUs;
  uint32_t refresh_every_ = 1;
  uint32_t until_refresh_ = 0;
};

class WeightedResponseTimeFactory : public PolicyFactory {
 public:
  std::string_view name() const override { return "weighted_response_time"; }
  PolicySharedPtr build(const upstream::Pool& pool) const override;
  PickerPtr createPicker(const upstream::Pool& pool, PolicySharedPtr shared, const Picker* previous,
                         uint64_t seed) const override;
};

}  // namespace fulcrum::balancer
