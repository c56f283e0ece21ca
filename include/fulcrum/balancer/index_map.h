#pragma once
// A read-only map from a 64-bit key (already a hash) to a member index: open addressing,
// linear probing, at most half full, so a lookup is one or two loads. Immutable after build.

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "fulcrum/balancer/hash.h"

namespace fulcrum::balancer {

class IndexMap {
 public:
  IndexMap() = default;
  // Later duplicates of a key are ignored (the first member wins).
  explicit IndexMap(const std::vector<std::pair<uint64_t, uint32_t>>& entries) {
    size_t capacity = 2;
    while (capacity < 2 * entries.size()) capacity *= 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const auto& [key, value] : entries) {
      size_t i = mix64(key) & mask_;
      while (slots_[i].value_plus_one != 0 && slots_[i].key != key) i = (i + 1) & mask_;
      if (slots_[i].value_plus_one == 0) slots_[i] = {key, value + 1};
    }
  }

  std::optional<uint32_t> find(uint64_t key) const {
    if (slots_.empty()) return std::nullopt;
    for (size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].value_plus_one == 0) return std::nullopt;
      if (slots_[i].key == key) return slots_[i].value_plus_one - 1;
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t value_plus_one = 0;  // 0 = empty
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace fulcrum::balancer
