// The HTTP session reads the clock once per event with uv_hrtime and hands that reading to
// the balancer (PickContext::now) and to BackendState's response-time average, which other
// callers feed from std::chrono::steady_clock. That only works while both are the same clock
// (CLOCK_MONOTONIC on Linux); this fails if either side ever changes.
#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>

#include "fulcrum/balancer/policy.h"

namespace fulcrum {
namespace {

TEST(CoreMonotonicClock, UvHrtimeAndSteadyClockShareAnEpoch) {
  auto steady = std::chrono::steady_clock::now();
  balancer::MonotonicTime from_uv(std::chrono::microseconds(uv_hrtime() / 1000));
  auto apart = std::chrono::abs(from_uv - steady);
  EXPECT_LT(apart, std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace fulcrum
