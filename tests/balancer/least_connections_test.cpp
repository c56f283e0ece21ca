#include "fulcrum/balancer/least_connections.h"

#include <gtest/gtest.h>

#include "test_pool.h"

namespace fulcrum::balancer {
namespace {

using testing::TestPool;

PickContext now() { return testing::contextAtStart(); }

TEST(BalancerLeastConnections, AvoidsTheBusierBackend) {
  TestPool tp({1, 1, 1}, "least_connections");
  tp.state(0).active = 5;
  tp.state(1).active = 2;
  tp.state(2).active = 5;
  auto picker = tp.picker();
  EXPECT_EQ(TestPool::count(*picker, 100, now())[1], 100);
}

TEST(BalancerLeastConnections, LoadIsRelativeToWeight) {
  TestPool tp({2, 1}, "least_connections");
  tp.state(0).active = 3;  // 1.5 per unit of weight
  tp.state(1).active = 2;  // 2 per unit
  auto picker = tp.picker();
  EXPECT_EQ(TestPool::count(*picker, 100, now())[0], 100);
}

TEST(BalancerLeastConnections, TiesAreSpreadEvenly) {
  TestPool tp({1, 1, 1, 1}, "least_connections");
  for (size_t i = 0; i < 4; ++i) tp.state(i).active = 3;
  auto picker = tp.picker(17);
  auto counts = TestPool::count(*picker, 100'000, now());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(counts[i] / 1000.0, 25.0, 2.0) << i;
}

TEST(BalancerLeastConnections, HeldConnectionsSpreadAcrossBackends) {
  // Each pick holds its connection: least connections fills the backends evenly.
  TestPool tp({1, 1, 1}, "least_connections");
  auto picker = tp.picker(2);
  for (int i = 0; i < 30; ++i) picker->pick(now())->state->acquire();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(tp.state(i).active.load(), 10);
}

TEST(BalancerLeastConnections, LargePoolUsesTwoChoicesAndAvoidsBusyHalf) {
  std::vector<uint32_t> weights(40, 1);
  TestPool tp(weights, "least_connections");
  for (size_t i = 0; i < 20; ++i) tp.state(i).active = 10;  // the busy half
  auto picker = tp.picker(8);
  auto counts = TestPool::count(*picker, 10'000, now());
  int busy = 0;
  for (int i = 0; i < 20; ++i) busy += counts[i];
  // Only a pair of two busy backends picks a busy one: about a quarter.
  EXPECT_NEAR(busy / 100.0, 100.0 * 19 / 78, 2.0);
  for (int i = 20; i < 40; ++i) EXPECT_GT(counts[i], 0);
}

TEST(BalancerLeastConnections, LargePoolHeldConnectionsStayBalanced) {
  std::vector<uint32_t> weights(64, 1);
  TestPool tp(weights, "least_connections");
  auto picker = tp.picker(21);
  for (int i = 0; i < 64 * 20; ++i) picker->pick(now())->state->acquire();
  int max_active = 0;
  for (size_t i = 0; i < 64; ++i) max_active = std::max(max_active, tp.state(i).active.load());
  EXPECT_LE(max_active, 24);  // mean 20: two choices keep the maximum close to it
}

}  // namespace
}  // namespace fulcrum::balancer
