#include "fulcrum/balancer/round_robin.h"

#include <numeric>

#include "fulcrum/balancer/hash.h"
#include "fulcrum/balancer/rng.h"
#include "fulcrum/balancer/weighted_sampler.h"

namespace fulcrum::balancer {
namespace {

// Slots walked before checking whether the tier has any eligible member at all.
constexpr size_t kSkipsBeforeScan = 16;

bool anyEligible(const upstream::Pool& pool, const std::vector<uint32_t>& tier,
                 const Eligibility& eligible) {
  for (uint32_t i : tier) {
    if (eligible(pool.members[i])) return true;
  }
  return false;
}

}  // namespace

SmoothSchedule::SmoothSchedule(const upstream::Pool& pool, const std::vector<uint32_t>& tier)
    : tier_(tier) {
  if (tier.empty()) return;
  uint64_t divisor = 0;
  for (uint32_t i : tier) divisor = std::gcd(divisor, uint64_t{pool.members[i].weight});
  uint64_t period = 0;
  for (uint32_t i : tier) period += pool.members[i].weight / divisor;
  if (period > kMaxSlots || period * tier.size() > kMaxBuildSteps) return;
  // One period of nginx's algorithm; ties go to the first in file order, as in nginx.
  std::vector<int64_t> current(tier.size(), 0);
  slots_.reserve(period);
  for (uint64_t step = 0; step < period; ++step) {
    size_t best = 0;
    for (size_t k = 0; k < tier.size(); ++k) {
      current[k] += pool.members[tier[k]].weight / divisor;
      if (current[k] > current[best]) best = k;
    }
    current[best] -= static_cast<int64_t>(period);
    slots_.push_back(tier[best]);
  }
}

RoundRobinShared::RoundRobinShared(const upstream::Pool& pool)
    : primaries(pool, pool.primaries), backups(pool, pool.backups) {
  uint64_t h = kHashSeed;
  for (const auto& m : pool.members) {
    h = xxh64(m.address(), h);
    h = mix64(h ^ (uint64_t{m.weight} << 1 | (m.backup ? 1 : 0)));
  }
  fingerprint = h;
}

RoundRobinSharedConstSharedPtr roundRobinSharedOf(const upstream::Pool& pool,
                                                  const PolicySharedPtr& shared) {
  if (auto rr = std::dynamic_pointer_cast<const RoundRobinShared>(shared)) return rr;
  return std::make_shared<RoundRobinShared>(pool);
}

RoundRobinPicker::RoundRobinPicker(const upstream::Pool& pool,
                                   RoundRobinSharedConstSharedPtr shared,
                                   const RoundRobinPicker* previous, uint64_t seed)
    : pool_(pool), shared_(std::move(shared)), retry_rng_(seed ^ 0x5eed) {
  if (previous != nullptr && previous->shared_->fingerprint == shared_->fingerprint) {
    primary_ = previous->primary_;
    backup_ = previous->backup_;
    return;
  }
  Rng rng(seed);
  start(shared_->primaries, primary_, rng.next());
  start(shared_->backups, backup_, rng.next());
}

void RoundRobinPicker::start(const SmoothSchedule& schedule, Cursor& cursor, uint64_t seed) {
  if (schedule.precomputed()) {
    cursor.position = seed % schedule.slots().size();
    return;
  }
  cursor.current.assign(schedule.tier().size(), 0);
  // A random point of the sequence: run it a random number of steps (< members).
  const size_t steps = schedule.tier().empty() ? 0 : seed % schedule.tier().size();
  for (size_t i = 0; i < steps; ++i) stepDynamic(schedule, cursor, nullptr);
}

const upstream::PoolMember* RoundRobinPicker::stepDynamic(const SmoothSchedule& schedule,
                                                          Cursor& cursor,
                                                          const Eligibility* eligible) {
  const auto& tier = schedule.tier();
  int64_t total = 0;
  size_t best = tier.size();
  for (size_t k = 0; k < tier.size(); ++k) {
    const upstream::PoolMember& m = pool_.members[tier[k]];
    if (eligible != nullptr && !(*eligible)(m)) continue;
    cursor.current[k] += m.weight;
    total += m.weight;
    if (best == tier.size() || cursor.current[k] > cursor.current[best]) best = k;
  }
  if (best == tier.size()) return nullptr;
  cursor.current[best] -= total;
  return &pool_.members[tier[best]];
}

const upstream::PoolMember* RoundRobinPicker::pickTier(const SmoothSchedule& schedule,
                                                       Cursor& cursor,
                                                       const Eligibility& eligible) {
  if (!schedule.precomputed()) {
    return schedule.tier().empty() ? nullptr : stepDynamic(schedule, cursor, &eligible);
  }
  // Ineligible slots are skipped: each eligible member still gets its share of a period.
  const auto& slots = schedule.slots();
  const size_t period = slots.size();
  for (size_t walked = 0; walked < period; ++walked) {
    if (walked == kSkipsBeforeScan && !anyEligible(pool_, schedule.tier(), eligible)) break;
    const upstream::PoolMember& m = pool_.members[slots[cursor.position]];
    if (++cursor.position == period) cursor.position = 0;
    if (eligible(m)) return &m;
  }
  return nullptr;
}

const upstream::PoolMember* RoundRobinPicker::pick(const Eligibility& eligible) {
  if (eligible.retry()) return pickForRetry(eligible);
  if (const auto* m = pickTier(shared_->primaries, primary_, eligible)) return m;
  return pickTier(shared_->backups, backup_, eligible);
}

// A retry after a failed attempt draws from the eligible members by weight and leaves the
// schedule where it is: the failed member had its turn. Taking the retry's member from the
// schedule would move it past the member after the failed one, so a dead backend would come
// first again at the next request and every request would pay a failed connect; and always
// taking the member after it would give that one the dead backend's whole share.
const upstream::PoolMember* RoundRobinPicker::pickForRetry(const Eligibility& eligible) {
  std::vector<uint32_t> candidates;  // rare path: an allocation is fine
  collectEligible(pool_, eligible, candidates);
  return pickWeighted(pool_, candidates, retry_rng_);
}

const upstream::PoolMember* RoundRobinPicker::pick(const PickContext& ctx) {
  return pick(Eligibility(ctx));
}

PolicySharedPtr RoundRobinFactory::build(const upstream::Pool& pool) const {
  return std::make_shared<RoundRobinShared>(pool);
}

PickerPtr RoundRobinFactory::createPicker(const upstream::Pool& pool, PolicySharedPtr shared,
                                          const Picker* previous, uint64_t seed) const {
  return std::make_unique<RoundRobinPicker>(pool, roundRobinSharedOf(pool, shared),
                                            dynamic_cast<const RoundRobinPicker*>(previous), seed);
}

}  // namespace fulcrum::balancer
