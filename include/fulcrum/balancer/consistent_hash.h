#pragma once
// consistent_hash: the request's hash (ctx.hash, from the pool's hash_key) selects a slot of
// a MaglevTable shared by every worker; its owner gets the request. When the owner is
// ineligible the following slots are tried in order, so its keys spread over the others
// and come back when it recovers; backups have a table of their own, used when no primary
// is eligible. Requests without a hash fall back to smooth weighted round robin.
//
// hash_balance_factor (bounded loads, Mirrokni et al.): with factor F, a backend already at
// ceil(F% x (active + 1) x its weight share) connections is passed over for the next one.

#include <cstdint>
#include <memory>
#include <vector>

#include "fulcrum/balancer/maglev_table.h"
#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/round_robin.h"

namespace fulcrum::balancer {

// Immutable after build.
class ConsistentHashShared : public PolicyShared {
 public:
  explicit ConsistentHashShared(const upstream::Pool& pool)
      : primaries(pool, pool.primaries),
        backups(pool, pool.backups),
        round_robin(std::make_shared<RoundRobinShared>(pool)) {}
  MaglevTable primaries;
  MaglevTable backups;
  RoundRobinSharedConstSharedPtr round_robin;
};
using ConsistentHashSharedConstSharedPtr = std::shared_ptr<const ConsistentHashShared>;

// Worker-local.
class ConsistentHashPicker : public Picker {
 public:
  ConsistentHashPicker(const upstream::Pool& pool, ConsistentHashSharedConstSharedPtr shared,
                       const ConsistentHashPicker* previous, uint64_t seed);
  const upstream::PoolMember* pick(const PickContext& ctx) override;
  const RoundRobinPicker& roundRobin() const { return round_robin_; }

 private:
  const upstream::PoolMember* walk(const MaglevTable& table, const std::vector<uint32_t>& tier,
                                   uint64_t hash, const Eligibility& eligible, bool bounded);
  bool overCapacity(const upstream::PoolMember& m) const;
  void refreshLoad();

  const upstream::Pool& pool_;
  ConsistentHashSharedConstSharedPtr shared_;
  RoundRobinPicker round_robin_;
  // Members already checked by this walk: visited_[i] == walk_ (no clearing per pick).
  std::vector<uint32_t> visited_;
  uint32_t walk_ = 0;
  // Bounded loads: the primaries' total active count, refreshed every refresh_every_ picks.
  uint32_t balance_factor_ = 0;
  uint64_t total_weight_ = 0;
  uint64_t total_active_ = 0;
  uint32_t refresh_every_ = 1;
  uint32_t until_refresh_ = 0;
};

class ConsistentHashFactory : public PolicyFactory {
 public:
  std::string_view name() const override { return "consistent_hash"; }
  void validate(const config::PoolConfig& pool, std::vector<std::string>& errors) const override;
  PolicySharedPtr build(const upstream::Pool& pool) const override;
  PickerPtr createPicker(const upstream::Pool& pool, PolicySharedPtr shared, const Picker* previous,
                         uint64_t seed) const override;
};

}  // namespace fulcrum::balancer
