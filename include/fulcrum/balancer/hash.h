#pragma once
// Fixed-seed hashing shared by hash keys, the consistent-hash ring and sticky state. XXH64
// (reads bytes little-endian on every platform), so a key hashes the same on every worker,
// instance and restart. hashKey/hashAddress are declared in pool_balancer.h.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fulcrum::balancer {

inline constexpr uint64_t kHashSeed = 0;

uint64_t xxh64(const void* data, size_t length, uint64_t seed);
inline uint64_t xxh64(std::string_view bytes, uint64_t seed) {
  return xxh64(bytes.data(), bytes.size(), seed);
}

// A strong 64-bit finalizer (splitmix64's), for mixing integers.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace fulcrum::balancer
