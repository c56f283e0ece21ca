// What every policy must do, run against each name in the registry: eligibility (down,
// ejected, over max_connections, tried, weight 0), backups only when no primary is
// eligible, nullptr when nothing is eligible, and weighted shares over 100,000 picks.
#include <gtest/gtest.h>

#include <deque>

#include "fulcrum/balancer/policy.h"
#include "test_pool.h"

namespace fulcrum::balancer {
namespace {

using testing::backend;
using testing::indexOf;
using testing::TestPool;

class BalancerPolicyCommon : public ::testing::TestWithParam<std::string> {
 protected:
  // consistent_hash is tested both with a key and without one (round robin fallback).
  PickContext context(uint64_t i) const {
    PickContext ctx;
    ctx.now = testing::testTime(0);
    if (GetParam() == "consistent_hash") ctx.hash = i * 0x9E3779B97F4A7C15ULL;
    return ctx;
  }
  // Picks n times with varying keys; member index -> count.
  std::map<int, int> run(Picker& picker, int n, const TriedSet* tried = nullptr) const {
    std::map<int, int> counts;
    for (int i = 0; i < n; ++i) {
      PickContext ctx = context(static_cast<uint64_t>(i));
      ctx.tried = tried;
      ++counts[indexOf(picker.pick(ctx))];
    }
    return counts;
  }
};

TEST_P(BalancerPolicyCommon, RegisteredByName) {
  const PolicyFactory* factory = findPolicy(GetParam());
  ASSERT_NE(factory, nullptr);
  EXPECT_EQ(factory->name(), GetParam());
}

TEST_P(BalancerPolicyCommon, SkipsDownEjectedFullAndTried) {
  TestPool tp({backend("10.0.0.1:80"), backend("10.0.0.2:80"), backend("10.0.0.3:80", 1, false, 2),
               backend("10.0.0.4:80"), backend("10.0.0.5:80")},
              GetParam());
  tp.state(0).health = upstream::Health::kDown;
  tp.state(1).ejected_until_ms = testing::steadyMsForTest(1000);
  tp.state(2).active = 2;  // at max_connections
  TriedSet tried;
  tried.add(3);
  auto picker = tp.picker(7);
  auto counts = run(*picker, 2000, &tried);
  EXPECT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[4], 2000);

  // The ejection ends, backend 2's connections close: both are eligible again.
  tp.state(1).ejected_until_ms = 0;
  tp.state(2).active = 0;
  counts = run(*picker, 3000, &tried);
  EXPECT_EQ(counts[-1], 0);
  EXPECT_EQ(counts[0] + counts[3], 0);
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[2], 0);
  EXPECT_GT(counts[4], 0);
}

TEST_P(BalancerPolicyCommon, BackupsOnlyWhenNoPrimaryIsEligible) {
  TestPool tp({backend("10.0.0.1:80"), backend("10.0.0.2:80"), backend("10.0.0.9:80", 1, true),
               backend("10.0.0.8:80", 1, true)},
              GetParam());
  auto picker = tp.picker(3);
  auto counts = run(*picker, 1000);
  EXPECT_EQ(counts[2] + counts[3], 0);
  EXPECT_EQ(counts[0] + counts[1], 1000);

  tp.state(0).health = upstream::Health::kDown;
  counts = run(*picker, 1000);
  EXPECT_EQ(counts[1], 1000);

  tp.state(1).health = upstream::Health::kDown;
  counts = run(*picker, 1000);
  EXPECT_EQ(counts[0] + counts[1], 0);
  EXPECT_GT(counts[2], 0);
  EXPECT_GT(counts[3], 0);
  EXPECT_EQ(counts[2] + counts[3], 1000);

  // A retry that already tried one backup goes to the other.
  TriedSet tried;
  tried.add(2);
  counts = run(*picker, 100, &tried);
  EXPECT_EQ(counts[3], 100);

  tp.state(0).health = upstream::Health::kUp;
  counts = run(*picker, 500);
  EXPECT_EQ(counts[0], 500);
}

TEST_P(BalancerPolicyCommon, NothingEligibleGivesNull) {
  TestPool empty(std::vector<uint32_t>{}, GetParam());
  auto picker = empty.picker();
  EXPECT_EQ(picker->pick(context(1)), nullptr);

  TestPool down({1, 1, 1}, GetParam());
  for (size_t i = 0; i < 3; ++i) down.state(i).health = upstream::Health::kDown;
  picker = down.picker();
  EXPECT_EQ(run(*picker, 100)[-1], 100);

  TestPool tried_all({1, 1}, GetParam());
  TriedSet tried;
  tried.add(0);
  tried.add(1);
  picker = tried_all.picker();
  EXPECT_EQ(run(*picker, 100, &tried)[-1], 100);
}

TEST_P(BalancerPolicyCommon, WeightZeroIsDrained) {
  TestPool tp({1, 0, 1}, GetParam());
  auto picker = tp.picker(5);
  auto counts = run(*picker, 3000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[0] + counts[2], 3000);

  TestPool only_drained({0, 0}, GetParam());
  picker = only_drained.picker();
  EXPECT_EQ(run(*picker, 10)[-1], 10);
}

// Every policy follows the weights while the backends are alike. least_connections is run
// with connections held open (each pick holds one; the oldest closes past 60 in flight),
// since only load can make it follow weights; the others pick into an idle pool.
void expectShares(const std::string& policy, const std::vector<uint32_t>& weights, uint64_t seed) {
  SCOPED_TRACE(policy);
  TestPool tp(weights, policy);
  auto picker = tp.picker(seed);
  constexpr int kPicks = 100'000;
  std::vector<int> counts(weights.size(), 0);
  std::deque<int> held;
  for (int i = 0; i < kPicks; ++i) {
    PickContext ctx;
    ctx.now = testing::testTime(0);
    if (policy == "consistent_hash") ctx.hash = testing::keyHash(i);
    const auto* m = picker->pick(ctx);
    ASSERT_NE(m, nullptr);
    ++counts[m->index];
    if (policy == "least_connections") {
      m->state->acquire();
      held.push_back(static_cast<int>(m->index));
      if (held.size() > 60) {
        tp.state(held.front()).release();
        held.pop_front();
      }
    }
  }
  uint64_t total = 0;
  for (uint32_t w : weights) total += w;
  for (size_t i = 0; i < weights.size(); ++i) {
    const double expected = 100.0 * weights[i] / total;
    const double got = 100.0 * counts[i] / kPicks;
    EXPECT_NEAR(got, expected, 2.0) << "backend " << i;
  }
}

TEST_P(BalancerPolicyCommon, WeightedSharesWithinTwoPoints) {
  expectShares(GetParam(), {5, 3, 2}, 11);
  expectShares(GetParam(), {1, 1, 1}, 12);
  expectShares(GetParam(), {1, 2, 3, 4}, 13);
}

INSTANTIATE_TEST_SUITE_P(BalancerAllPolicies, BalancerPolicyCommon,
                         ::testing::Values("round_robin", "least_connections",
                                           "weighted_response_time", "consistent_hash", "random",
                                           "power_of_two"),
                         [](const auto& info) { return info.param; });

TEST(BalancerRegistry, ListsEveryPolicyOnce) {
  const auto names = policyNames();
  EXPECT_EQ(names.size(), 6u);
  for (auto name : names) EXPECT_NE(findPolicy(name), nullptr) << name;
  EXPECT_EQ(findPolicy("nope"), nullptr);
}

}  // namespace
}  // namespace fulcrum::balancer
