#pragma once
// Seeded fast PRNG for pickers (splitmix64). Worker-local: each picker owns one, seeded from
// the `seed` it was created with, so tests are exact and pick() never touches
// std::random_device or a shared generator.

#include <cstdint>

namespace fulcrum::balancer {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by multiply-shift (no division, bias < n / 2^64).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

}  // namespace fulcrum::balancer
