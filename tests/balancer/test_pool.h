#pragma once
// Test helper: a pool built from weights (addresses 10.0.0.<i+1>:80), with its own
// BackendRegistry, so policy tests need no config file.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/balancer/pool_balancer.h"
#include "fulcrum/config/config.h"
#include "fulcrum/sticky/table_registry.h"
#include "fulcrum/upstream/pool.h"

namespace fulcrum::balancer::testing {

inline std::string addressOf(size_t i) {
  return "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":80";
}

inline config::BackendConfig backend(std::string address, uint32_t weight = 1, bool backup = false,
                                     uint32_t max_connections = 0) {
  config::BackendConfig b;
  b.address.text = std::move(address);
  b.weight = weight;
  b.backup = backup;
  b.max_connections = max_connections;
  return b;
}

// A fixed clock for PickContexts: tests advance it by hand.
inline MonotonicTime testTime(int64_t ms) {
  return MonotonicTime(std::chrono::milliseconds(1'000'000'000 + ms));
}

// A pick context at time 0 with nothing tried.
inline PickContext contextAtStart() {
  PickContext ctx;
  ctx.now = testTime(0);
  return ctx;
}

inline int64_t steadyMsForTest(int64_t ms) { return 1'000'000'000 + ms; }

// A well-spread 64-bit key hash for key number i (stands in for hashKey of a header).
inline uint64_t keyHash(uint64_t i) { return hashKey("user-" + std::to_string(i)); }

class TestPool {
 public:
  explicit TestPool(const std::vector<uint32_t>& weights, std::string policy = "round_robin") {
    config_.name = "pool";
    config_.policy = std::move(policy);
    for (size_t i = 0; i < weights.size(); ++i)
      config_.backends.push_back(backend(addressOf(i), weights[i]));
    build();
  }
  explicit TestPool(std::vector<config::BackendConfig> backends,
                    std::string policy = "round_robin") {
    config_.name = "pool";
    config_.policy = std::move(policy);
    config_.backends = std::move(backends);
    build();
  }

  config::PoolConfig& config() { return config_; }
  // Rebuilds the pool from config() (a reload): states are kept by address.
  void build() { balancer_ = buildPoolBalancer(config_, 0, registry_, tables_); }
  const upstream::Pool& pool() const { return *balancer_->pool; }
  const PoolBalancer& balancer() const { return *balancer_; }
  PoolBalancerConstSharedPtr balancerPtr() const { return balancer_; }
  upstream::BackendState& state(size_t i) { return *pool().members[i].state; }

  PickerPtr picker(uint64_t seed = 1, const Picker* previous = nullptr) const {
    return createPoolPicker(*balancer_, previous, seed);
  }

  // Member index -> count over n picks; -1 counts nullptr.
  static std::map<int, int> count(Picker& picker, int n, const PickContext& ctx) {
    std::map<int, int> counts;
    for (int i = 0; i < n; ++i) {
      const auto* m = picker.pick(ctx);
      ++counts[m == nullptr ? -1 : static_cast<int>(m->index)];
    }
    return counts;
  }

 private:
  config::PoolConfig config_;
  upstream::BackendRegistry registry_;
  sticky::TableRegistry tables_;
  PoolBalancerConstSharedPtr balancer_;
};

inline int indexOf(const upstream::PoolMember* m) {
  return m == nullptr ? -1 : static_cast<int>(m->index);
}

}  // namespace fulcrum::balancer::testing
