#pragma once
// round_robin: smooth weighted round robin (nginx ngx_http_upstream_get_peer): each backend
// adds its weight to its current weight, the largest is picked and loses the total. Weights
// 5,1,1 give a a b a c a a: no bursts to the heaviest backend.
//
// The sequence is periodic, so build() runs it once per tier into an immutable schedule that
// every worker shares; a picker is then a cursor (O(1) per pick). Each picker starts at a
// random position (from its seed) so workers and instances are not in lockstep, and keeps
// the previous picker's position across a reload when membership is unchanged. Pools whose
// period is too long to store (many backends with unrelated weights) run nginx's algorithm
// per pick instead, O(backends).

#include <cstdint>
#include <memory>
#include <vector>

#include "fulcrum/balancer/eligibility.h"
#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/rng.h"

namespace fulcrum::balancer {

// Immutable after build: one tier's smooth WRR period, or its members when too long.
class SmoothSchedule {
 public:
  static constexpr size_t kMaxSlots = size_t{1} << 18;
  static constexpr size_t kMaxBuildSteps = size_t{1} << 25;  // slots x members

  SmoothSchedule(const upstream::Pool& pool, const std::vector<uint32_t>& tier);
  bool precomputed() const { return !slots_.empty(); }
  const std::vector<uint32_t>& slots() const { return slots_; }  // member indices
  const std::vector<uint32_t>& tier() const { return tier_; }

 private:
  std::vector<uint32_t> tier_;
  std::vector<uint32_t> slots_;
};

// Immutable after build.
class RoundRobinShared : public PolicyShared {
 public:
  explicit RoundRobinShared(const upstream::Pool& pool);
  SmoothSchedule primaries;
  SmoothSchedule backups;
  // Addresses, weights and tiers of the members in order: equal means a cursor carries over.
  uint64_t fingerprint = 0;
};
using RoundRobinSharedConstSharedPtr = std::shared_ptr<const RoundRobinShared>;

// Worker-local. Also the fallback of consistent_hash for requests without a hash.
class RoundRobinPicker : public Picker {
 public:
  RoundRobinPicker(const upstream::Pool& pool, RoundRobinSharedConstSharedPtr shared,
                   const RoundRobinPicker* previous, uint64_t seed);
  const upstream::PoolMember* pick(const PickContext& ctx) override;
  const upstream::PoolMember* pick(const Eligibility& eligible);

 private:
  struct Cursor {
    size_t position = 0;           // precomputed schedule
    std::vector<int64_t> current;  // per-pick algorithm: current weight per tier member
  };
  void start(const SmoothSchedule& schedule, Cursor& cursor, uint64_t seed);
  const upstream::PoolMember* pickTier(const SmoothSchedule& schedule, Cursor& cursor,
                                       const Eligibility& eligible);
  const upstream::PoolMember* stepDynamic(const SmoothSchedule& schedule, Cursor& cursor,
                                          const Eligibility* eligible);
  const upstream::PoolMember* pickForRetry(const Eligibility& eligible);

  const upstream::Pool& pool_;
  RoundRobinSharedConstSharedPtr shared_;
  Cursor primary_;
  Cursor backup_;
  Rng retry_rng_;
};

class RoundRobinFactory : public PolicyFactory {
 public:
  std::string_view name() const override { return "round_robin"; }
  PolicySharedPtr build(const upstream::Pool& pool) const override;
  PickerPtr createPicker(const upstream::Pool& pool, PolicySharedPtr shared, const Picker* previous,
                         uint64_t seed) const override;
};

// The RoundRobinShared in `shared`, or a new one when it is null or of another policy.
RoundRobinSharedConstSharedPtr roundRobinSharedOf(const upstream::Pool& pool,
                                                  const PolicySharedPtr& shared);

}  // namespace fulcrum::balancer
