#include "fulcrum/upstream/backend_state.h"

#include <algorithm>
#include <chrono>

namespace fulcrum::upstream {
namespace {

uint64_t decay(uint64_t ewma, int64_t stamp_ms, int64_t now_ms) {
  if (ewma == 0) return 0;
  const int64_t age = now_ms - stamp_ms;
  if (age <= 0) return ewma;
  const int64_t halvings = age / kEwmaHalfLifeMs;
  if (halvings >= 40) return 1;
  ewma >>= halvings;
  // Linear between two halvings, so the value does not jump at each half-life boundary.
  const auto rem = static_cast<uint64_t>(age % kEwmaHalfLifeMs);
  ewma -= ewma * rem / (2 * static_cast<uint64_t>(kEwmaHalfLifeMs));
  return std::max<uint64_t>(ewma, 1);  // still "has history"
}

int64_t steadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

uint64_t BackendState::decayedEwmaUs(int64_t now_ms) const {
  return decay(ewma_us.load(std::memory_order_relaxed),
               ewma_stamp_ms.load(std::memory_order_relaxed), now_ms);
}

void BackendState::recordResponse(uint64_t latency_us, bool failure) {
  recordResponse(latency_us, failure, steadyNowMs());
}

void BackendState::recordResponse(uint64_t latency_us, bool failure, int64_t now_ms) {
  const int64_t stamp = ewma_stamp_ms.load(std::memory_order_relaxed);
  uint64_t current = ewma_us.load(std::memory_order_relaxed);
  // Lock-free fold: every worker records into the same atomic; a lost race retries with the
  // value that won, so no sample is dropped.
  for (;;) {
    const uint64_t aged = decay(current, stamp, now_ms);
    uint64_t sample = latency_us;
    if (failure) {
      sample = std::max({sample, kFailurePenaltyFactor * aged, kFailurePenaltyMinUs});
    }
    sample = std::clamp<uint64_t>(sample, 1, kMaxEwmaUs);
    uint64_t next = sample;
    if (aged != 0) {
      next = (aged * (10 - kEwmaAlphaTenths) + sample * kEwmaAlphaTenths) / 10;
    }
    next = std::clamp<uint64_t>(next, 1, kMaxEwmaUs);
    if (ewma_us.compare_exchange_weak(current, next, std::memory_order_relaxed)) break;
  }
  if (now_ms > stamp) ewma_stamp_ms.store(now_ms, std::memory_order_relaxed);
}

}  // namespace fulcrum::upstream
