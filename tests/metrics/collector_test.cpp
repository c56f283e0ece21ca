#include "fulcrum/metrics/collector.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "fulcrum/balancer/eligibility.h"
#include "fulcrum/core/snapshot.h"
#include "fulcrum/sticky/source_ip_table.h"
#include "fulcrum/upstream/pool.h"

namespace fulcrum::metrics {
namespace {

bool hasLine(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

#define EXPECT_LINE(text, line) \
  EXPECT_TRUE(hasLine(text, line)) << "missing: " << line << "\n" << text

TEST(MetricsStats, RegistryGetOrCreateByIdentity) {
  StatsRegistry stats(3);
  auto a = stats.route("web", "api");
  auto b = stats.route("web", "api");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->size(), 3u);
  EXPECT_EQ(a->listener, "web");
  EXPECT_EQ(a->pool, "api");
  EXPECT_NE(stats.route("web", "other"), a);
  EXPECT_EQ(stats.backend("api", "127.0.0.1:9001")->backend, "127.0.0.1:9001");
  EXPECT_EQ(stats.listener("web")->listener, "web");
  EXPECT_EQ(stats.pool("api")->pool, "api");
  EXPECT_EQ(stats.routes().size(), 2u);
  EXPECT_EQ(stats.backends().size(), 1u);
}

TEST(MetricsStats, PruneDropsOnlyUnreferenced) {
  StatsRegistry stats(1);
  auto kept = stats.listener("kept");
  stats.listener("gone");
  EXPECT_EQ(stats.pruneUnused(), 1u);
  ASSERT_EQ(stats.listeners().size(), 1u);
  EXPECT_EQ(stats.listeners()[0], kept);
}

TEST(MetricsStats, HistogramBuckets) {
  Histogram h;
  h.observe(0.0005);  // on a bound: belongs to that bucket (le)
  h.observe(0.0007);
  h.observe(11.0);  // beyond the last bound: +Inf
  h.observe(-1.0);  // clock step: counted as 0
  EXPECT_EQ(h.buckets[0].get(), 2u);
  EXPECT_EQ(h.buckets[1].get(), 1u);
  EXPECT_EQ(h.buckets[kLatencyBuckets.size()].get(), 1u);
  EXPECT_EQ(h.count.get(), 4u);
  EXPECT_EQ(h.sum_ns.load(), 500'000u + 700'000u + 11'000'000'000u);
}

TEST(MetricsCollector, SumsWorkerCellsAndRendersExactLines) {
  StatsRegistry stats(2);
  auto route = stats.route("web", "api");
  route->cell(0).requests.add(200);
  route->cell(0).requests.add(200);
  route->cell(1).requests.add(200);
  route->cell(1).requests.add(503);
  route->cell(0).duration.observe(0.0003);
  route->cell(1).duration.observe(0.003);
  route->cell(1).duration.observe(20.0);

  auto listener = stats.listener("web");
  listener->cell(0).connections_total.add(5);
  listener->cell(1).connections_total.add(2);
  listener->cell(0).connections_active.add(3);
  listener->cell(1).connections_active.add(-1);
  listener->cell(1).bytes_received.add(100);
  listener->cell(0).bytes_sent.add(42);
  listener->cell(1).websocket_tunnels_active.add(1);

  auto backend = stats.backend("api", "127.0.0.1:9001");
  backend->cell(0).upstream_requests.add(200);
  backend->cell(1).upstream_requests.add(502);
  backend->cell(1).connect_failures.add(4);
  backend->cell(0).outlier_ejections.add();
  backend->cell(0).response.observe(0.02);

  stats.pool("api")->cell(1).retries.add(7);
  stats.control().health_checks[{"api", "127.0.0.1:9001"}][0].add(9);
  stats.control().health_checks[{"api", "127.0.0.1:9001"}][1].add(1);
  stats.control().reloads_success.add(2);
  stats.control().reloads_failure.add(1);
  stats.control().generation = 3;

  const std::string text = renderMetrics(stats, nullptr);
  EXPECT_LINE(text, "# TYPE fulcrum_http_requests_total counter");
  EXPECT_LINE(text, R"(fulcrum_http_requests_total{code="200",listener="web",pool="api"} 3)");
  EXPECT_LINE(text, R"(fulcrum_http_requests_total{code="503",listener="web",pool="api"} 1)");
  EXPECT_EQ(text.find(R"(code="404")"), std::string::npos) << "zero codes are not emitted";

  EXPECT_LINE(text, "# TYPE fulcrum_http_request_duration_seconds histogram");
  const std::string h = "fulcrum_http_request_duration_seconds";
  EXPECT_LINE(text, h + R"(_bucket{listener="web",pool="api",le="0.0005"} 1)");
  EXPECT_LINE(text, h + R"(_bucket{listener="web",pool="api",le="0.001"} 1)");
  EXPECT_LINE(text, h + R"(_bucket{listener="web",pool="api",le="0.0025"} 1)");
  EXPECT_LINE(text, h + R"(_bucket{listener="web",pool="api",le="0.005"} 2)");
  EXPECT_LINE(text, h + R"(_bucket{listener="web",pool="api",le="10"} 2)");
  EXPECT_LINE(text, h + R"(_bucket{listener="web",pool="api",le="+Inf"} 3)");
  EXPECT_LINE(text, h + R"(_count{listener="web",pool="api"} 3)");
  EXPECT_LINE(text, h + R"(_sum{listener="web",pool="api"} 20.0033)");

  EXPECT_LINE(text, R"(fulcrum_downstream_connections_total{listener="web"} 7)");
  EXPECT_LINE(text, R"(fulcrum_downstream_connections_active{listener="web"} 2)");
  EXPECT_LINE(text, R"(fulcrum_bytes_received_total{listener="web"} 100)");
  EXPECT_LINE(text, R"(fulcrum_bytes_sent_total{listener="web"} 42)");
  EXPECT_LINE(text, R"(fulcrum_websocket_tunnels_active{listener="web"} 1)");

  EXPECT_LINE(
      text, R"(fulcrum_upstream_requests_total{backend="127.0.0.1:9001",code="200",pool="api"} 1)");
  EXPECT_LINE(
      text, R"(fulcrum_upstream_requests_total{backend="127.0.0.1:9001",code="502",pool="api"} 1)");
  EXPECT_LINE(text,
              R"(fulcrum_upstream_connect_failures_total{backend="127.0.0.1:9001",pool="api"} 4)");
  EXPECT_LINE(text, R"(fulcrum_outlier_ejections_total{backend="127.0.0.1:9001",pool="api"} 1)");
  EXPECT_LINE(
      text,
      R"(fulcrum_upstream_response_seconds_bucket{backend="127.0.0.1:9001",pool="api",le="0.025"} 1)");
  EXPECT_LINE(
      text,
      R"(fulcrum_upstream_response_seconds_bucket{backend="127.0.0.1:9001",pool="api",le="0.01"} 0)");
  EXPECT_LINE(text, R"(fulcrum_retries_total{pool="api"} 7)");
  EXPECT_LINE(
      text,
      R"(fulcrum_health_checks_total{backend="127.0.0.1:9001",pool="api",result="success"} 9)");
  EXPECT_LINE(
      text,
      R"(fulcrum_health_checks_total{backend="127.0.0.1:9001",pool="api",result="failure"} 1)");
  EXPECT_LINE(text, R"(fulcrum_config_reloads_total{result="success"} 2)");
  EXPECT_LINE(text, R"(fulcrum_config_reloads_total{result="failure"} 1)");
  EXPECT_LINE(text, "fulcrum_config_generation 3");
}

TEST(MetricsCollector, EveryContractNameIsPresentEvenWhenEmpty) {
  StatsRegistry stats(1);
  const std::string text = renderMetrics(stats, nullptr);
  const std::vector<std::pair<std::string, std::string>> table{
      {"fulcrum_downstream_connections_total", "counter"},
      {"fulcrum_downstream_connections_active", "gauge"},
      {"fulcrum_http_requests_total", "counter"},
      {"fulcrum_http_request_duration_seconds", "histogram"},
      {"fulcrum_upstream_requests_total", "counter"},
      {"fulcrum_upstream_connect_failures_total", "counter"},
      {"fulcrum_upstream_response_seconds", "histogram"},
      {"fulcrum_backend_up", "gauge"},
      {"fulcrum_backend_active_connections", "gauge"},
      {"fulcrum_bytes_received_total", "counter"},
      {"fulcrum_bytes_sent_total", "counter"},
      {"fulcrum_health_checks_total", "counter"},
      {"fulcrum_outlier_ejections_total", "counter"},
      {"fulcrum_retries_total", "counter"},
      {"fulcrum_sticky_entries", "gauge"},
      {"fulcrum_websocket_tunnels_active", "gauge"},
      {"fulcrum_config_reloads_total", "counter"},
      {"fulcrum_config_generation", "gauge"},
  };
  size_t last = 0;
  for (const auto& [name, type] : table) {
    const std::string line = "# TYPE " + name + " " + type;
    const size_t at = text.find(line + "\n");
    ASSERT_NE(at, std::string::npos) << line;
    EXPECT_GT(at, last == 0 ? 0 : last - 1) << name << " out of CONFIG.md order";
    last = at + 1;
  }
  EXPECT_LINE(text, "fulcrum_config_generation 0");
  EXPECT_LINE(text, R"(fulcrum_config_reloads_total{result="failure"} 0)");
}

TEST(MetricsCollector, BackendGaugesFromSnapshot) {
  config::PoolConfig pool_config;
  pool_config.name = "api";
  pool_config.backends.resize(3);
  pool_config.backends[0].address.text = "127.0.0.1:9001";
  pool_config.backends[1].address.text = "127.0.0.1:9002";
  pool_config.backends[2].address.text = "127.0.0.1:9003";

  auto pool = std::make_shared<upstream::Pool>();
  pool->config = &pool_config;
  for (uint32_t i = 0; i < 3; ++i) {
    upstream::PoolMember m;
    m.index = i;
    m.config = &pool_config.backends[i];
    m.state = std::make_shared<upstream::BackendState>();
    pool->members.push_back(m);
  }
  pool->members[0].state->active = 4;
  pool->members[1].state->health = upstream::Health::kDown;
  pool->members[2].state->ejected_until_ms = INT64_MAX;

  auto balancer = std::make_shared<balancer::PoolBalancer>();
  balancer->pool = pool;
  core::Snapshot snapshot;
  snapshot.generation = 5;
  snapshot.pools.push_back(core::PoolRuntime{balancer, nullptr, {}});

  StatsRegistry stats(1);
  const std::string text = renderMetrics(stats, &snapshot);
  EXPECT_LINE(text, R"(fulcrum_backend_up{backend="127.0.0.1:9001",pool="api"} 1)");
  EXPECT_LINE(text, R"(fulcrum_backend_up{backend="127.0.0.1:9002",pool="api"} 0)");
  EXPECT_LINE(text, R"(fulcrum_backend_up{backend="127.0.0.1:9003",pool="api"} 0)");
  EXPECT_LINE(text, R"(fulcrum_backend_active_connections{backend="127.0.0.1:9001",pool="api"} 4)");
  EXPECT_LINE(text, R"(fulcrum_backend_active_connections{backend="127.0.0.1:9002",pool="api"} 0)");
  EXPECT_LINE(text, "fulcrum_config_generation 5");
  // No source-IP table: no sticky series for the pool.
  EXPECT_EQ(text.find("fulcrum_sticky_entries{"), std::string::npos);
}

TEST(MetricsCollector, StickyEntriesFromSourceIpTable) {
  config::PoolConfig pool_config;
  pool_config.name = "sticky";
  auto pool = std::make_shared<upstream::Pool>();
  pool->config = &pool_config;
  auto balancer = std::make_shared<balancer::PoolBalancer>();
  balancer->pool = pool;
  balancer->source_ip_table = std::make_shared<sticky::SourceIpTable>(100, std::chrono::minutes(1));
  // Three live entries and one that expired before the scrape: the gauge counts the live.
  const int64_t now_ms = balancer::steadyMs(std::chrono::steady_clock::now());
  for (uint64_t i = 1; i <= 3; ++i) balancer->source_ip_table->remember({0, i}, 42, now_ms);
  balancer->source_ip_table->remember({0, 9}, 42, now_ms - 61'000);
  core::Snapshot snapshot;
  snapshot.pools.push_back(core::PoolRuntime{balancer, nullptr, {}});

  StatsRegistry stats(1);
  EXPECT_LINE(renderMetrics(stats, &snapshot), R"(fulcrum_sticky_entries{pool="sticky"} 3)");
}

TEST(MetricsCollector, CollectableMatchesRender) {
  StatsRegistry stats(1);
  stats.listener("web")->cell(0).connections_total.add(1);
  StatsCollector collector(stats, [] { return core::SnapshotConstSharedPtr(); });
  const auto families = collector.Collect();
  ASSERT_FALSE(families.empty());
  EXPECT_EQ(families[0].name, "fulcrum_downstream_connections_total");
  ASSERT_EQ(families[0].metric.size(), 1u);
  EXPECT_EQ(families[0].metric[0].counter.value, 1.0);
}

}  // namespace
}  // namespace fulcrum::metrics
