#include "fulcrum/balancer/consistent_hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "test_pool.h"

namespace fulcrum::balancer {
namespace {

using testing::backend;
using testing::TestPool;

constexpr int kKeys = 100'000;

std::vector<config::BackendConfig> backends(size_t n, size_t skip = SIZE_MAX) {
  std::vector<config::BackendConfig> out;
  for (size_t i = 0; i < n; ++i) {
    if (i != skip) out.push_back(backend(testing::addressOf(i)));
  }
  return out;
}

const std::vector<uint64_t>& keyHashes() {
  static const std::vector<uint64_t> hashes = [] {
    std::vector<uint64_t> out;
    for (int i = 0; i < kKeys; ++i) out.push_back(testing::keyHash(i));
    return out;
  }();
  return hashes;
}

// The address each key maps to.
std::vector<std::string> mapKeys(const TestPool& tp) {
  auto picker = tp.picker(1);
  std::vector<std::string> out;
  out.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    PickContext ctx;
    ctx.now = testing::testTime(0);
    ctx.hash = keyHashes()[i];
    const auto* m = picker->pick(ctx);
    out.push_back(m == nullptr ? "" : m->address());
  }
  return out;
}

int moved(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  int n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

TEST(BalancerConsistentHash, RemovingOneOfTenMovesAtMostTwelvePercent) {
  TestPool ten(backends(10), "consistent_hash");
  TestPool nine(backends(10, 4), "consistent_hash");
  const auto before = mapKeys(ten);
  const auto after = mapKeys(nine);
  const int n = moved(before, after);
  RecordProperty("moved", n);
  EXPECT_LE(n, kKeys * 12 / 100);
  // Almost only the removed backend's keys move (Maglev reshuffles a few others).
  int others = 0;
  for (int i = 0; i < kKeys; ++i)
    others += before[i] != after[i] && before[i] != testing::addressOf(4);
  EXPECT_LT(others, kKeys / 200);
}

TEST(BalancerConsistentHash, AddingAnEleventhMovesAtMostElevenPercent) {
  TestPool ten(backends(10), "consistent_hash");
  TestPool eleven(backends(11), "consistent_hash");
  const auto before = mapKeys(ten);
  const auto after = mapKeys(eleven);
  const int n = moved(before, after);
  RecordProperty("moved", n);
  EXPECT_LE(n, kKeys * 11 / 100);
  int others = 0;
  for (int i = 0; i < kKeys; ++i)
    others += before[i] != after[i] && after[i] != testing::addressOf(10);
  EXPECT_LT(others, kKeys / 200);
}

TEST(BalancerConsistentHash, SameKeySameBackendWhateverTheOrder) {
  auto list = backends(10);
  TestPool ordered(list, "consistent_hash");
  std::mt19937 rng(3);
  std::shuffle(list.begin(), list.end(), rng);
  TestPool shuffled(list, "consistent_hash");
  EXPECT_EQ(moved(mapKeys(ordered), mapKeys(shuffled)), 0);
}

TEST(BalancerConsistentHash, DownBackendsKeysMoveAndComeBack) {
  TestPool tp(backends(5), "consistent_hash");
  const auto before = mapKeys(tp);
  tp.state(2).health = upstream::Health::kDown;
  const auto during = mapKeys(tp);
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_NE(during[i], testing::addressOf(2));
    if (before[i] != testing::addressOf(2)) {
      ASSERT_EQ(before[i], during[i]);
    }
  }
  tp.state(2).health = upstream::Health::kUp;
  EXPECT_EQ(moved(before, mapKeys(tp)), 0);
}

TEST(BalancerConsistentHash, RetryGoesToTheNextBackendOnTheRing) {
  TestPool tp(backends(5), "consistent_hash");
  auto picker = tp.picker();
  PickContext ctx;
  ctx.now = testing::testTime(0);
  ctx.hash = testing::keyHash(77);
  const auto* first = picker->pick(ctx);
  TriedSet tried;
  tried.add(first->index);
  ctx.tried = &tried;
  const auto* second = picker->pick(ctx);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);
  EXPECT_EQ(picker->pick(ctx), second);  // the same retry target every time
}

TEST(BalancerConsistentHash, NoHashFallsBackToRoundRobin) {
  TestPool tp({1, 1, 1}, "consistent_hash");
  auto picker = tp.picker(4);
  PickContext ctx;
  ctx.now = testing::testTime(0);
  auto counts = TestPool::count(*picker, 300, ctx);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(counts[i], 100);
}

TEST(BalancerConsistentHash, TableSlotsFollowWeights) {
  TestPool tp({5, 3, 2}, "consistent_hash");
  MaglevTable table(tp.pool(), tp.pool().primaries);
  std::vector<uint32_t> slots(3, 0);
  for (uint32_t s = 0; s < table.size(); ++s) ++slots[table.owner(s)];
  EXPECT_NEAR(slots[0] * 100.0 / table.size(), 50.0, 0.1);
  EXPECT_NEAR(slots[1] * 100.0 / table.size(), 30.0, 0.1);
  EXPECT_NEAR(slots[2] * 100.0 / table.size(), 20.0, 0.1);
}

// Each backend's share of the table (the keys a removal would move) for several address sets.
TEST(BalancerConsistentHash, SharesStayCloseToWeights) {
  for (int set = 0; set < 5; ++set) {
    std::vector<config::BackendConfig> list;
    for (int i = 0; i < 10; ++i) {
      list.push_back(backend("172.16." + std::to_string(set) + "." + std::to_string(i * 7 + 3) +
                             ":" + std::to_string(8000 + set)));
    }
    TestPool tp(list, "consistent_hash");
    MaglevTable table(tp.pool(), tp.pool().primaries);
    std::vector<uint32_t> slots(10, 0);
    for (uint32_t s = 0; s < table.size(); ++s) ++slots[table.owner(s)];
    for (int i = 0; i < 10; ++i) {
      EXPECT_NEAR(slots[i] * 100.0 / table.size(), 10.0, 0.1) << "set " << set << " backend " << i;
    }
  }
}

TEST(BalancerConsistentHash, BoundedLoadsSkipOverloadedBackend) {
  TestPool tp(backends(4), "consistent_hash");
  tp.config().hash_balance_factor = 125;
  tp.build();
  const auto before = mapKeys(tp);
  // Backend 0 holds 40 of 40 connections: over 125% of the mean (10), so its keys move on.
  tp.state(0).active = 40;
  const auto during = mapKeys(tp);
  for (int i = 0; i < kKeys; ++i) ASSERT_NE(during[i], testing::addressOf(0));
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] != testing::addressOf(0)) {
      ASSERT_EQ(before[i], during[i]);
    }
  }
  tp.state(0).active = 0;
  EXPECT_EQ(moved(before, mapKeys(tp)), 0);
}

TEST(BalancerConsistentHash, ValidateNeedsHashKey) {
  config::PoolConfig pool;
  pool.policy = "consistent_hash";
  std::vector<std::string> errors;
  findPolicy("consistent_hash")->validate(pool, errors);
  EXPECT_EQ(errors.size(), 1u);
  pool.hash_key.kind = config::HashKeyKind::kSourceIp;
  pool.hash_balance_factor = 50;
  errors.clear();
  findPolicy("consistent_hash")->validate(pool, errors);
  EXPECT_EQ(errors.size(), 1u);
  pool.hash_balance_factor = 125;
  errors.clear();
  findPolicy("consistent_hash")->validate(pool, errors);
  EXPECT_TRUE(errors.empty());
}

}  // namespace
}  // namespace fulcrum::balancer
