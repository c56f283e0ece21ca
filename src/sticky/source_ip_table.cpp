#include "fulcrum/sticky/source_ip_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>
#include <vector>

namespace fulcrum::sticky {
namespace {

constexpr uint32_t kNil = UINT32_MAX;
// Expired entries dropped from the LRU tail per insert: bounds the time under the lock; the
// control thread's expire() catches up with the rest.
constexpr int kPurgePerInsert = 4;
// Nodes of a shard: twice its share of the capacity, and room for at least this many entries
// (keys spread unevenly, most of all over few shards).
constexpr size_t kMinShardNodes = 64;

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t hashOf(const IpKey& key) { return mix64(key.lo ^ mix64(key.hi)); }

uint64_t load64(const unsigned char* p) {  // big-endian: the key reads like the address
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

struct Node {
  IpKey key;
  uint64_t hash = 0;
  uint64_t backend = 0;
  int64_t last_used_ms = 0;
  uint32_t prev = kNil;  // towards the most recently used
  uint32_t next = kNil;  // towards the least recently used; the free list when unused
};

}  // namespace

bool IpKey::fromSockaddr(const sockaddr* addr, IpKey& out) {
  if (addr == nullptr) return false;
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    unsigned char v4[4];
    std::memcpy(v4, &in->sin_addr, 4);
    out.hi = 0;
    out.lo = (uint64_t{0xffff} << 32) | (uint64_t{v4[0]} << 24) | (uint64_t{v4[1]} << 16) |
             (uint64_t{v4[2]} << 8) | v4[3];
    return true;
  }
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    out.hi = load64(in6->sin6_addr.s6_addr);
    out.lo = load64(in6->sin6_addr.s6_addr + 8);
    return true;
  }
  return false;
}

// Caller must hold mu.
struct alignas(64) SourceIpTable::Shard {
  std::mutex mu;
  std::vector<Node> nodes;      // preallocated: capacity of this shard
  std::vector<uint32_t> index;  // linear probing, node index or kNil; size = 2^k >= 2 x nodes
  uint64_t mask = 0;
  uint32_t head = kNil;  // most recently used
  uint32_t tail = kNil;  // least recently used
  uint32_t free_list = kNil;
  uint32_t bump = 0;  // nodes[bump..] never used yet

  void init(size_t capacity) {
    nodes.resize(capacity);
    const size_t slots = std::bit_ceil(std::max<size_t>(2 * capacity, 2));
    index.assign(slots, kNil);
    mask = slots - 1;
  }
  // The slot holding `key`, or the empty slot where it would go.
  size_t find(const IpKey& key, uint64_t hash) const {
    size_t slot = hash & mask;
    while (index[slot] != kNil && !(nodes[index[slot]].key == key)) slot = (slot + 1) & mask;
    return slot;
  }
  void unlink(uint32_t n) {
    Node& node = nodes[n];
    (node.prev == kNil ? head : nodes[node.prev].next) = node.next;
    (node.next == kNil ? tail : nodes[node.next].prev) = node.prev;
    node.prev = node.next = kNil;
  }
  void pushFront(uint32_t n) {
    nodes[n].prev = kNil;
    nodes[n].next = head;
    if (head != kNil) nodes[head].prev = n;
    head = n;
    if (tail == kNil) tail = n;
  }
  // Backward-shift deletion: keeps every probe chain unbroken without tombstones.
  void eraseSlot(size_t hole) {
    size_t slot = hole;
    for (;;) {
      slot = (slot + 1) & mask;
      if (index[slot] == kNil) break;
      const size_t home = nodes[index[slot]].hash & mask;
      // The entry at `slot` may fill the hole unless its home lies cyclically in (hole, slot].
      const bool stays =
          hole <= slot ? (home > hole && home <= slot) : (home > hole || home <= slot);
      if (!stays) {
        index[hole] = index[slot];
        hole = slot;
      }
    }
    index[hole] = kNil;
  }
  void remove(uint32_t n) {
    eraseSlot(find(nodes[n].key, nodes[n].hash));
    unlink(n);
    nodes[n].next = free_list;
    free_list = n;
  }
  bool expired(uint32_t n, int64_t now_ms, int64_t ttl_ms) const {
    return nodes[n].last_used_ms + ttl_ms <= now_ms;
  }
};

SourceIpTable::SourceIpTable(size_t capacity, std::chrono::milliseconds ttl, size_t shards)
    : capacity_(capacity),
      ttl_ms_(ttl.count()),
      shard_count_(std::clamp<size_t>(std::min(shards, capacity), 1, 4096)),
      shards_(new Shard[shard_count_]) {
  const size_t share = (capacity + shard_count_ - 1) / shard_count_;
  const size_t nodes = std::min(capacity, std::max(2 * share, kMinShardNodes));
  for (size_t i = 0; i < shard_count_; ++i) shards_[i].init(nodes);
}

