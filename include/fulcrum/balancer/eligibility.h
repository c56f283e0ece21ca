#pragma once
// The one eligibility rule every policy and the sticky decorator share (ARCHITECTURE.md):
// healthy, not ejected, weight > 0, under max_connections, not tried already by this
// request; backups only when no primary is eligible. Clients bound by stickiness skip the
// weight test (bound()). Called on every pick: no allocation,
// relaxed atomic loads only.

#include <chrono>
#include <cstdint>
#include <vector>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/upstream/pool.h"

namespace fulcrum::balancer {

// Steady-clock milliseconds, the unit of BackendState's deadlines.
inline int64_t steadyMs(MonotonicTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

class Eligibility {
 public:
  explicit Eligibility(const PickContext& ctx)
      : now_ms_(steadyMs(ctx.now)),
        tried_(ctx.tried != nullptr && ctx.tried->size() > 0 ? ctx.tried : nullptr) {}

  bool operator()(const upstream::PoolMember& m) const { return m.weight != 0 && bound(m); }
  // For a client already bound to `m` (a sticky cookie or source-IP entry): the same rule
  // without the weight. A drained backend (weight 0) takes no new clients but keeps its own
  // until they leave, as HAProxy's weight 0 and nginx's `drain` do: an operator draining it
  // for maintenance does not cut their sessions.
  bool bound(const upstream::PoolMember& m) const {
    const upstream::BackendState& s = *m.state;
    if (!s.isUp() || s.isEjected(now_ms_)) return false;
    if (m.max_connections != 0 &&
        s.active.load(std::memory_order_relaxed) >= static_cast<int32_t>(m.max_connections)) {
      return false;
    }
    return tried_ == nullptr || !tried_->contains(m.index);
  }
  int64_t nowMs() const { return now_ms_; }
  // A retry after a failed attempt (some backend already tried).
  bool retry() const { return tried_ != nullptr; }

 private:
  int64_t now_ms_;
  const TriedSet* tried_;
};

// True when some primary is eligible (so backups must not be used).
bool anyPrimaryEligible(const upstream::Pool& pool, const Eligibility& eligible);

// Fills `out` with the eligible primaries, or when there are none the eligible backups.
// `out` is the caller's preallocated scratch (capacity = members): no allocation.
void collectEligible(const upstream::Pool& pool, const Eligibility& eligible,
                     std::vector<uint32_t>& out);

}  // namespace fulcrum::balancer
