#include "fulcrum/balancer/weighted_sampler.h"

namespace fulcrum::balancer {
namespace {
constexpr int kDrawAttempts = 8;
}  // namespace

WeightedSampler::WeightedSampler(const upstream::Pool& pool, const std::vector<uint32_t>& indices) {
  const size_t n = indices.size();
  if (n == 0) return;
  uint64_t total = 0;
  for (uint32_t i : indices) total += pool.members[i].weight;
  // Integer Vose: scaled[i] = weight * n, compared with the total (the mean is total/n).
  std::vector<uint64_t> scaled(n);
  std::vector<uint32_t> small, large;
  for (size_t k = 0; k < n; ++k) {
    scaled[k] = uint64_t{pool.members[indices[k]].weight} * n;
    (scaled[k] < total ? small : large).push_back(static_cast<uint32_t>(k));
  }
  slots_.resize(n);
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back();
    small.pop_back();
    const uint32_t l = large.back();
    slots_[s] = {static_cast<uint32_t>((scaled[s] << 32) / total), indices[s], indices[l]};
    scaled[l] -= total - scaled[s];
    if (scaled[l] < total) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left is full (up to rounding): always the member itself.
  for (uint32_t k : large) slots_[k] = {UINT32_MAX, indices[k], indices[k]};
  for (uint32_t k : small) slots_[k] = {UINT32_MAX, indices[k], indices[k]};
}

TieredSamplerConstSharedPtr tieredSamplerOf(const upstream::Pool& pool,
                                            const PolicySharedPtr& shared) {
  if (auto tiers = std::dynamic_pointer_cast<const TieredSampler>(shared)) return tiers;
  return std::make_shared<TieredSampler>(pool);
}

const upstream::PoolMember* drawEligible(const upstream::Pool& pool, const WeightedSampler& s,
                                         Rng& rng, const Eligibility& eligible, uint32_t exclude) {
  if (s.empty()) return nullptr;
  for (int attempt = 0; attempt < kDrawAttempts; ++attempt) {
    const uint32_t i = s.sample(rng.next());
    if (i != exclude && eligible(pool.members[i])) return &pool.members[i];
  }
  return nullptr;
}

const upstream::PoolMember* pickWeighted(const upstream::Pool& pool,
                                         const std::vector<uint32_t>& candidates, Rng& rng,
                                         uint32_t exclude) {
  uint64_t total = 0;
  for (uint32_t i : candidates) {
    if (i != exclude) total += pool.members[i].weight;
  }
  if (total == 0) return nullptr;
  uint64_t r = rng.below(total);
  for (uint32_t i : candidates) {
    if (i == exclude) continue;
    const uint32_t w = pool.members[i].weight;
    if (r < w) return &pool.members[i];
    r -= w;
  }
  return nullptr;  // unreachable
}

void drawTwo(const upstream::Pool& pool, const TieredSampler& tiers, Rng& rng,
             const Eligibility& eligible, std::vector<uint32_t>& scratch,
             const upstream::PoolMember*& first, const upstream::PoolMember*& second) {
  first = drawEligible(pool, tiers.primaries(), rng, eligible);
  if (first != nullptr) {
    second = drawEligible(pool, tiers.primaries(), rng, eligible, first->index);
    if (second != nullptr || pool.primaries.size() < 2) return;
  }
  // Unlucky draws, many ineligible primaries, or backups: decide on an exact scan.
  collectEligible(pool, eligible, scratch);
  if (first == nullptr) first = pickWeighted(pool, scratch, rng);
  second = first == nullptr ? nullptr : pickWeighted(pool, scratch, rng, first->index);
}

}  // namespace fulcrum::balancer
