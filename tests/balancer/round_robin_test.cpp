#include "fulcrum/balancer/round_robin.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test_pool.h"

namespace fulcrum::balancer {
namespace {

using testing::TestPool;

PickContext now() { return testing::contextAtStart(); }

std::string sequence(Picker& picker, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + picker.pick(now())->index));
  return s;
}

// True when `s` reads `pattern` repeated, starting anywhere in it.
bool isRotationOf(const std::string& s, const std::string& pattern) {
  for (size_t offset = 0; offset < pattern.size(); ++offset) {
    bool match = true;
    for (size_t i = 0; i < s.size() && match; ++i)
      match = s[i] == pattern[(offset + i) % pattern.size()];
    if (match) return true;
  }
  return false;
}

TEST(BalancerRoundRobin, SmoothSequenceForWeights511) {
  TestPool tp({5, 1, 1});
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto picker = tp.picker(seed);
    const std::string s = sequence(*picker, 21);
    EXPECT_TRUE(isRotationOf(s, "aabacaa")) << s;
  }
}

TEST(BalancerRoundRobin, ScheduleIsNginxSequence) {
  TestPool tp({5, 1, 1});
  SmoothSchedule schedule(tp.pool(), tp.pool().primaries);
  ASSERT_TRUE(schedule.precomputed());
  EXPECT_EQ(schedule.slots(), (std::vector<uint32_t>{0, 0, 1, 0, 2, 0, 0}));
}

TEST(BalancerRoundRobin, SeedsStartAtDifferentOffsets) {
  TestPool tp({1, 1, 1, 1, 1, 1, 1, 1});
  std::set<uint32_t> firsts;
  for (uint64_t seed = 0; seed < 32; ++seed) firsts.insert(tp.picker(seed)->pick(now())->index);
  EXPECT_GE(firsts.size(), 5u);
}

TEST(BalancerRoundRobin, EqualWeightsRotateExactly) {
  TestPool tp({1, 1, 1});
  auto picker = tp.picker(4);
  auto counts = TestPool::count(*picker, 300, now());
  EXPECT_EQ(counts[0], 100);
  EXPECT_EQ(counts[1], 100);
  EXPECT_EQ(counts[2], 100);
}

TEST(BalancerRoundRobin, SkippedMemberKeepsOthersInProportion) {
  TestPool tp({5, 1, 1});
  tp.state(1).health = upstream::Health::kDown;
  auto picker = tp.picker(9);
  auto counts = TestPool::count(*picker, 6000, now());
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[0], 5000);
  EXPECT_EQ(counts[2], 1000);
}

TEST(BalancerRoundRobin, CursorSurvivesRebuildWithSameMembers) {
  TestPool tp({3, 2, 1});
  auto reference = tp.picker(42);
  const std::string expected = sequence(*reference, 40);

  auto old_balancer = tp.balancerPtr();  // the old snapshot lives while its picker does
  auto before = tp.picker(42);
  const std::string first = sequence(*before, 17);
  tp.build();  // reload, same members
  auto after = tp.picker(999, before.get());
  const std::string rest = sequence(*after, 23);
  EXPECT_EQ(first + rest, expected);
}

TEST(BalancerRoundRobin, CursorRestartsWhenMembersChange) {
  TestPool tp({1, 1, 1});
  auto old_balancer = tp.balancerPtr();
  auto before = tp.picker(1);
  sequence(*before, 2);
  TestPool other({1, 1, 1, 1});
  auto after = other.picker(1, before.get());  // different pool: a fresh cursor, no crash
  auto counts = TestPool::count(*after, 400, now());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(counts[i], 100);
}

TEST(BalancerRoundRobin, StickyWrapperPassesCursorThrough) {
  TestPool tp({3, 2, 1});
  tp.config().sticky.mode = config::StickyMode::kCookie;
  tp.build();
  auto reference = tp.picker(5);
  const std::string expected = sequence(*reference, 20);
  auto old_balancer = tp.balancerPtr();
  auto before = tp.picker(5);
  const std::string first = sequence(*before, 8);
  tp.build();
  auto after = tp.picker(77, before.get());
  EXPECT_EQ(first + sequence(*after, 12), expected);
}

// A backend that fails (a refused connect, nothing marks it down) gets its turn and no more:
// the retry's pick does not move the schedule on, so the member after it is next as usual
// and only every other request pays for the dead one, not every request.
TEST(BalancerRoundRobin, RetryDoesNotMoveTheSchedule) {
  for (std::vector<uint32_t> weights : {std::vector<uint32_t>{1, 1, 1},    // precomputed
                                        std::vector<uint32_t>(600, 1)}) {  // per pick
    TestPool tp(weights);
    for (uint64_t seed = 0; seed < 8; ++seed) {
      auto picker = tp.picker(seed);
      int failed = 0;
      for (int request = 0; request < 3 * static_cast<int>(weights.size()); ++request) {
        TriedSet tried;
        const upstream::PoolMember* m = picker->pick(now());
        while (m->index == 0) {  // member 0 refuses connections
          ++failed;
          tried.add(m->index);
          PickContext retry = now();
          retry.tried = &tried;
          m = picker->pick(retry);
          ASSERT_NE(m, nullptr);
        }
      }
      EXPECT_EQ(failed, 3) << "weights " << weights.size() << ", seed " << seed;
    }
  }
}

TEST(BalancerRoundRobin, LongPeriodRunsPerPickAlgorithm) {
  // 600 backends with weights 997 and 1000: the period (599,100) is too long to store.
  std::vector<uint32_t> weights;
  for (int i = 0; i < 600; ++i) weights.push_back(i < 300 ? 997 : 1000);
  TestPool tp(weights);
  SmoothSchedule schedule(tp.pool(), tp.pool().primaries);
  EXPECT_FALSE(schedule.precomputed());
  auto picker = tp.picker(3);
  auto counts = TestPool::count(*picker, 20'000, now());
  int low = 0;
  for (int i = 0; i < 300; ++i) low += counts[i];
  EXPECT_NEAR(100.0 * low / 20'000, 100.0 * 997 / 1997, 2.0);
  // Smooth: no backend twice within a round of 600.
  for (const auto& [index, n] : counts) EXPECT_LE(n, 34) << index;
}

TEST(BalancerRoundRobin, LongPeriodSkipsIneligible) {
  std::vector<uint32_t> weights;
  for (int i = 0; i < 600; ++i) weights.push_back(i < 300 ? 997 : 1000);
  TestPool tp(weights);
  for (int i = 0; i < 599; ++i) tp.state(i).health = upstream::Health::kDown;
  auto picker = tp.picker(3);
  EXPECT_EQ(TestPool::count(*picker, 50, now())[599], 50);
}

}  // namespace
}  // namespace fulcrum::balancer
