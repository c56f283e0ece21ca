#pragma once
// O(1) weighted random choice of a pool member (Vose's alias table), and the helpers the
// random-based policies (random, power_of_two, least_connections on large pools,
// weighted_response_time) share to draw eligible candidates without scanning the pool.

#include <cstdint>
#include <vector>

#include "fulcrum/balancer/eligibility.h"
#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/rng.h"
#include "fulcrum/upstream/pool.h"

namespace fulcrum::balancer {

// Immutable after build.
class WeightedSampler {
 public:
  WeightedSampler() = default;
  // `indices` are members of `pool` with weight > 0.
  WeightedSampler(const upstream::Pool& pool, const std::vector<uint32_t>& indices);

  bool empty() const { return slots_.empty(); }
  size_t size() const { return slots_.size(); }
  // A member index, with probability weight / total weight. One 64-bit random number: the
  // high bits choose the slot, the low 32 bits toss its coin.
  uint32_t sample(uint64_t r) const {
    const Slot& s =
        slots_[static_cast<uint64_t>((static_cast<unsigned __int128>(r) * slots_.size()) >> 64)];
    return static_cast<uint32_t>(r) < s.threshold ? s.member : s.alias;
  }

 private:
  struct Slot {
    uint32_t threshold;  // coin < threshold: member, else alias (alias == member when full)
    uint32_t member;
    uint32_t alias;
  };
  std::vector<Slot> slots_;
};

// Immutable after build: one sampler per tier. The shared part of the random-based policies.
class TieredSampler : public PolicyShared {
 public:
  explicit TieredSampler(const upstream::Pool& pool)
      : primaries_(pool, pool.primaries), backups_(pool, pool.backups) {}
  const WeightedSampler& primaries() const { return primaries_; }
  const WeightedSampler& backups() const { return backups_; }

 private:
  WeightedSampler primaries_;
  WeightedSampler backups_;
};
using TieredSamplerConstSharedPtr = std::shared_ptr<const TieredSampler>;

// The TieredSampler in `shared`, or a new one when `shared` is null or of another policy.
TieredSamplerConstSharedPtr tieredSamplerOf(const upstream::Pool& pool,
                                            const PolicySharedPtr& shared);

// Draws an eligible primary by weight, other than `exclude`; nullptr after a few unlucky
// draws (the caller then scans). Exact: rejecting ineligible draws leaves the others'
// probabilities proportional to their weights.
const upstream::PoolMember* drawEligible(const upstream::Pool& pool, const WeightedSampler& s,
                                         Rng& rng, const Eligibility& eligible,
                                         uint32_t exclude = UINT32_MAX);

// Weighted choice among `candidates` (member indices), skipping `exclude`; nullptr if none.
const upstream::PoolMember* pickWeighted(const upstream::Pool& pool,
                                         const std::vector<uint32_t>& candidates, Rng& rng,
                                         uint32_t exclude = UINT32_MAX);

// Two distinct eligible candidates, each drawn by weight, from the primaries or, when no
// primary is eligible, the backups. `second` is null when only one could be found; both are
// null when nothing is eligible. `scratch` is the picker's preallocated vector.
void drawTwo(const upstream::Pool& pool, const TieredSampler& tiers, Rng& rng,
             const Eligibility& eligible, std::vector<uint32_t>& scratch,
             const upstream::PoolMember*& first, const upstream::PoolMember*& second);

}  // namespace fulcrum::balancer
