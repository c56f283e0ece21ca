#include "fulcrum/upstream/backend_state.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fulcrum/upstream/pool.h"

namespace fulcrum::upstream {
namespace {

TEST(UpstreamBackendState, FirstSampleSetsAverageThenDecaysByAlpha) {
  BackendState s;
  EXPECT_EQ(s.decayedEwmaUs(0), 0u);  // no history
  s.recordResponse(20'000, false, 0);
  EXPECT_EQ(s.ewma_us.load(), 20'000u);
  s.recordResponse(10'000, false, 0);
  EXPECT_EQ(s.ewma_us.load(), 17'000u);  // 0.7 x 20 + 0.3 x 10
}

TEST(UpstreamBackendState, FastFailureCountsAsSlow) {
  BackendState s;
  s.recordResponse(1'000, true, 0);
  EXPECT_EQ(s.ewma_us.load(), kFailurePenaltyMinUs);
  BackendState ok;
  ok.recordResponse(20'000, false, 0);
  EXPECT_GT(s.ewma_us.load(), 10 * ok.ewma_us.load());
  // A slow backend that fails: 5x its average, bounded.
  BackendState slow;
  slow.recordResponse(2'000'000, false, 0);
  slow.recordResponse(1'000, true, 0);
  EXPECT_EQ(slow.ewma_us.load(), (2'000'000u * 7 + 10'000'000u * 3) / 10);
  for (int i = 0; i < 100; ++i) slow.recordResponse(1'000, true, 0);
  EXPECT_GE(slow.ewma_us.load(), kMaxEwmaUs - kMaxEwmaUs / 100);
  EXPECT_LE(slow.ewma_us.load(), kMaxEwmaUs);
}

// What /status shows: the time to the answers, error answers too, with no penalty (a backend
// answering 500 in 0.3 ms showed 59 s, the balancer's penalty) and no ageing.
TEST(UpstreamBackendState, AnswerTimeIsThePlainAverageOfAnswers) {
  BackendState s;
  EXPECT_EQ(s.answer_ewma_us.load(), 0u);
  s.recordAnswer(300, false, 0);
  EXPECT_EQ(s.answer_ewma_us.load(), 300u);
  s.recordAnswer(1300, false, 0);
  EXPECT_EQ(s.answer_ewma_us.load(), 600u);                     // 0.7 * 300 + 0.3 * 1300
  for (int i = 0; i < 20; ++i) s.recordResponse(300, true, 0);  // failures: the balancer's only
  EXPECT_EQ(s.answer_ewma_us.load(), 600u);
  EXPECT_GT(s.ewma_us.load(), 1'000'000u);
}

TEST(UpstreamBackendState, OldAverageDecays) {
  BackendState s;
  s.recordResponse(80'000, false, 1'000);
  EXPECT_EQ(s.decayedEwmaUs(1'000), 80'000u);
  EXPECT_EQ(s.decayedEwmaUs(1'000 + kEwmaHalfLifeMs), 40'000u);
  EXPECT_EQ(s.decayedEwmaUs(1'000 + kEwmaHalfLifeMs + kEwmaHalfLifeMs / 2), 30'000u);
  EXPECT_EQ(s.decayedEwmaUs(1'000 + 3 * kEwmaHalfLifeMs), 10'000u);
  EXPECT_EQ(s.decayedEwmaUs(1'000 + 1000 * kEwmaHalfLifeMs), 1u);  // still "has history"
  // A new sample folds into the decayed value.
  s.recordResponse(10'000, false, 1'000 + 3 * kEwmaHalfLifeMs);
  EXPECT_EQ(s.ewma_us.load(), 10'000u);
}

TEST(UpstreamBackendState, ConcurrentRecordsStayInRange) {
  BackendState s;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&s, t] {
      for (int i = 0; i < 20'000; ++i) s.recordResponse(10'000 + 1'000 * t, false, 0);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(s.ewma_us.load(), 10'000u);
  EXPECT_LE(s.ewma_us.load(), 13'000u);
}

TEST(UpstreamBackendState, ActiveCounts) {
  BackendState s;
  s.acquire();
  s.acquire();
  s.release();
  EXPECT_EQ(s.active.load(), 1);
  EXPECT_TRUE(s.isUp());
  s.ejected_until_ms = 500;
  EXPECT_TRUE(s.isEjected(499));
  EXPECT_FALSE(s.isEjected(500));
}

config::PoolConfig poolConfig(const std::string& name,
                              std::vector<std::pair<std::string, uint32_t>> backends) {
  config::PoolConfig pool;
  pool.name = name;
  for (auto& [address, weight] : backends) {
    config::BackendConfig b;
    b.address.text = address;
    b.weight = weight;
    pool.backends.push_back(b);
  }
  return pool;
}

TEST(UpstreamBackendRegistry, StateKeptByPoolAndAddressNotWeight) {
  BackendRegistry registry;
  auto a = registry.get("web", "10.0.0.1:80");
  EXPECT_EQ(registry.get("web", "10.0.0.1:80"), a);
  EXPECT_NE(registry.get("api", "10.0.0.1:80"), a);
  EXPECT_EQ(registry.size(), 2u);

  auto v1 = poolConfig("web", {{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}});
  auto pool1 = buildPool(v1, 0, registry);
  pool1->members[0].state->recordResponse(5'000, false, 0);
  auto v2 = poolConfig("web", {{"10.0.0.2:80", 3}, {"10.0.0.1:80", 9}});  // reordered, reweighted
  auto pool2 = buildPool(v2, 0, registry);
  EXPECT_EQ(pool2->members[1].state, pool1->members[0].state);
  EXPECT_EQ(pool2->members[1].state->ewma_us.load(), 5'000u);
  EXPECT_EQ(pool2->members[1].weight, 9u);
}

TEST(UpstreamBackendRegistry, RetainOnlyDropsRemovedBackends) {
  BackendRegistry registry;
  config::Config config;
  config.pools.push_back(poolConfig("web", {{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}}));
  buildPool(config.pools[0], 0, registry);
  registry.get("gone", "10.0.0.3:80");
  EXPECT_EQ(registry.size(), 3u);
  config.pools[0].backends.pop_back();
  registry.retainOnly(config);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(UpstreamPool, TiersExcludeDrainedMembers) {
  BackendRegistry registry;
  auto cfg = poolConfig("web", {{"a:1", 1}, {"b:1", 0}, {"c:1", 2}, {"d:1", 1}});
  cfg.backends[3].backup = true;
  cfg.backends[2].max_connections = 7;
  auto pool = buildPool(cfg, 3, registry);
  EXPECT_EQ(pool->id, 3u);
  EXPECT_EQ(pool->primaries, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(pool->backups, (std::vector<uint32_t>{3}));
  EXPECT_EQ(pool->members[2].max_connections, 7u);
  EXPECT_EQ(pool->members[2].index, 2u);
  EXPECT_EQ(pool->members[1].address(), "b:1");
}

}  // namespace
}  // namespace fulcrum::upstream
