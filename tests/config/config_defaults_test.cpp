// Defaults and the accepted forms of every block: the minimal file, the full example of
// CONFIG.md, workers, the top-level blocks.
#include <gtest/gtest.h>

#include <thread>

#include "config_test_util.h"
#include "fulcrum/config/config_loader.h"

namespace fulcrum::config {
namespace {

using testing::errorsOf;
using testing::kMinimal;
using testing::load;

TEST(ConfigDefaults, MinimalFileGetsEveryDefault) {
  LoadResult r = load(kMinimal);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  const Config& c = *r.config;
  EXPECT_EQ(c.source_path, "t.yaml");
  unsigned cpus = std::thread::hardware_concurrency();
  EXPECT_EQ(c.workers, cpus == 0 ? 1u : cpus);
  EXPECT_FALSE(c.admin.enabled);
  EXPECT_EQ(c.shutdown.drain_timeout, Duration(30'000));
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.log.access_log, "off");
  EXPECT_EQ(c.log.format, LogFormat::kJson);

  ASSERT_EQ(c.listeners.size(), 1u);
  const ListenerConfig& l = c.listeners[0];
  EXPECT_EQ(l.name, "web");
  EXPECT_EQ(l.listen.text, "127.0.0.1:8080");
  EXPECT_EQ(l.listen.port, 8080);
  EXPECT_GT(l.listen.length, 0u);
  EXPECT_EQ(l.protocol, Protocol::kHttp);
  EXPECT_EQ(l.pool, "web");
  EXPECT_TRUE(l.routes.empty());
  EXPECT_FALSE(l.tls.has_value());
  EXPECT_EQ(l.limits.max_connections, 10000u);
  EXPECT_EQ(l.limits.max_header_bytes, 32u * 1024);
  EXPECT_EQ(l.limits.max_body_bytes, 0u);
  EXPECT_EQ(l.timeouts.client_header, Duration(10'000));
  EXPECT_EQ(l.timeouts.client_idle, Duration(60'000));
  EXPECT_TRUE(l.headers.forwarded);
  EXPECT_TRUE(l.headers.request_id);

  ASSERT_EQ(c.pools.size(), 1u);
  const PoolConfig& p = c.pools[0];
  EXPECT_EQ(p.name, "web");
  EXPECT_EQ(p.policy, "round_robin");
  EXPECT_EQ(p.hash_key.kind, HashKeyKind::kNone);
  EXPECT_EQ(p.hash_balance_factor, 0u);
  EXPECT_EQ(p.slow_start, Duration(0));
  ASSERT_EQ(p.backends.size(), 1u);
  EXPECT_EQ(p.backends[0].address.text, "127.0.0.1:9001");
  EXPECT_EQ(p.backends[0].weight, 1u);
  EXPECT_FALSE(p.backends[0].backup);
  EXPECT_EQ(p.backends[0].max_connections, 0u);
  EXPECT_EQ(p.sticky.mode, StickyMode::kNone);
  EXPECT_FALSE(p.health_check.has_value());
  EXPECT_FALSE(p.outlier_detection.has_value());
  EXPECT_EQ(p.retries.attempts, 1u);
  EXPECT_TRUE(p.retries.on.connect_failure && p.retries.on.reset && p.retries.on.status_502 &&
              p.retries.on.status_503 && p.retries.on.status_504);
  EXPECT_EQ(p.retries.backoff_base, Duration(25));
  EXPECT_EQ(p.retries.backoff_max, Duration(250));
  EXPECT_EQ(p.timeouts.connect, Duration(2'000));
  EXPECT_EQ(p.timeouts.response, Duration(30'000));
  EXPECT_EQ(p.timeouts.idle, Duration(60'000));
  EXPECT_EQ(p.max_idle_per_backend, 64u);
  EXPECT_EQ(p.websocket_idle_timeout, Duration(3'600'000));
  EXPECT_FALSE(p.tls.has_value());
  EXPECT_EQ(c.findPool("web"), &p);
  EXPECT_EQ(c.findPool("nope"), nullptr);
  EXPECT_TRUE(r.warnings.empty()) << ::testing::PrintToString(r.warnings);
}

// The file of CONFIG.md "The file", with the pool `api` its route names added.
const char* kFullExample = R"(workers: auto
admin:
  listen: 127.0.0.1:9901
shutdown:
  drain_timeout: 30s
log:
  level: info
  access_log: off
  format: json

listeners:
  - name: web
    listen: 0.0.0.0:8080
    protocol: http
    pool: web
    routes:
      - match: { host: api.example.com, path_prefix: /v1/ }
        pool: api
    tls:
      certificates:
        - { cert: conf/certs/site.crt, key: conf/certs/site.key }
      min_version: "1.2"
      alpn: [http/1.1]
    limits:
      max_connections: 10000
      max_header_bytes: 32KiB
      max_body_bytes: 0
    timeouts:
      client_header: 10s
      client_idle: 60s
    headers:
      forwarded: true
      request_id: true

pools:
  - name: web
    policy: round_robin
    hash_key: source_ip
    hash_balance_factor: 0
    slow_start: 0s
    backends:
      - address: 127.0.0.1:9001
        weight: 1
        backup: false
        max_connections: 0
    sticky:
      mode: cookie
      cookie: FULCRUM_STICKY
      secret: ""
      ttl: 30m
      table_size: 100000
    health_check:
      type: http
      path: /healthz
      expect_status: [200]
      interval: 2s
      timeout: 1s
      healthy_threshold: 2
      unhealthy_threshold: 3
    outlier_detection:
      consecutive_failures: 5
      base_ejection_time: 30s
      max_ejection_percent: 50
    retries:
      attempts: 1
      on: [connect_failure, reset, "502", "503", "504"]
      backoff: { base: 25ms, max: 250ms }
    timeouts:
      connect: 2s
      response: 30s
      idle: 60s
    keepalive:
      max_idle_per_backend: 64
    websocket:
      idle_timeout: 1h
    tls:
      sni: api.internal
      ca_file: conf/certs/ca.pem
      verify: true
      cert: conf/certs/client.crt
      key: conf/certs/client.key
  - name: api
    backends:
      - address: 127.0.0.1:9002
)";

TEST(ConfigDefaults, FullExampleOfConfigMdLoads) {
  LoadResult r = load(kFullExample);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  const Config& c = *r.config;
  EXPECT_TRUE(c.admin.enabled);
  EXPECT_EQ(c.admin.listen.text, "127.0.0.1:9901");
  const ListenerConfig& l = c.listeners[0];
  ASSERT_EQ(l.routes.size(), 1u);
  EXPECT_EQ(l.routes[0].match.host, "api.example.com");
  EXPECT_EQ(l.routes[0].match.path_prefix, "/v1/");
  EXPECT_EQ(l.routes[0].pool, "api");
  ASSERT_TRUE(l.tls.has_value());
  ASSERT_EQ(l.tls->certificates.size(), 1u);
  EXPECT_EQ(l.tls->certificates[0].cert, "conf/certs/site.crt");
  EXPECT_EQ(l.tls->certificates[0].key, "conf/certs/site.key");
  EXPECT_EQ(l.tls->min_version, "1.2");
  EXPECT_EQ(l.tls->alpn, std::vector<std::string>{"http/1.1"});
  const PoolConfig& p = c.pools[0];
  EXPECT_EQ(p.sticky.mode, StickyMode::kCookie);
  EXPECT_EQ(p.sticky.cookie, "FULCRUM_STICKY");
  EXPECT_EQ(p.sticky.ttl, Duration(30 * 60'000));
  ASSERT_TRUE(p.health_check.has_value());
  EXPECT_EQ(p.health_check->expect_status, std::vector<int>{200});
  ASSERT_TRUE(p.outlier_detection.has_value());
  EXPECT_EQ(p.outlier_detection->max_ejection_percent, 50u);
  ASSERT_TRUE(p.tls.has_value());
  EXPECT_EQ(p.tls->sni, "api.internal");
  EXPECT_EQ(p.tls->ca_file, "conf/certs/ca.pem");
  EXPECT_TRUE(p.tls->verify);
  // round_robin ignores hash_key: said, not silently dropped.
  EXPECT_EQ(p.hash_key.kind, HashKeyKind::kNone);
  bool hash_key_warning = false;
  for (const auto& w : r.warnings) {
    if (w.find("t.yaml:38:5: pools[0].hash_key: ignored") == 0) hash_key_warning = true;
  }
  EXPECT_TRUE(hash_key_warning) << ::testing::PrintToString(r.warnings);
}

TEST(ConfigDefaults, WorkersAutoOrANumber) {
  auto withWorkers = [](const std::string& value) {
    return load("workers: " + value + "\n" + kMinimal);
  };
  LoadResult r = withWorkers("4");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->workers, 4u);
  r = withWorkers("auto");
  ASSERT_TRUE(r.ok());
  EXPECT_GE(r.config->workers, 1u);
  r = withWorkers("256");
  ASSERT_TRUE(r.ok());
  for (const char* bad : {"0", "257", "-1", "two", "1.5", "[1]"}) {
    r = withWorkers(bad);
    ASSERT_EQ(r.errors.size(), 1u) << bad;
    EXPECT_EQ(r.errors[0].path, "workers");
    EXPECT_EQ(r.errors[0].line, 1);
    EXPECT_EQ(r.errors[0].column, 1);
    EXPECT_NE(r.errors[0].message.find("must be auto or an integer between 1 and 256, got "),
              std::string::npos);
  }
}

TEST(ConfigDefaults, TopLevelBlocks) {
  LoadResult r = load(std::string(R"(admin:
  listen: "[::1]:9902"
shutdown: { drain_timeout: 0s }
log: { level: debug, access_log: /tmp/access.log, format: text }
)") + kMinimal);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  EXPECT_TRUE(r.config->admin.enabled);
  EXPECT_EQ(r.config->admin.listen.text, "[::1]:9902");
  EXPECT_EQ(r.config->shutdown.drain_timeout, Duration(0));
  EXPECT_EQ(r.config->log.level, LogLevel::kDebug);
  EXPECT_EQ(r.config->log.access_log, "/tmp/access.log");
  EXPECT_EQ(r.config->log.format, LogFormat::kText);

  r = load(std::string("admin: {}\n") + kMinimal);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.config->admin.enabled);
  EXPECT_EQ(r.config->admin.listen.text, "127.0.0.1:9901");  // the default
}

}  // namespace
}  // namespace fulcrum::config
