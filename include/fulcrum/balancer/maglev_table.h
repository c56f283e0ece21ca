#pragma once
// The consistent-hash lookup table (Maglev, Eisenbud et al., NSDI 2016, weighted as in
// Envoy's maglev_lb.cc). Each backend walks its own permutation of the kSize slots, derived
// from xxh64 of its ADDRESS with fixed seeds, and the backends take turns (a backend of half
// the top weight every other round) claiming their next free slot until the table is full.
// The turn order is the address order, never the order in the file, so every worker,
// instance, reload and restart builds the same table.
//
// Why Maglev and not a ring: a lookup is one load from a 1.3 MB table (a ring with enough
// points for even shares is several MB of random reads), shares are even to within a slot,
// and removing one of 10 backends moves ~10.1% of keys (ideal 10%). The price: in pools of
// hundreds of backends a change moves a few times the ideal fraction (0.4% instead of 0.1%
// of keys at 1,000 backends).

#include <cstdint>
#include <vector>

#include "fulcrum/upstream/pool.h"

namespace fulcrum::balancer {

// Immutable after build.
class MaglevTable {
 public:
  // Prime, fixed: a size that changed with the pool would remap every key. Good for pools of
  // up to a few thousand backends (Maglev wants size >> backends).
  static constexpr uint32_t kSize = 655'373;
  // Slots hold a position in the tier (16 bits keep the table in 1.3 MB).
  static constexpr size_t kMaxMembers = 65'535;

  MaglevTable(const upstream::Pool& pool, const std::vector<uint32_t>& tier);

  bool empty() const { return slots_.empty(); }
  uint32_t size() const { return static_cast<uint32_t>(slots_.size()); }
  // The slot of a 64-bit key hash (multiply-shift: no division by the prime).
  uint32_t slotOf(uint64_t hash) const {
    return static_cast<uint32_t>((static_cast<unsigned __int128>(hash) * kSize) >> 64);
  }
  uint32_t next(uint32_t slot) const { return slot + 1 == kSize ? 0 : slot + 1; }
  uint32_t owner(uint32_t slot) const { return members_[slots_[slot]]; }  // a member index

 private:
  std::vector<uint16_t> slots_;    // tier position of each slot's owner
  std::vector<uint32_t> members_;  // tier position -> member index (address order)
};

}  // namespace fulcrum::balancer
