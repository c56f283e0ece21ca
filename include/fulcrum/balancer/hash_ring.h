#pragma once
// The consistent-hash ring (ketama style): each backend owns weight x pointsPerWeight()
// points at xxh64(address, seed = point number). Built from addresses and weights only, never
// from their order in the file, with a fixed seed, so a key maps to the same backend on every
// worker, instance, reload and restart, and adding or removing one backend moves only about
// its share of the keys.

#include <cstdint>
#include <vector>

#include "fulcrum/upstream/pool.h"

namespace fulcrum::balancer {

// Immutable after build.
class HashRing {
 public:
  // Points per unit of weight: enough for a share within ~1 point of the weight's (10
  // backends), halved (not recomputed) while the ring would exceed kMaxPoints, so the points
  // a backend keeps are a prefix of those it had.
  static constexpr uint32_t kPointsPerWeight = 1024;
  static constexpr size_t kMaxPoints = size_t{1} << 20;

  HashRing(const upstream::Pool& pool, const std::vector<uint32_t>& tier);

  bool empty() const { return hashes_.empty(); }
  size_t size() const { return hashes_.size(); }
  uint32_t pointsPerWeight() const { return points_per_weight_; }
  // The first point clockwise from `hash` (at or after it, wrapping).
  size_t find(uint64_t hash) const {
    size_t i = buckets_[hash >> shift_];
    while (i < hashes_.size() && hashes_[i] < hash) ++i;
    return i == hashes_.size() ? 0 : i;
  }
  size_t next(size_t point) const { return point + 1 == hashes_.size() ? 0 : point + 1; }
  uint32_t owner(size_t point) const { return owners_[point]; }  // a member index
  uint64_t pointHash(size_t point) const { return hashes_[point]; }

 private:
  std::vector<uint64_t> hashes_;  // sorted
  std::vector<uint32_t> owners_;
  // buckets_[b]: the first point whose hash >> shift_ is >= b. Turns the binary search of a
  // large ring into one load and a scan of ~2 points.
  std::vector<uint32_t> buckets_;
  unsigned shift_ = 63;
  uint32_t points_per_weight_ = kPointsPerWeight;
};

}  // namespace fulcrum::balancer
