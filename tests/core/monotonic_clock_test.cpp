// The HTTP session reads the clock once per loop iteration (Worker::loopTimeUs, uv_hrtime) and
// hands that reading to
// the balancer (PickContext::now) and to BackendState's response-time average, which other
// callers feed from std::chrono::steady_clock. That only works while both are the same clock
// (CLOCK_MONOTONIC on Linux); this fails if either side ever changes.
#include <gtest/gtest.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/core/worker.h"

namespace fulcrum {
namespace {

TEST(CoreMonotonicClock, UvHrtimeAndSteadyClockShareAnEpoch) {
  auto steady = std::chrono::steady_clock::now();
  balancer::MonotonicTime from_uv(std::chrono::microseconds(uv_hrtime() / 1000));
  auto apart = std::chrono::abs(from_uv - steady);
  EXPECT_LT(apart, std::chrono::milliseconds(50));
}

// Worker::loopTimeUs: one reading shared by everything one phase of an iteration handles,
// and a fresh one after the loop has waited: a message that arrives while the loop sleeps in
// poll must not see the time read by a timer before the sleep (timeouts and latencies would
// shrink by the wait).
TEST(CoreMonotonicClock, LoopTimeIsReadOncePerPhase) {
  core::Worker worker(0);
  std::vector<uint64_t> seen;  // per callback: loopTimeUs before and after 2 ms of work
  auto record = [&seen](core::Worker& w) {
    seen.push_back(w.loopTimeUs());
    usleep(2000);
    seen.push_back(w.loopTimeUs());
  };
  struct TimerProbe {
    core::Worker* worker;
    std::function<void(core::Worker&)> record;
  } probe{&worker, record};
  uv_timer_t timer;
  uv_timer_init(worker.loop(), &timer);
  timer.data = &probe;
  uv_timer_start(
      &timer,
      [](uv_timer_t* t) {
        auto* p = static_cast<TimerProbe*>(t->data);
        p->record(*p->worker);
      },
      1, 0);
  // Another thread posts a message 30 ms later: it is handled in the poll phase, after the
  // loop has slept since the timer.
  std::thread poster([&worker, record] {
    usleep(30'000);
    worker.post(record);
  });
  for (int i = 0; i < 2000 && seen.size() < 4; ++i) uv_run(worker.loop(), UV_RUN_ONCE);
  poster.join();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0], seen[1]) << "read again within one phase";
  EXPECT_EQ(seen[2], seen[3]) << "read again within one phase";
  EXPECT_GE(seen[2] - seen[0], 25'000u) << "the wait in poll was not seen";
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  worker.stop();
  uv_run(worker.loop(), UV_RUN_DEFAULT);
}

}  // namespace
}  // namespace fulcrum
