#include "fulcrum/sticky/source_ip_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "fulcrum/sticky/table_registry.h"

namespace fulcrum::sticky {
namespace {

using std::chrono::milliseconds;

IpKey key(uint32_t i) { return IpKey{0, (uint64_t{0xffff} << 32) | i}; }

TEST(StickySourceIpTable, RemembersAndReplaces) {
  SourceIpTable table(100, milliseconds(1000));
  EXPECT_FALSE(table.lookup(key(1), 0).has_value());
  table.remember(key(1), 42, 0);
  EXPECT_EQ(table.lookup(key(1), 10), 42u);
  table.remember(key(1), 43, 20);
  EXPECT_EQ(table.lookup(key(1), 30), 43u);
  EXPECT_EQ(table.size(), 1u);
}

// claim(): what a worker stores after it looked up a client and picked a backend. Another
// worker's entry made in between stands (one client's parallel first connections); an entry
// the caller saw (an unusable backend it picked around) or an expired one is replaced.
TEST(StickySourceIpTable, ClaimKeepsAnEntryMadeSinceTheLookup) {
  SourceIpTable table(100, milliseconds(1000));
  EXPECT_EQ(table.claim(key(1), 42, std::nullopt, 0), 42u);  // absent: stored
  EXPECT_EQ(table.claim(key(1), 43, std::nullopt, 5), 42u);  // made since a miss: kept
  EXPECT_EQ(table.lookup(key(1), 6), 42u);
  EXPECT_EQ(table.claim(key(1), 44, 42, 10), 44u);              // the one seen: replaced
  EXPECT_EQ(table.claim(key(1), 45, 42, 11), 44u);              // replaced by another since: kept
  EXPECT_EQ(table.claim(key(1), 46, std::nullopt, 5000), 46u);  // expired: replaced
  EXPECT_EQ(table.lookup(key(1), 5001), 46u);
  EXPECT_EQ(table.size(), 1u);
}

TEST(StickySourceIpTable, EntriesExpireTtlAfterLastUse) {
  SourceIpTable table(100, milliseconds(1000));
  table.remember(key(1), 7, 0);
  EXPECT_EQ(table.lookup(key(1), 900), 7u);              // use refreshes it
  EXPECT_EQ(table.lookup(key(1), 1800), 7u);             // 900 ms after the last use
  EXPECT_FALSE(table.lookup(key(1), 2800).has_value());  // 1000 ms after: gone
  EXPECT_EQ(table.size(), 0u);
}

TEST(StickySourceIpTable, ExpireDropsOldEntries) {
  SourceIpTable table(100, milliseconds(1000));
  for (uint32_t i = 0; i < 50; ++i) table.remember(key(i), i, i < 20 ? 0 : 500);
  EXPECT_EQ(table.size(), 50u);
  EXPECT_EQ(table.expire(1200), 20u);
  EXPECT_EQ(table.size(), 30u);
  EXPECT_EQ(table.lookup(key(25), 1200), 25u);
}

TEST(StickySourceIpTable, EvictsLeastRecentlyUsedWhenFull) {
  SourceIpTable table(3, milliseconds(60'000), 1);  // one shard: global LRU order
  table.remember(key(1), 1, 0);
  table.remember(key(2), 2, 1);
  table.remember(key(3), 3, 2);
  EXPECT_EQ(table.lookup(key(1), 3), 1u);  // 1 is now the most recent; 2 the least
  table.remember(key(4), 4, 4);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_FALSE(table.lookup(key(2), 5).has_value());
  EXPECT_EQ(table.lookup(key(1), 5), 1u);
  EXPECT_EQ(table.lookup(key(3), 5), 3u);
  EXPECT_EQ(table.lookup(key(4), 5), 4u);
}

TEST(StickySourceIpTable, ShardedTableHoldsCapacityAndEvictsTheTablesOldest) {
  // Capacity and LRU order are the whole table's, not a shard's: the last 1,000 clients are
  // all there, however their keys spread over the 16 shards.
  SourceIpTable table(1000, milliseconds(60'000));
  for (uint32_t i = 0; i < 20'000; ++i) table.remember(key(i), i, i);
  EXPECT_EQ(table.size(), 1000u);
  for (uint32_t i = 19'000; i < 20'000; ++i) ASSERT_EQ(table.lookup(key(i), 20'000), i);
  EXPECT_FALSE(table.lookup(key(18'999), 20'000).has_value());
}

TEST(StickySourceIpTable, SmallTableKeepsEveryClientUntilFull) {
  // A few clients in a table of their number: none may lose its entry (each shard alone has
  // nodes for the whole table).
  for (uint32_t capacity : {3u, 10u, 64u}) {
    SourceIpTable table(capacity, milliseconds(60'000));
    for (uint32_t i = 0; i < capacity; ++i) table.remember(key(i), i, i);
    EXPECT_EQ(table.size(), capacity);
    for (uint32_t i = 0; i < capacity; ++i)
      ASSERT_EQ(table.lookup(key(i), capacity + i), i) << "capacity " << capacity;
    // Key 0 was used longest ago (lookups touched them in order): one more client evicts it.
    table.remember(key(capacity), capacity, 3 * capacity);
    EXPECT_EQ(table.size(), capacity);
    EXPECT_FALSE(table.lookup(key(0), 3 * capacity).has_value()) << "capacity " << capacity;
    for (uint32_t i = 1; i <= capacity; ++i) EXPECT_EQ(table.lookup(key(i), 3 * capacity), i);
  }
}

TEST(StickySourceIpTable, DeletionKeepsProbeChainsIntact) {
  // Many inserts, expiries and evictions in a small table: every live key stays findable.
  SourceIpTable table(64, milliseconds(100), 1);
  for (uint32_t round = 0; round < 50; ++round) {
    for (uint32_t i = 0; i < 64; ++i)
      table.remember(key(round * 37 + i), round * 37 + i, round * 60);
    for (uint32_t i = 0; i < 64; ++i) {
      ASSERT_EQ(table.lookup(key(round * 37 + i), round * 60), round * 37 + i);
    }
  }
}

TEST(StickySourceIpTable, IpKeyIgnoresPortAndMapsIpv4) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(5555);
  inet_pton(AF_INET, "198.51.100.9", &v4.sin_addr);
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  mapped.sin6_port = htons(1);
  inet_pton(AF_INET6, "::ffff:198.51.100.9", &mapped.sin6_addr);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
  IpKey a, b, c;
  ASSERT_TRUE(IpKey::fromSockaddr(reinterpret_cast<sockaddr*>(&v4), a));
  ASSERT_TRUE(IpKey::fromSockaddr(reinterpret_cast<sockaddr*>(&mapped), b));
  ASSERT_TRUE(IpKey::fromSockaddr(reinterpret_cast<sockaddr*>(&v6), c));
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a == c);
  EXPECT_FALSE(IpKey::fromSockaddr(nullptr, a));
}

TEST(StickySourceIpTable, ConcurrentWorkersSmoke) {
  SourceIpTable table(2000, milliseconds(50));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&table, &wrong, t] {
      for (uint32_t i = 0; i < 50'000; ++i) {
        const uint32_t k = (i * 7919 + t) % 5000;  // overlapping keys across threads
        const int64_t now = i / 100;
        if (auto v = table.lookup(key(k), now)) {
          if (*v != k) wrong.fetch_add(1);
        } else {
          table.remember(key(k), k, now);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(table.size(), 2000u);
  table.expire(1'000'000);
  EXPECT_EQ(table.size(), 0u);
}

config::PoolConfig stickyPool(const std::string& name, uint32_t size, int ttl_ms) {
  config::PoolConfig pool;
  pool.name = name;
  pool.sticky.mode = config::StickyMode::kSourceIp;
  pool.sticky.table_size = size;
  pool.sticky.ttl = config::Duration(ttl_ms);
  return pool;
}

TEST(StickyTableRegistry, KeepsTableWhileSettingsAreUnchanged) {
  TableRegistry registry;
  auto web = registry.get(stickyPool("web", 100, 1000));
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->capacity(), 100u);
  EXPECT_EQ(registry.get(stickyPool("web", 100, 1000)), web);
  EXPECT_NE(registry.get(stickyPool("web", 100, 2000)), web);  // new ttl: new table
  EXPECT_NE(registry.get(stickyPool("other", 100, 1000)), nullptr);
  config::PoolConfig plain;
  plain.name = "plain";
  EXPECT_EQ(registry.get(plain), nullptr);

  config::Config config;
  config.pools.push_back(stickyPool("web", 100, 2000));
  config.pools.push_back(plain);
  registry.retainOnly(config);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.tables()[0].first, "web");
}

TEST(StickyTableRegistry, ExpireAllDropsQuietClients) {
  TableRegistry registry;
  auto table = registry.get(stickyPool("web", 100, 1000));
  table->remember(key(1), 1, 0);
  table->remember(key(2), 2, 800);
  EXPECT_EQ(registry.expireAll(1500), 1u);
  EXPECT_EQ(table->size(), 1u);
}

}  // namespace
}  // namespace fulcrum::sticky
