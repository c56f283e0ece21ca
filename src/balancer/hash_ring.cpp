#include "fulcrum/balancer/hash_ring.h"

#include <algorithm>
#include <bit>

#include "fulcrum/balancer/hash.h"

namespace fulcrum::balancer {

HashRing::HashRing(const upstream::Pool& pool, const std::vector<uint32_t>& tier) {
  uint64_t total_weight = 0;
  for (uint32_t i : tier) total_weight += pool.members[i].weight;
  if (total_weight == 0) {
    buckets_.assign(2, 0);
    return;
  }
  while (points_per_weight_ > 1 && total_weight * points_per_weight_ > kMaxPoints) {
    points_per_weight_ /= 2;
  }
  struct Point {
    uint64_t hash;
    uint32_t owner;
  };
  std::vector<Point> points;
  points.reserve(total_weight * points_per_weight_);
  for (uint32_t i : tier) {
    const std::string& address = pool.members[i].address();
    const uint64_t count = uint64_t{pool.members[i].weight} * points_per_weight_;
    for (uint64_t j = 0; j < count; ++j) points.push_back({xxh64(address, j), i});
  }
  // Equal hashes are ordered by address, not by position in the file.
  std::sort(points.begin(), points.end(), [&](const Point& a, const Point& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return pool.members[a.owner].address() < pool.members[b.owner].address();
  });
  hashes_.reserve(points.size());
  owners_.reserve(points.size());
  for (const Point& p : points) {
    hashes_.push_back(p.hash);
    owners_.push_back(p.owner);
  }
  // About two points per bucket.
  const auto bits =
      static_cast<unsigned>(std::max(1, static_cast<int>(std::bit_width(points.size())) - 1));
  shift_ = 64 - bits;
  buckets_.assign((size_t{1} << bits) + 1, 0);
  size_t point = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    while (point < hashes_.size() && (hashes_[point] >> shift_) < b) ++point;
    buckets_[b] = static_cast<uint32_t>(point);
  }
}

}  // namespace fulcrum::balancer
