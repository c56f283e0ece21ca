#pragma once
// Everything a worker needs to pick a backend of one pool: the pool, its policy's shared
// part and its sticky state. Immutable after build (the sticky table is internally sharded
// and locked: the one named lock on the data path).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fulcrum/balancer/index_map.h"
#include "fulcrum/balancer/policy.h"
#include "fulcrum/upstream/pool.h"

namespace fulcrum::sticky {
class SourceIpTable;
class TableRegistry;
}  // namespace fulcrum::sticky

namespace fulcrum::balancer {

struct PoolBalancer {
  upstream::PoolConstSharedPtr pool;
  const PolicyFactory* factory = nullptr;
  PolicySharedPtr shared;
  // Cookie stickiness: cookie_ids[i] is members[i]'s opaque cookie value.
  std::vector<std::string> cookie_ids;
  // source_ip stickiness: shared by all workers, carried across reloads for unchanged pools.
  std::shared_ptr<sticky::SourceIpTable> source_ip_table;
  // address_hashes[i] = hashKey(members[i].address()): the backend identity a source-IP table
  // stores, stable across reloads that reorder or reweight the pool.
  std::vector<uint64_t> address_hashes;
  // Member index by a cookie id's first 64 bits, and by address hash.
  IndexMap cookie_index;
  IndexMap address_index;

  // The cookie value that routes to `member` (empty unless sticky.mode is cookie).
  std::string_view cookieFor(const upstream::PoolMember& member) const;
  // The member whose cookie id is `token` (nullptr: none; any malformed token is a miss).
  const upstream::PoolMember* findByCookie(std::string_view token) const;
  // The member whose address hashes to `hash` (nullptr: none).
  const upstream::PoolMember* findByAddressHash(uint64_t hash) const;
};
using PoolBalancerConstSharedPtr = std::shared_ptr<const PoolBalancer>;

// Control thread: builds the pool, its policy and sticky state.
PoolBalancerConstSharedPtr buildPoolBalancer(const config::PoolConfig& config, uint32_t id,
                                             upstream::BackendRegistry& backends,
                                             sticky::TableRegistry& tables);

// Worker thread: the policy's picker, wrapped in the sticky decorator when the pool has
// `sticky:`. `previous` is the worker's picker for the same pool name in the last snapshot.
PickerPtr createPoolPicker(const PoolBalancer& balancer, const Picker* previous, uint64_t seed);

// Fixed-seed 64-bit hash for hash keys: the same on every worker, instance and restart.
uint64_t hashKey(std::string_view bytes);
// Hash of a client address (IP only, no port) for hash_key: source_ip.
uint64_t hashAddress(const sockaddr* addr);

}  // namespace fulcrum::balancer
