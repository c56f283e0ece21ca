// pick() cost of every policy, and of the sticky decorators, with 10, 100 and 1,000 backends.
// Backends have mixed weights (1..4), a little load and some response-time history, so the
// weighted and load-aware paths run as in production. Target: < 100 ns per pick.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>

#include <chrono>
#include <string>
#include <vector>

#include "fulcrum/balancer/pool_balancer.h"
#include "fulcrum/balancer/rng.h"
#include "fulcrum/sticky/source_ip_table.h"
#include "fulcrum/sticky/table_registry.h"
#include "fulcrum/upstream/pool.h"

namespace {

using namespace fulcrum;

constexpr size_t kKeys = 4096;  // distinct hash keys / client IPs cycled through

struct Setup {
  config::PoolConfig config;
  upstream::BackendRegistry backends;
  sticky::TableRegistry tables;
  balancer::PoolBalancerConstSharedPtr balancer;
  balancer::PickerPtr picker;
  std::vector<uint64_t> hashes;
  std::vector<sockaddr_in> clients;
  std::vector<std::string> tokens;

  Setup(const std::string& policy, size_t n, config::StickyMode sticky, uint32_t balance_factor) {
    config.name = "bench";
    config.policy = policy;
    config.hash_key.kind = config::HashKeyKind::kHeader;
    config.hash_balance_factor = balance_factor;
    config.sticky.mode = sticky;
    config.sticky.secret = "bench-secret";
    config.sticky.table_size = 100'000;
    for (size_t i = 0; i < n; ++i) {
      config::BackendConfig b;
      b.address.text = "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1:8080";
      b.weight = 1 + static_cast<uint32_t>(i % 4);
      config.backends.push_back(b);
    }
    balancer = balancer::buildPoolBalancer(config, 0, backends, tables);
    balancer::Rng rng(12345);
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    for (const auto& m : balancer->pool->members) {
      m.state->active = static_cast<int32_t>(rng.below(8));
      m.state->recordResponse(5'000 + rng.below(45'000), false, now_ms);
    }
    picker = balancer::createPoolPicker(*balancer, nullptr, 42);
    for (size_t i = 0; i < kKeys; ++i) {
      hashes.push_back(balancer::hashKey("user-" + std::to_string(i)));
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(0xC6120000u + static_cast<uint32_t>(i));  // 198.18.x.x
      clients.push_back(a);
    }
    const auto& members = balancer->pool->members;
    for (size_t i = 0; i < kKeys; ++i) tokens.emplace_back(balancer->cookieFor(members[i % n]));
  }
};

void runPick(benchmark::State& state, const std::string& policy, config::StickyMode sticky,
             uint32_t balance_factor = 0) {
  Setup s(policy, static_cast<size_t>(state.range(0)), sticky, balance_factor);
  balancer::PickContext ctx;
  ctx.now = std::chrono::steady_clock::now();
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ & (kKeys - 1);
    ctx.hash = s.hashes[k];
    if (sticky == config::StickyMode::kSourceIp) {
      ctx.client_addr = reinterpret_cast<const sockaddr*>(&s.clients[k]);
      // A new millisecond every pick: each hit refreshes its entry's place in the LRU list.
      ctx.now += std::chrono::milliseconds(1);
    } else if (sticky == config::StickyMode::kCookie) {
      ctx.affinity_token = s.tokens[k];
    }
    benchmark::DoNotOptimize(s.picker->pick(ctx));
  }
}

void BM_RoundRobin(benchmark::State& st) { runPick(st, "round_robin", config::StickyMode::kNone); }
void BM_LeastConnections(benchmark::State& st) {
  runPick(st, "least_connections", config::StickyMode::kNone);
}
void BM_WeightedResponseTime(benchmark::State& st) {
  runPick(st, "weighted_response_time", config::StickyMode::kNone);
}
void BM_ConsistentHash(benchmark::State& st) {
  runPick(st, "consistent_hash", config::StickyMode::kNone);
}
void BM_ConsistentHashBounded(benchmark::State& st) {
  runPick(st, "consistent_hash", config::StickyMode::kNone, 125);
}
void BM_Random(benchmark::State& st) { runPick(st, "random", config::StickyMode::kNone); }
void BM_PowerOfTwo(benchmark::State& st) { runPick(st, "power_of_two", config::StickyMode::kNone); }
void BM_StickyCookie(benchmark::State& st) {
  runPick(st, "round_robin", config::StickyMode::kCookie);
}
void BM_StickySourceIp(benchmark::State& st) {
  runPick(st, "round_robin", config::StickyMode::kSourceIp);
}

// Control-thread cost of building a pool's balancer (a reload): the Maglev table dominates.
void BM_BuildConsistentHash(benchmark::State& st) {
  for (auto _ : st) {
    Setup s("consistent_hash", static_cast<size_t>(st.range(0)), config::StickyMode::kNone, 0);
    benchmark::DoNotOptimize(s.balancer.get());
  }
}
BENCHMARK(BM_BuildConsistentHash)->Arg(10)->Arg(1000)->Unit(benchmark::kMillisecond);

#define POLICY_BENCH(fn) BENCHMARK(fn)->Arg(10)->Arg(100)->Arg(1000)
POLICY_BENCH(BM_RoundRobin);
POLICY_BENCH(BM_LeastConnections);
POLICY_BENCH(BM_WeightedResponseTime);
POLICY_BENCH(BM_ConsistentHash);
POLICY_BENCH(BM_ConsistentHashBounded);
POLICY_BENCH(BM_Random);
POLICY_BENCH(BM_PowerOfTwo);
POLICY_BENCH(BM_StickyCookie);
POLICY_BENCH(BM_StickySourceIp);

}  // namespace

BENCHMARK_MAIN();
