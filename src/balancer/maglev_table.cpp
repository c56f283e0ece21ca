#include "fulcrum/balancer/maglev_table.h"

#include <algorithm>

#include "fulcrum/balancer/hash.h"
#include "fulcrum/core/log.h"

namespace fulcrum::balancer {
namespace {

constexpr uint64_t kOffsetSeed = 0x6d61676c65763031ULL;  // "maglev01"
constexpr uint64_t kSkipSeed = 0x6d61676c65763032ULL;    // "maglev02"
constexpr uint16_t kEmpty = UINT16_MAX;

struct Builder {
  uint64_t offset;
  uint64_t skip;
  uint64_t next = 0;  // position in its permutation
  uint64_t weight;
  uint64_t target;  // the round at which it may claim its next slot, x max weight
};

}  // namespace

MaglevTable::MaglevTable(const upstream::Pool& pool, const std::vector<uint32_t>& tier) {
  members_ = tier;
  std::sort(members_.begin(), members_.end(), [&](uint32_t a, uint32_t b) {
    return pool.members[a].address() < pool.members[b].address();
  });
  if (members_.size() > kMaxMembers) {
    log::error("pool {}: consistent_hash uses the first {} of {} backends", pool.name(),
               kMaxMembers, members_.size());
    members_.resize(kMaxMembers);
  }
  if (members_.empty()) return;

  uint64_t max_weight = 0;
  for (uint32_t m : members_) max_weight = std::max<uint64_t>(max_weight, pool.members[m].weight);
  std::vector<Builder> builders;
  builders.reserve(members_.size());
  for (uint32_t m : members_) {
    const std::string& address = pool.members[m].address();
    builders.push_back({xxh64(address, kOffsetSeed) % kSize,
                        xxh64(address, kSkipSeed) % (kSize - 1) + 1, 0, pool.members[m].weight,
                        max_weight});
  }
  slots_.assign(kSize, kEmpty);
  uint32_t filled = 0;
  // Round r lets a backend claim a slot once r x weight reaches its target: the heaviest
  // claims every round, one of a third of its weight every third round.
  for (uint64_t round = 1; filled < kSize; ++round) {
    for (size_t i = 0; i < builders.size() && filled < kSize; ++i) {
      Builder& b = builders[i];
      if (round * b.weight < b.target) continue;
      b.target += max_weight;
      uint64_t slot;
      do {
        slot = (b.offset + b.next * b.skip) % kSize;
        ++b.next;
      } while (slots_[slot] != kEmpty);
      slots_[slot] = static_cast<uint16_t>(i);
      ++filled;
    }
  }
}

}  // namespace fulcrum::balancer
