#include "fulcrum/balancer/weighted_response_time.h"

#include <algorithm>

namespace fulcrum::balancer {
namespace {
// The second candidate wins only when its cost is below 8/9 of the first's.
constexpr double kTie = 8.0 / 9.0;
// The average is refreshed every kAverageRefreshFactor x members picks: a quarter of a state
// load per pick. It only stands in for backends without history, so it need not be fresh.
constexpr uint32_t kAverageRefreshFactor = 4;
}  // namespace

WeightedResponseTimePicker::WeightedResponseTimePicker(const upstream::Pool& pool,
                                                       TieredSamplerConstSharedPtr tiers,
                                                       uint64_t seed)
    : pool_(pool), tiers_(std::move(tiers)), rng_(seed) {
  scratch_.reserve(pool.members.size());
  refresh_every_ =
      std::max<uint32_t>(16, static_cast<uint32_t>(pool.members.size()) * kAverageRefreshFactor);
}

void WeightedResponseTimePicker::refreshAverage(int64_t now_ms) {
  uint64_t sum = 0;
  uint64_t count = 0;
  for (const auto& m : pool_.members) {
    if (m.weight == 0) continue;
    const uint64_t ewma = m.state->decayedEwmaUs(now_ms);
    if (ewma == 0) continue;
    sum += ewma;
    ++count;
  }
  average_us_ = count == 0 ? kDefaultEwmaUs : sum / count;
}

double WeightedResponseTimePicker::cost(const upstream::PoolMember& m, int64_t now_ms) const {
  uint64_t ewma = m.state->decayedEwmaUs(now_ms);
  if (ewma == 0) ewma = average_us_;
  const int32_t active = std::max(0, m.state->active.load(std::memory_order_relaxed));
  // Eligible members have a weight of 1 or more.
  return static_cast<double>(ewma) *
         (1.0 + static_cast<double>(active) / static_cast<double>(std::max(1u, m.weight)));
}

const upstream::PoolMember* WeightedResponseTimePicker::pick(const PickContext& ctx) {
  const Eligibility eligible(ctx);
  const upstream::PoolMember* first = nullptr;
  const upstream::PoolMember* second = nullptr;
  drawTwo(pool_, *tiers_, rng_, eligible, scratch_, first, second);
  if (second == nullptr) return first;
  if (until_refresh_ == 0) {
    refreshAverage(eligible.nowMs());
    until_refresh_ = refresh_every_;
  }
  --until_refresh_;
  if (cost(*second, eligible.nowMs()) < cost(*first, eligible.nowMs()) * kTie) return second;
  return first;
}

PolicySharedPtr WeightedResponseTimeFactory::build(const upstream::Pool& pool) const {
  return std::make_shared<TieredSampler>(pool);
}

PickerPtr WeightedResponseTimeFactory::createPicker(const upstream::Pool& pool,
                                                    PolicySharedPtr shared, const Picker* previous,
                                                    uint64_t seed) const {
  (void)previous;  // the history lives in BackendState
  return std::make_unique<WeightedResponseTimePicker>(pool, tieredSamplerOf(pool, shared), seed);
}

}  // namespace fulcrum::balancer
