#include "fulcrum/balancer/random_policy.h"

#include <gtest/gtest.h>

#include "fulcrum/balancer/weighted_sampler.h"
#include "test_pool.h"

namespace fulcrum::balancer {
namespace {

using testing::TestPool;

PickContext now() { return testing::contextAtStart(); }

TEST(BalancerRandom, SameSeedSameSequence) {
  TestPool tp({1, 2, 3, 4}, "random");
  auto a = tp.picker(99);
  auto b = tp.picker(99);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a->pick(now()), b->pick(now()));
}

TEST(BalancerRandom, AliasTableIsExact) {
  TestPool tp({1, 7, 2, 0, 10});
  WeightedSampler sampler(tp.pool(), tp.pool().primaries);
  ASSERT_EQ(sampler.size(), 4u);
  // Sweep the slot bits evenly: every slot's coin then splits exactly as its threshold says.
  std::vector<uint64_t> counts(5, 0);
  constexpr uint64_t kSteps = 1 << 16;
  for (uint64_t slot = 0; slot < sampler.size(); ++slot) {
    // The first r whose high part selects `slot`, rounded up so its low 32 bits are free.
    const auto first =
        static_cast<uint64_t>(((__uint128_t{slot} << 64) + sampler.size() - 1) / sampler.size());
    const uint64_t base = (first + 0xffffffffULL) & ~uint64_t{0xffffffff};
    for (uint64_t coin = 0; coin < kSteps; ++coin) ++counts[sampler.sample(base | (coin << 16))];
  }
  const double total = 4.0 * kSteps;
  EXPECT_NEAR(counts[0] / total, 1.0 / 20, 1e-3);
  EXPECT_NEAR(counts[1] / total, 7.0 / 20, 1e-3);
  EXPECT_NEAR(counts[2] / total, 2.0 / 20, 1e-3);
  EXPECT_EQ(counts[3], 0u);
  EXPECT_NEAR(counts[4] / total, 10.0 / 20, 1e-3);
}

TEST(BalancerRandom, ManyIneligibleStillFollowsWeights) {
  std::vector<uint32_t> weights(50, 1);
  weights[48] = 3;
  TestPool tp(weights, "random");
  for (size_t i = 0; i < 48; ++i) tp.state(i).health = upstream::Health::kDown;
  auto picker = tp.picker(4);
  auto counts = TestPool::count(*picker, 40'000, now());
  EXPECT_NEAR(counts[48] / 400.0, 75.0, 2.0);
  EXPECT_NEAR(counts[49] / 400.0, 25.0, 2.0);
}

TEST(BalancerPowerOfTwo, PrefersTheLessLoadedOfTwo) {
  TestPool tp({1, 1, 1}, "power_of_two");
  tp.state(0).active = 9;
  auto picker = tp.picker(5);
  auto counts = TestPool::count(*picker, 30'000, now());
  EXPECT_EQ(counts[0], 0);  // with three backends, the busy one always loses its pair
  EXPECT_NEAR(counts[1] / 300.0, 50.0, 2.0);
}

TEST(BalancerPowerOfTwo, LoadIsRelativeToWeight) {
  TestPool tp({4, 1}, "power_of_two");
  tp.state(0).active = 3;  // 0.75 per unit
  tp.state(1).active = 1;  // 1 per unit
  auto picker = tp.picker(5);
  EXPECT_EQ(TestPool::count(*picker, 1000, now())[0], 1000);
}

TEST(BalancerPowerOfTwo, HeldConnectionsStayBalanced) {
  std::vector<uint32_t> weights(100, 1);
  TestPool tp(weights, "power_of_two");
  auto picker = tp.picker(6);
  for (int i = 0; i < 100 * 10; ++i) picker->pick(now())->state->acquire();
  int max_active = 0;
  for (size_t i = 0; i < 100; ++i) max_active = std::max(max_active, tp.state(i).active.load());
  EXPECT_LE(max_active, 14);
}

}  // namespace
}  // namespace fulcrum::balancer
