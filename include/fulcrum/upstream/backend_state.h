#pragma once
// Runtime state of one backend, shared by every worker and the control thread.
// Atomics only: written with relaxed ordering, read by pickers without locks. It survives
// reloads for as long as a backend with the same identity (pool name + address) exists.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

namespace fulcrum::upstream {

enum class Health : uint8_t { kUp = 0, kDown = 1 };

// Weight of a new sample in the displayed response time (BackendState::recordAnswerTime).
inline constexpr uint64_t kAnswerAlphaTenths = 3;

class BackendState {
 public:
  // Active health (control thread writes, from health checks). Starts up: a pool without
  // health checks treats every backend as healthy.
  std::atomic<Health> health{Health::kUp};
  // Passive outlier ejection: ejected while now_ms < ejected_until_ms (steady clock, ms).
  std::atomic<int64_t> ejected_until_ms{0};
  std::atomic<uint32_t> ejection_count{0};
  std::atomic<uint32_t> consecutive_failures{0};
  // When the backend last became eligible (steady ms), for slow start. 0 = long ago.
  std::atomic<int64_t> up_since_ms{0};
  // Connections (tcp sessions, in-flight http requests, tunnels) currently using it.
  std::atomic<int32_t> active{0};
  // Exponentially decaying average response time in microseconds, where a failure counts
  // as a slow response (see recordResponse). 0 = no history yet.
  std::atomic<uint64_t> ewma_us{0};
  // When ewma_us was last folded (steady ms). Readers age an old average (see
  // decayedEwmaUs) so that a backend that stopped getting traffic because it looked slow is
  // probed again later instead of being shunned forever. Written right after ewma_us, not
  // atomically with it: a reader that sees one without the other only misjudges one pick.
  std::atomic<int64_t> ewma_stamp_ms{0};
  // What /status shows as the backend's response time: a moving average of the time to the
  // head of its answers (error answers too), with no penalty and no ageing (ewma_us is the
  // balancer's signal, where a refused connect counts as a timeout's worth). 0 = no answer yet.
  std::atomic<uint64_t> answer_ewma_us{0};

  bool isEjected(int64_t now_ms) const {
    return ejected_until_ms.load(std::memory_order_relaxed) > now_ms;
  }
  bool isUp() const { return health.load(std::memory_order_relaxed) == Health::kUp; }

  // Records one finished exchange. `failure` = 5xx, reset, timeout or connect failure:
  // it is folded in as a penalty latency so that a backend failing fast loses traffic.
  void recordResponse(uint64_t latency_us, bool failure);
  // Same, with the time injected (tests; callers that already read the clock).
  void recordResponse(uint64_t latency_us, bool failure, int64_t now_ms);
  // ewma_us aged by the time since its last sample: halved every kEwmaHalfLifeMs without a
  // sample. 0 = no history.
  uint64_t decayedEwmaUs(int64_t now_ms) const;
  // The backend answered (a response head, a 101, a tcp accept) `latency_us` after it had the
  // request: recordResponse, and the displayed answer time (answer_ewma_us). `failure`: a 5xx.
  void recordAnswer(uint64_t latency_us, bool failure, int64_t now_ms) {
    recordResponse(latency_us, failure, now_ms);
    recordAnswerTime(latency_us);
  }
  void recordAnswer(uint64_t latency_us, bool failure) {
    recordResponse(latency_us, failure);
    recordAnswerTime(latency_us);
  }
  void acquire() { active.fetch_add(1, std::memory_order_relaxed); }
  void release() { active.fetch_sub(1, std::memory_order_relaxed); }

 private:
  // An answer came `latency_us` after the request was sent (answer_ewma_us). A load and a
  // store, not a fold: two workers' samples at the same instant may keep only one, which a
  // display can afford.
  void recordAnswerTime(uint64_t latency_us) {
    const uint64_t old = answer_ewma_us.load(std::memory_order_relaxed);
    const uint64_t sample = std::max<uint64_t>(latency_us, 1);
    answer_ewma_us.store(
        old == 0 ? sample : (old * (10 - kAnswerAlphaTenths) + sample * kAnswerAlphaTenths) / 10,
        std::memory_order_relaxed);
  }
};

// EWMA weight of a new sample (3/10): a few samples move the average, one outlier does not.
inline constexpr uint64_t kEwmaAlphaTenths = 3;
// A failure is folded as max(its latency, kFailurePenaltyFactor x the current average,
// kFailurePenaltyMinUs): a backend answering errors in 1 ms must look slow, not fast.
inline constexpr uint64_t kFailurePenaltyFactor = 5;
inline constexpr uint64_t kFailurePenaltyMinUs = 1'000'000;
// Upper bound of the average, so repeated penalties cannot grow it without limit.
inline constexpr uint64_t kMaxEwmaUs = 60'000'000;
inline constexpr int64_t kEwmaHalfLifeMs = 2'000;

using BackendStateSharedPtr = std::shared_ptr<BackendState>;

}  // namespace fulcrum::upstream
