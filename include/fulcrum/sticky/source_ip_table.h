#pragma once
// source_ip stickiness: client IP -> backend, shared by every worker (HAProxy stick-table
// vocabulary: lookup, get-or-create, touch, evict oldest, expire).
//
// Thread rule: the one lock on the data path, sharded. Each shard is a mutex over an
// open-addressing index and an intrusive LRU list of nodes preallocated at construction, so
// nothing allocates, frees or does I/O under a lock and a critical section is a few
// loads and stores. Entries expire `ttl` after their last use. `capacity` bounds the whole
// table, and when it is full the table's least recently used entry goes (each shard's LRU
// tail is a candidate; the oldest of them is evicted), so no client loses its entry while
// the table has room: a shard has nodes for twice its share (and for at least 64 entries,
// up to `capacity`), since keys do not spread evenly, and only a shard that has used all of
// them evicts from itself before the table is full.
//
// The value is an opaque 64-bit backend identity (the balancer stores a hash of the
// backend's address), which stays meaningful across reloads that reorder or edit a pool.

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace fulcrum::sticky {

// A client IP without port; IPv4 is stored mapped into IPv6 (::ffff:a.b.c.d), so a client
// seen on a v4 and a dual-stack socket is one key.
struct IpKey {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool operator==(const IpKey&) const = default;
  // False for a null or non-IP address.
  static bool fromSockaddr(const sockaddr* addr, IpKey& out);
};

class SourceIpTable {
 public:
  static constexpr size_t kDefaultShards = 16;

  SourceIpTable(size_t capacity, std::chrono::milliseconds ttl, size_t shards = kDefaultShards);
  ~SourceIpTable();
  SourceIpTable(const SourceIpTable&) = delete;
  SourceIpTable& operator=(const SourceIpTable&) = delete;

  // The backend remembered for `key` (and marks it used now), or nullopt when absent or
  // expired (an expired entry is dropped).
  std::optional<uint64_t> lookup(const IpKey& key, int64_t now_ms);
  // Remembers (or replaces) key -> backend as used now, evicting the table's least recently
  // used entry when it is full.
  void remember(const IpKey& key, uint64_t backend, int64_t now_ms) {
    store(key, backend, now_ms, nullptr);
  }
  // remember(), unless the entry changed since the caller's lookup() returned `seen` (nullopt:
  // absent): then another worker remembered a backend for the same client in between (its
  // first connections, opened in parallel, landed on two workers), and that one is kept,
  // marked used, and returned. Otherwise `backend` is stored and returned. The caller uses
  // what comes back, so one client's parallel first connections end on one backend.
  uint64_t claim(const IpKey& key, uint64_t backend, std::optional<uint64_t> seen, int64_t now_ms) {
    return store(key, backend, now_ms, &seen);
  }
  // Drops every expired entry; returns how many (control thread: from a timer, and before
  // fulcrum_sticky_entries is read).
  size_t expire(int64_t now_ms);
  // Entries held (may include expired ones not yet dropped): fulcrum_sticky_entries.
  size_t size() const { return entries_.load(std::memory_order_relaxed); }
  size_t capacity() const { return capacity_; }
  std::chrono::milliseconds ttl() const { return std::chrono::milliseconds(ttl_ms_); }

 private:
  struct Shard;
  Shard& shardFor(uint64_t hash) const;
  // Both of the above: `seen` null replaces unconditionally.
  uint64_t store(const IpKey& key, uint64_t backend, int64_t now_ms,
                 const std::optional<uint64_t>* seen);
  void removeNode(Shard& shard, uint32_t n);
  // While the table holds more than `capacity_` entries: drops the oldest shard tail.
  void evictOverCapacity();

  size_t capacity_;
  std::atomic<size_t> entries_{0};
  int64_t ttl_ms_;
  size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

using SourceIpTableSharedPtr = std::shared_ptr<SourceIpTable>;

}  // namespace fulcrum::sticky