SourceIpTable::~SourceIpTable() = default;

void SourceIpTable::removeNode(Shard& shard, uint32_t n) {
  shard.remove(n);
  entries_.fetch_sub(1, std::memory_order_relaxed);
}

SourceIpTable::Shard& SourceIpTable::shardFor(uint64_t hash) const {
  // High bits pick the shard, low bits the slot within it.
  return shards_[static_cast<size_t>((static_cast<unsigned __int128>(hash >> 32) * shard_count_) >>
                                     32)];
}

std::optional<uint64_t> SourceIpTable::lookup(const IpKey& key, int64_t now_ms) {
  const uint64_t hash = hashOf(key);
  Shard& shard = shardFor(hash);
  std::lock_guard lock(shard.mu);
  const size_t slot = shard.find(key, hash);
  const uint32_t n = shard.index[slot];
  if (n == kNil) return std::nullopt;
  if (shard.expired(n, now_ms, ttl_ms_)) {
    removeNode(shard, n);
    return std::nullopt;
  }
  // Touched already this millisecond: its place in the LRU order cannot change.
  if (shard.nodes[n].last_used_ms != now_ms && shard.head != n) {
    shard.unlink(n);
    shard.pushFront(n);
  }
  shard.nodes[n].last_used_ms = now_ms;
  return shard.nodes[n].backend;
}

uint64_t SourceIpTable::store(const IpKey& key, uint64_t backend, int64_t now_ms,
                              const std::optional<uint64_t>* seen) {
  const uint64_t hash = hashOf(key);
  Shard& shard = shardFor(hash);
  {
    std::lock_guard lock(shard.mu);
    if (shard.nodes.empty()) return backend;
    size_t slot = shard.find(key, hash);
    uint32_t n = shard.index[slot];
    if (n != kNil) {
      Node& node = shard.nodes[n];
      // Changed since the caller looked (a live entry it did not see): that one stands.
      const bool keep = seen != nullptr && !shard.expired(n, now_ms, ttl_ms_) &&
                        (!seen->has_value() || **seen != node.backend);
      if (!keep) node.backend = backend;
      node.last_used_ms = now_ms;
      shard.unlink(n);
      shard.pushFront(n);
      return node.backend;
    }
    for (int i = 0;
         i < kPurgePerInsert && shard.tail != kNil && shard.expired(shard.tail, now_ms, ttl_ms_);
         ++i) {
      removeNode(shard, shard.tail);
    }
    // Every node of this shard in use: it evicts from itself (rare: it has twice its share).
    if (shard.free_list == kNil && shard.bump == shard.nodes.size()) removeNode(shard, shard.tail);
    if (shard.free_list != kNil) {
      n = shard.free_list;
      shard.free_list = shard.nodes[n].next;
    } else {
      n = shard.bump++;
    }
    // Removals may have shifted the probe chain: find the empty slot again.
    slot = shard.find(key, hash);
    Node& node = shard.nodes[n];
    node.key = key;
    node.hash = hash;
    node.backend = backend;
    node.last_used_ms = now_ms;
    shard.index[slot] = n;
    shard.pushFront(n);
    entries_.fetch_add(1, std::memory_order_relaxed);
  }
  // After this shard's lock is released: one lock at a time, so no lock order to keep.
  if (entries_.load(std::memory_order_relaxed) > capacity_) evictOverCapacity();
  return backend;
}

void SourceIpTable::evictOverCapacity() {
  while (entries_.load(std::memory_order_relaxed) > capacity_) {
    // The oldest of the shards' LRU tails is the table's least recently used entry.
    Shard* oldest = nullptr;
    int64_t oldest_ms = 0;
    for (size_t i = 0; i < shard_count_; ++i) {
      Shard& shard = shards_[i];
      std::lock_guard lock(shard.mu);
      if (shard.tail == kNil) continue;
      const int64_t used = shard.nodes[shard.tail].last_used_ms;
      if (oldest == nullptr || used < oldest_ms) {
        oldest = &shard;
        oldest_ms = used;
      }
    }
    if (oldest == nullptr) return;
    std::lock_guard lock(oldest->mu);
    // Another thread may have evicted meanwhile: check again under the lock.
    if (oldest->tail != kNil && entries_.load(std::memory_order_relaxed) > capacity_)
      removeNode(*oldest, oldest->tail);
  }
}

size_t SourceIpTable::expire(int64_t now_ms) {
  size_t removed = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    Shard& shard = shards_[i];
    std::lock_guard lock(shard.mu);
    while (shard.tail != kNil && shard.expired(shard.tail, now_ms, ttl_ms_)) {
      removeNode(shard, shard.tail);
      ++removed;
    }
  }
  return removed;
}

}  // namespace fulcrum::sticky
