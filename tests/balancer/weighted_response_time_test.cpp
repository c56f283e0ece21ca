#include "fulcrum/balancer/weighted_response_time.h"

#include <gtest/gtest.h>

#include "test_pool.h"

namespace fulcrum::balancer {
namespace {

using testing::TestPool;

struct Behaviour {
  uint64_t latency_us;
  bool failure;
};

// Sequential traffic: each pick is answered (recordResponse) before the next, and the clock
// advances by the response time. Returns picks per backend.
std::vector<int> simulate(TestPool& tp, Picker& picker, const std::vector<Behaviour>& backends,
                          int picks, int64_t& clock_ms) {
  std::vector<int> counts(backends.size(), 0);
  int64_t clock_us = clock_ms * 1000;
  for (int i = 0; i < picks; ++i) {
    PickContext ctx;
    ctx.now = testing::testTime(clock_us / 1000);
    const auto* m = picker.pick(ctx);
    EXPECT_NE(m, nullptr);
    if (m == nullptr) break;
    ++counts[m->index];
    const Behaviour& b = backends[m->index];
    clock_us += static_cast<int64_t>(b.latency_us);
    tp.state(m->index).recordResponse(b.latency_us, b.failure,
                                      testing::steadyMsForTest(clock_us / 1000));
  }
  clock_ms = clock_us / 1000;
  return counts;
}

TEST(BalancerWeightedResponseTime, FastFailingBackendLosesTraffic) {
  TestPool tp({1, 1, 1}, "weighted_response_time");
  auto picker = tp.picker(5);
  int64_t clock = 0;
  const auto counts =
      simulate(tp, *picker, {{1'000, true}, {20'000, false}, {20'000, false}}, 100'000, clock);
  EXPECT_LT(counts[0], 10'000);  // under 10%
  EXPECT_LT(counts[0], 1'000);   // in fact far under
  EXPECT_NEAR(counts[1], counts[2], 10'000);
}

TEST(BalancerWeightedResponseTime, SlowBackendGetsLessThanFastOne) {
  TestPool tp({1, 1}, "weighted_response_time");
  auto picker = tp.picker(6);
  int64_t clock = 0;
  const auto counts = simulate(tp, *picker, {{200'000, false}, {10'000, false}}, 20'000, clock);
  EXPECT_LT(counts[0] * 10, counts[1]);
  EXPECT_GT(counts[0], 0);  // still probed now and then as its old average decays
}

TEST(BalancerWeightedResponseTime, BusyFastBackendSharesWithIdlePeer) {
  TestPool tp({1, 1}, "weighted_response_time");
  tp.state(0).recordResponse(10'000, false, testing::steadyMsForTest(0));
  tp.state(1).recordResponse(15'000, false, testing::steadyMsForTest(0));
  tp.state(0).active = 4;  // 10 ms x 5 costs more than 15 ms x 1
  auto picker = tp.picker(1);
  PickContext ctx;
  ctx.now = testing::testTime(0);
  EXPECT_EQ(TestPool::count(*picker, 100, ctx)[1], 100);
}

TEST(BalancerWeightedResponseTime, NewBackendStartsAtPoolAverage) {
  TestPool tp({1, 1, 1}, "weighted_response_time");
  for (size_t i = 0; i < 2; ++i)
    tp.state(i).recordResponse(20'000, false, testing::steadyMsForTest(0));
  // Backend 2 has no history: it costs the average (20 ms), a tie, so it gets its share.
  auto picker = tp.picker(3);
  PickContext ctx;
  ctx.now = testing::testTime(0);
  auto counts = TestPool::count(*picker, 30'000, ctx);
  EXPECT_NEAR(counts[2] / 300.0, 33.3, 2.0);
}

TEST(BalancerWeightedResponseTime, SimilarBackendsShareByWeight) {
  TestPool tp({3, 1}, "weighted_response_time");
  tp.state(0).recordResponse(20'000, false, testing::steadyMsForTest(0));
  tp.state(1).recordResponse(21'000, false, testing::steadyMsForTest(0));  // within the tie band
  auto picker = tp.picker(3);
  PickContext ctx;
  ctx.now = testing::testTime(0);
  auto counts = TestPool::count(*picker, 100'000, ctx);
  EXPECT_NEAR(counts[0] / 1000.0, 75.0, 2.0);
}

// Concurrent traffic: `in_flight` requests at once, each answered in the same time by either
// backend, the oldest first. The weights must still hold: the cost compared is the response
// time times the in-flight requests per unit of weight. With the in-flight count alone, the
// heavier backend's longer queue cancelled its weight, and 3:1 came out near 1:1.
TEST(BalancerWeightedResponseTime, WeightsHoldUnderConcurrency) {
  for (int in_flight : {4, 16, 64}) {
    TestPool tp({3, 1}, "weighted_response_time");
    tp.state(0).recordResponse(20'000, false, testing::steadyMsForTest(0));
    tp.state(1).recordResponse(20'000, false, testing::steadyMsForTest(0));
    auto picker = tp.picker(5);
    PickContext ctx;
    ctx.now = testing::testTime(0);
    std::vector<size_t> queue;  // backends of the requests in flight, oldest first
    std::vector<int> counts(2, 0);
    for (int i = 0; i < 40'000; ++i) {
      if (static_cast<int>(queue.size()) == in_flight) {
        tp.state(queue.front()).release();
        queue.erase(queue.begin());
      }
      const auto* m = picker->pick(ctx);
      ASSERT_NE(m, nullptr);
      tp.state(m->index).acquire();
      queue.push_back(m->index);
      ++counts[m->index];
    }
    EXPECT_NEAR(counts[0] / 400.0, 75.0, 5.0) << in_flight << " in flight";
  }
}

TEST(BalancerWeightedResponseTime, ShunnedBackendIsProbedAgainLater) {
  TestPool tp({1, 1}, "weighted_response_time");
  tp.state(0).recordResponse(1'000, true, testing::steadyMsForTest(0));  // failed: 1 s penalty
  tp.state(1).recordResponse(20'000, false, testing::steadyMsForTest(0));
  auto picker = tp.picker(2);
  PickContext ctx;
  ctx.now = testing::testTime(0);
  EXPECT_EQ(TestPool::count(*picker, 100, ctx)[1], 100);
  // Both averages age, but backend 1 keeps answering: after half a minute backend 0's old
  // penalty has decayed below it and it is tried again.
  tp.state(1).recordResponse(20'000, false, testing::steadyMsForTest(30'000));
  ctx.now = testing::testTime(30'000);
  EXPECT_GT(TestPool::count(*picker, 100, ctx)[0], 0);
}

}  // namespace
}  // namespace fulcrum::balancer
