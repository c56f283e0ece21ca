#pragma once
// The balancing policy interface (ARCHITECTURE.md "Balancing policies"). Knows nothing of
// HTTP: a policy sees pool members, their BackendState and a PickContext.

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "fulcrum/config/config.h"
#include "fulcrum/upstream/pool.h"

namespace fulcrum::balancer {

using MonotonicTime = std::chrono::steady_clock::time_point;

// Backends already attempted for one request: a retry never lands on one of them.
// Worker-local, fixed size, no allocation (retries are few; past kMax it forgets nothing:
// further adds are ignored and contains() stays true for what it holds).
class TriedSet {
 public:
  static constexpr size_t kMax = 16;
  void add(uint32_t index) {
    if (size_ < kMax) items_[size_++] = index;
  }
  bool contains(uint32_t index) const {
    for (size_t i = 0; i < size_; ++i)
      if (items_[i] == index) return true;
    return false;
  }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }

 private:
  std::array<uint32_t, kMax> items_{};
  size_t size_ = 0;
};

struct PickContext {
  std::optional<uint64_t> hash;     // from the pool's hash_key (consistent_hash)
  const TriedSet* tried = nullptr;  // may be null: nothing tried yet
  MonotonicTime now = std::chrono::steady_clock::now();
  const sockaddr* client_addr = nullptr;  // source_ip affinity / hash
  std::string_view affinity_token;        // cookie affinity: the sticky cookie's value
};

// Worker-local: one per (worker, pool, snapshot). Mutable state (a cursor) lives here.
class Picker {
 public:
  virtual ~Picker() = default;
  // nullptr: no eligible backend.
  virtual const upstream::PoolMember* pick(const PickContext& ctx) = 0;
};
using PickerPtr = std::unique_ptr<Picker>;

// Immutable after build, shared by the workers (a hash ring).
class PolicyShared {
 public:
  virtual ~PolicyShared() = default;
};
using PolicySharedPtr = std::shared_ptr<const PolicyShared>;

// One per `policy:` name, registered in builtin_policies.cpp.
class PolicyFactory {
 public:
  virtual ~PolicyFactory() = default;
  virtual std::string_view name() const = 0;
  // Control thread. Appends human-readable problems (the config loader adds the position).
  virtual void validate(const config::PoolConfig& pool, std::vector<std::string>& errors) const {
    (void)pool;
    (void)errors;
  }
  // Control thread: the immutable shared part (may be null).
  virtual PolicySharedPtr build(const upstream::Pool& pool) const = 0;
  // Worker thread: a cheap picker. `previous` is this worker's picker of the same pool in
  // the previous snapshot (null if none), so a cursor survives a reload. `seed` seeds its
  // randomness (tests pass a fixed one; workers a random one).
  virtual PickerPtr createPicker(const upstream::Pool& pool, PolicySharedPtr shared,
                                 const Picker* previous, uint64_t seed) const = 0;
};

// The registry (builtin_policies.cpp). nullptr for an unknown name.
const PolicyFactory* findPolicy(std::string_view name);
std::vector<std::string_view> policyNames();

}  // namespace fulcrum::balancer
