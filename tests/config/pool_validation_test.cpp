// Every rule of a pool: policy, hash key, backends, sticky, timeouts, keep-alive, websocket,
// tls, and the cross checks between pools.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace fulcrum::config {
namespace {

using testing::errorsOf;
using testing::load;
using testing::onlyError;
using testing::poolWith;

// A copy: the LoadResult is usually a temporary.
PoolConfig poolOf(const LoadResult& r) {
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(testing::errorsOf(r));
  return r.ok() ? r.config->pools[0] : PoolConfig{};
}

TEST(ConfigPool, EveryPolicyName) {
  for (const char* policy : {"round_robin", "least_connections", "weighted_response_time",
                             "consistent_hash", "random", "power_of_two"}) {
    LoadResult r = load(poolWith(std::string("    policy: ") + policy + "\n"));
    EXPECT_EQ(poolOf(r).policy, policy);
  }
  EXPECT_EQ(onlyError(poolWith("    policy: least_conections\n")),
            "pools[0].policy: must be one of round_robin, least_connections, "
            "weighted_response_time, consistent_hash, random, power_of_two, got "
            "\"least_conections\" (did you mean \"least_connections\"?)");
  EXPECT_EQ(onlyError(poolWith("    policy: fastest\n")),
            "pools[0].policy: must be one of round_robin, least_connections, "
            "weighted_response_time, consistent_hash, random, power_of_two, got \"fastest\"");
}

TEST(ConfigPool, NameRequiredAndUnique) {
  EXPECT_EQ(errorsOf(poolWith("  - name: web\n    backends: [{ address: 127.0.0.1:9002 }]\n"
                              "  - backends: [{ address: 127.0.0.1:9003 }]\n")),
            (std::vector<std::string>{
                "t.yaml:9:5: pools[1].name: duplicate name \"web\" (also pools[0])",
                "t.yaml:11:5: pools[2].name: required",
            }));
}

TEST(ConfigPool, HashKeyFormats) {
  struct Case {
    const char* text;
    HashKeyKind kind;
    const char* name;
  };
  const Case cases[] = {
      {"source_ip", HashKeyKind::kSourceIp, ""},
      {"path", HashKeyKind::kPath, ""},
      {"header:X-User-Id", HashKeyKind::kHeader, "x-user-id"},
      {"cookie:SESSION", HashKeyKind::kCookie, "SESSION"},
      {"query:user", HashKeyKind::kQuery, "user"},
  };
  for (const Case& c : cases) {
    PoolConfig p = poolOf(load(
        poolWith(std::string("    policy: consistent_hash\n    hash_key: \"") + c.text + "\"\n")));
    EXPECT_EQ(p.hash_key.kind, c.kind) << c.text;
    EXPECT_EQ(p.hash_key.name, c.name) << c.text;
  }
  // consistent_hash without hash_key hashes the source IP (CONFIG.md's default).
  EXPECT_EQ(poolOf(load(poolWith("    policy: consistent_hash\n"))).hash_key.kind,
            HashKeyKind::kSourceIp);
}

TEST(ConfigPool, HashKeyErrors) {
  const std::string tail = " (use source_ip, path, header:NAME, cookie:NAME or query:NAME)";
  EXPECT_EQ(onlyError(poolWith("    policy: consistent_hash\n    hash_key: sourceip\n")),
            "pools[0].hash_key: invalid hash key \"sourceip\": unknown kind (did you mean "
            "\"source_ip\"?)" +
                tail);
  EXPECT_EQ(onlyError(poolWith("    policy: consistent_hash\n    hash_key: \"header:\"\n")),
            "pools[0].hash_key: invalid hash key \"header:\": a name is required after "
            "\"header:\"" +
                tail);
  EXPECT_EQ(onlyError(poolWith("    policy: consistent_hash\n    hash_key: \"cookie:a b\"\n")),
            "pools[0].hash_key: invalid hash key \"cookie:a b\": \"a b\" is not a valid cookie "
            "name" +
                tail);
  EXPECT_EQ(onlyError(poolWith("    policy: consistent_hash\n    hash_key: \"path:x\"\n")),
            "pools[0].hash_key: invalid hash key \"path:x\": unknown kind (did you mean "
            "\"path\"?)" +
                tail);
}

TEST(ConfigPool, HashSettingsOnOtherPoliciesAreIgnoredWithAWarning) {
  LoadResult r = load(poolWith("    hash_key: source_ip\n    hash_balance_factor: 150\n"));
  PoolConfig p = poolOf(r);
  EXPECT_EQ(p.hash_key.kind, HashKeyKind::kNone);
  EXPECT_EQ(p.hash_balance_factor, 0u);
  EXPECT_EQ(r.warnings, (std::vector<std::string>{
                            "t.yaml:9:5: pools[0].hash_key: ignored: only policy consistent_hash "
                            "uses it (this pool uses round_robin)",
                            "t.yaml:10:5: pools[0].hash_balance_factor: ignored: only policy "
                            "consistent_hash uses it (this pool uses round_robin)",
                        }));
}

TEST(ConfigPool, HashBalanceFactor) {
  EXPECT_EQ(poolOf(load(poolWith("    policy: consistent_hash\n    hash_balance_factor: 125\n")))
                .hash_balance_factor,
            125u);
  EXPECT_EQ(poolOf(load(poolWith("    policy: consistent_hash\n    hash_balance_factor: 0\n")))
                .hash_balance_factor,
            0u);
  EXPECT_EQ(onlyError(poolWith("    policy: consistent_hash\n    hash_balance_factor: 50\n")),
            "pools[0].hash_balance_factor: must be 0 (off) or at least 100, got 50");
  EXPECT_EQ(onlyError(poolWith("    policy: consistent_hash\n    hash_balance_factor: -1\n")),
            "pools[0].hash_balance_factor: must be between 0 and 100000, got -1");
}

TEST(ConfigPool, SlowStart) {
  EXPECT_EQ(poolOf(load(poolWith("    slow_start: 30s\n"))).slow_start, Duration(30'000));
  EXPECT_EQ(onlyError(poolWith("    slow_start: 30\n")),
            "pools[0].slow_start: invalid duration \"30\" (an integer and a unit: ms, s, m or h, "
            "e.g. 250ms, 2s, 1m, 1h)");
}

TEST(ConfigPool, Backends) {
  PoolConfig p = poolOf(load(poolWith(
      "      - { address: \"[::1]:9002\", weight: 0 }\n"
      "      - { address: localhost:9003, weight: 1000, backup: true, max_connections: 7 }\n")));
  ASSERT_EQ(p.backends.size(), 3u);
  EXPECT_EQ(p.backends[1].address.text, "[::1]:9002");
  EXPECT_EQ(p.backends[1].weight, 0u);
  EXPECT_EQ(p.backends[2].address.text, "localhost:9003");
  EXPECT_GT(p.backends[2].address.length, 0u);  // resolved at load
  EXPECT_EQ(p.backends[2].weight, 1000u);
  EXPECT_TRUE(p.backends[2].backup);
  EXPECT_EQ(p.backends[2].max_connections, 7u);
}

TEST(ConfigPool, BackendErrors) {
  EXPECT_EQ(errorsOf(poolWith("      - weight: 2\n"
                              "      - address: 127.0.0.1:9002\n"
                              "        weight: 1001\n"
                              "        backup: perhaps\n"
                              "        max_connections: -1\n"
                              "      - address: no-such-host.invalid:80\n"
                              "      - address: 127.0.0.1:9001\n"
                              "      - address: localhost:9002\n")),
            (std::vector<std::string>{
                "t.yaml:9:9: pools[0].backends[1].address: required",
                "t.yaml:11:9: pools[0].backends[2].weight: must be between 0 and 1000, got 1001",
                "t.yaml:12:9: pools[0].backends[2].backup: expected true or false, got "
                "\"perhaps\"",
                "t.yaml:13:9: pools[0].backends[2].max_connections: must be at least 0, got -1",
                "t.yaml:14:9: pools[0].backends[3].address: cannot resolve "
                "\"no-such-host.invalid\": Name or service not known",
                "t.yaml:15:9: pools[0].backends[4].address: same address as backends[0] "
                "(127.0.0.1:9001)",
                "t.yaml:16:9: pools[0].backends[5].address: same address as backends[2] "
                "(127.0.0.1:9002)",
            }));
  EXPECT_EQ(errorsOf("listeners: [{ name: w, listen: 127.0.0.1:1, pool: p }]\n"
                     "pools:\n  - name: p\n    backends: []\n"),
            std::vector<std::string>{"t.yaml:4:5: pools[0].backends: must list at least one "
                                     "backend"});
}

TEST(ConfigPool, Sticky) {
  PoolConfig c = poolOf(load(poolWith("    sticky: { cookie: SRV, secret: s3cret }\n")));
  EXPECT_EQ(c.sticky.mode, StickyMode::kCookie);  // the block alone means cookie mode
  EXPECT_EQ(c.sticky.cookie, "SRV");
  EXPECT_EQ(c.sticky.secret, "s3cret");
  PoolConfig s =
      poolOf(load(poolWith("    sticky: { mode: source_ip, ttl: 5m, table_size: 10 }\n")));
  EXPECT_EQ(s.sticky.mode, StickyMode::kSourceIp);
  EXPECT_EQ(s.sticky.ttl, Duration(300'000));
  EXPECT_EQ(s.sticky.table_size, 10u);

  EXPECT_EQ(errorsOf(poolWith("    sticky:\n"
                              "      mode: ip\n"
                              "      cookie: \"my cookie\"\n"
                              "      ttl: 0s\n"
                              "      table_size: 0\n")),
            (std::vector<std::string>{
                "t.yaml:10:7: pools[0].sticky.mode: must be one of cookie, source_ip, got \"ip\"",
                "t.yaml:11:7: pools[0].sticky.cookie: \"my cookie\" is not a valid cookie name (no "
                "spaces, controls or ()<>@,;:\\\"/[]?={})",
                "t.yaml:12:7: pools[0].sticky.ttl: must be greater than 0, got 0s",
                "t.yaml:13:7: pools[0].sticky.table_size: must be between 1 and 10000000, got 0",
            }));
  // The table is allocated whole at start: a size that cannot be is refused by the check,
  // not found out by the allocator (it aborted the process, also at a reload).
  EXPECT_EQ(errorsOf(poolWith("    sticky: { mode: source_ip, table_size: 4294967295 }\n")),
            std::vector<std::string>{"t.yaml:9:32: pools[0].sticky.table_size: must be between "
                                     "1 and 10000000, got 4294967295"});
  // Above a limit that is only the storage type's: the message says "at most".
  EXPECT_EQ(errorsOf(poolWith("    keepalive: { max_idle_per_backend: 99999999999 }\n")),
            std::vector<std::string>{"t.yaml:9:18: pools[0].keepalive.max_idle_per_backend: "
                                     "must be at most 4294967295, got 99999999999"});
}

TEST(ConfigPool, HealthCheck) {
  PoolConfig p = poolOf(load(poolWith(
      "    health_check: { type: tcp, interval: 5s, timeout: 5s, healthy_threshold: 1 }\n")));
  ASSERT_TRUE(p.health_check.has_value());
  EXPECT_EQ(p.health_check->type, HealthCheckType::kTcp);
  EXPECT_EQ(p.health_check->interval, Duration(5000));
  EXPECT_EQ(p.health_check->timeout, Duration(5000));
  EXPECT_EQ(p.health_check->healthy_threshold, 1u);
  EXPECT_EQ(p.health_check->unhealthy_threshold, 3u);
  EXPECT_EQ(p.health_check->path, "/healthz");
  PoolConfig h =
      poolOf(load(poolWith("    health_check: { path: /ping, expect_status: [200, 204, 301] }\n")));
  EXPECT_EQ(h.health_check->type, HealthCheckType::kHttp);
  EXPECT_EQ(h.health_check->path, "/ping");
  EXPECT_EQ(h.health_check->expect_status, (std::vector<int>{200, 204, 301}));

  EXPECT_EQ(errorsOf(poolWith("    health_check:\n"
                              "      type: grpc\n"
                              "      path: healthz\n"
                              "      expect_status: [200, 99, 600]\n"
                              "      interval: 1s\n"
                              "      timeout: 2s\n"
                              "      healthy_threshold: 0\n"
                              "      unhealthy_threshold: 0\n")),
            (std::vector<std::string>{
                "t.yaml:10:7: pools[0].health_check.type: must be one of http, tcp, got \"grpc\"",
                "t.yaml:11:7: pools[0].health_check.path: must start with '/', got \"healthz\"",
                "t.yaml:12:28: pools[0].health_check.expect_status[1]: must be between 100 and "
                "599, got 99",
                "t.yaml:12:32: pools[0].health_check.expect_status[2]: must be between 100 and "
                "599, got 600",
                "t.yaml:14:7: pools[0].health_check.timeout: the timeout (2s) must not be longer "
                "than the interval (1s)",
                "t.yaml:15:7: pools[0].health_check.healthy_threshold: must be at least 1, got 0",
                "t.yaml:16:7: pools[0].health_check.unhealthy_threshold: must be at least 1, got 0",
            }));
  EXPECT_EQ(onlyError(poolWith("    health_check: { expect_status: [] }\n")),
            "pools[0].health_check.expect_status: must list at least one status");
  EXPECT_EQ(onlyError(poolWith("    health_check: { interval: 0s }\n")),
            "pools[0].health_check.interval: must be greater than 0, got 0s");
  EXPECT_EQ(onlyError(poolWith("    health_check: { interval: 500ms }\n")),  // default 1s timeout
            "pools[0].health_check.interval: the timeout (1s) must not be longer than the "
            "interval (500ms)");
}

TEST(ConfigPool, OutlierDetection) {
  PoolConfig p = poolOf(load(poolWith("    outlier_detection: { consecutive_failures: 3 }\n")));
  ASSERT_TRUE(p.outlier_detection.has_value());
  EXPECT_EQ(p.outlier_detection->consecutive_failures, 3u);
  EXPECT_EQ(p.outlier_detection->base_ejection_time, Duration(30'000));
  EXPECT_EQ(p.outlier_detection->max_ejection_percent, 50u);
  EXPECT_EQ(errorsOf(poolWith("    outlier_detection:\n"
                              "      consecutive_failures: 0\n"
                              "      base_ejection_time: 0s\n"
                              "      max_ejection_percent: 101\n")),
            (std::vector<std::string>{
                "t.yaml:10:7: pools[0].outlier_detection.consecutive_failures: must be at least 1, "
                "got 0",
                "t.yaml:11:7: pools[0].outlier_detection.base_ejection_time: must be greater than "
                "0, got 0s",
                "t.yaml:12:7: pools[0].outlier_detection.max_ejection_percent: must be between 0 "
                "and 100, got 101",
            }));
}

TEST(ConfigPool, Retries) {
  PoolConfig p =
      poolOf(load(poolWith("    retries: { attempts: 3, on: [connect_failure, 503], backoff: { "
                           "base: 10ms, max: 1s } }\n")));
  EXPECT_EQ(p.retries.attempts, 3u);
  EXPECT_TRUE(p.retries.on.connect_failure);
  EXPECT_FALSE(p.retries.on.reset);
  EXPECT_FALSE(p.retries.on.status_502);
  EXPECT_TRUE(p.retries.on.status_503);  // a number in YAML, a string in CONFIG.md: both work
  EXPECT_FALSE(p.retries.on.status_504);
  EXPECT_EQ(p.retries.backoff_base, Duration(10));
  EXPECT_EQ(p.retries.backoff_max, Duration(1000));
  EXPECT_EQ(poolOf(load(poolWith("    retries: { attempts: 0, on: [] }\n"))).retries.attempts, 0u);

  EXPECT_EQ(errorsOf(poolWith("    retries:\n"
                              "      attempts: 11\n"
                              "      on: [connect_failure, 500, rest]\n"
                              "      backoff: { base: 1s, max: 100ms }\n")),
            (std::vector<std::string>{
                "t.yaml:10:7: pools[0].retries.attempts: must be between 0 and 10, got 11",
                "t.yaml:11:29: pools[0].retries.on[1]: must be one of connect_failure, reset, 502, "
                "503, 504, got \"500\" (did you mean \"502\"?)",
                "t.yaml:11:34: pools[0].retries.on[2]: must be one of connect_failure, reset, 502, "
                "503, 504, got \"rest\" (did you mean \"reset\"?)",
                "t.yaml:12:18: pools[0].retries.backoff.base: the base (1s) must not be longer "
                "than the max (100ms)",
            }));
}

TEST(ConfigPool, TimeoutsKeepaliveWebsocket) {
  PoolConfig p =
      poolOf(load(poolWith("    timeouts: { connect: 500ms, response: 5s, idle: 1m }\n"
                           "    keepalive: { max_idle_per_backend: 0 }\n"
                           "    websocket: { idle_timeout: 10m }\n")));
  EXPECT_EQ(p.timeouts.connect, Duration(500));
  EXPECT_EQ(p.timeouts.response, Duration(5000));
  EXPECT_EQ(p.timeouts.idle, Duration(60'000));
  EXPECT_EQ(p.max_idle_per_backend, 0u);
  EXPECT_EQ(p.websocket_idle_timeout, Duration(600'000));
  EXPECT_EQ(errorsOf(poolWith("    timeouts: { connect: 0ms, response: 5, idel: 1m }\n"
                              "    keepalive: { max_idle_per_backend: -1 }\n"
                              "    websocket: { idle_timeout: 0s }\n")),
            (std::vector<std::string>{
                "t.yaml:9:17: pools[0].timeouts.connect: must be greater than 0, got 0ms",
                "t.yaml:9:31: pools[0].timeouts.response: invalid duration \"5\" (an integer and a "
                "unit: ms, s, m or h, e.g. 250ms, 2s, 1m, 1h)",
                "t.yaml:9:44: pools[0].timeouts.idel: unknown key (did you mean \"idle\"?)",
                "t.yaml:10:18: pools[0].keepalive.max_idle_per_backend: must be at least 0, got -1",
                "t.yaml:11:18: pools[0].websocket.idle_timeout: must be greater than 0, got 0s",
            }));
}

TEST(ConfigPool, UpstreamTls) {
  PoolConfig p = poolOf(load(poolWith("    tls: { sni: API.internal, verify: false }\n")));
  ASSERT_TRUE(p.tls.has_value());
  EXPECT_EQ(p.tls->sni, "api.internal");
  EXPECT_FALSE(p.tls->verify);
  EXPECT_TRUE(p.tls->ca_file.empty());
  EXPECT_EQ(onlyError(poolWith("    tls: { cert: client.crt }\n")),
            "pools[0].tls.key: required when cert is set");
  EXPECT_EQ(onlyError(poolWith("    tls: { key: client.key }\n")),
            "pools[0].tls.cert: required when key is set");
  EXPECT_EQ(onlyError(poolWith("    tls: { verify: 1.2 }\n")),
            "pools[0].tls.verify: expected true or false, got \"1.2\"");
  EXPECT_EQ(onlyError(poolWith("    tls: { sni: \"a b\" }\n")),
            "pools[0].tls.sni: \"a b\" is not a valid server name");
}

TEST(ConfigPool, UnusedPoolIsAWarning) {
  LoadResult r = load(poolWith("  - name: spare\n    backends: [{ address: 127.0.0.1:9009 }]\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.warnings,
            std::vector<std::string>{"t.yaml:9:5: pools[1].name: pool \"spare\" is not used by any "
                                     "listener or route"});
}

// Settings that read the HTTP request, on a pool a tcp listener uses, and two cookie-sticky
// pools behind one listener with one cookie name, and a cookie name browsers would drop.
TEST(ConfigPool, StickyAndHashSettingsThatCannotWorkAreWarnings) {
  LoadResult r = load(R"(listeners:
  - { name: t, listen: 127.0.0.1:8080, protocol: tcp, pool: a }
  - { name: web, listen: 127.0.0.1:8081, pool: b, routes: [{ match: { path_prefix: /api/ }, pool: c }] }
pools:
  - name: a
    policy: consistent_hash
    hash_key: header:X-User
    sticky: { mode: cookie }
    backends: [{ address: 127.0.0.1:9001 }]
  - name: b
    sticky: { mode: cookie }
    backends: [{ address: 127.0.0.1:9002 }]
  - name: c
    sticky: { mode: cookie, cookie: __Host-S }
    backends: [{ address: 127.0.0.1:9003 }]
)");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  EXPECT_EQ(r.warnings,
            (std::vector<std::string>{
                "t.yaml:8:15: pools[0].sticky.mode: ignored for the connections of tcp listener "
                "\"t\": cookie stickiness needs HTTP (mode: source_ip works on tcp)",
                "t.yaml:7:5: pools[0].hash_key: ignored for the connections of tcp listener "
                "\"t\": they carry no HTTP request to take the key from, so they are spread "
                "round robin (hash_key: source_ip works on tcp)",
                "t.yaml:14:29: pools[2].sticky.cookie: browsers drop a cookie named __Host-S "
                "unless it is set with Secure over HTTPS, which this proxy's cookie is not: "
                "stickiness would never hold; choose a name without that prefix",
            }));
  // The same two pools with one cookie name.
  r = load(R"(listeners:
  - { name: web, listen: 127.0.0.1:8081, pool: b, routes: [{ match: { path_prefix: /api/ }, pool: c }] }
pools:
  - { name: b, sticky: { mode: cookie }, backends: [{ address: 127.0.0.1:9002 }] }
  - { name: c, sticky: { mode: cookie }, backends: [{ address: 127.0.0.1:9003 }] }
  - { name: d, sticky: { mode: cookie, cookie: OTHER }, backends: [{ address: 127.0.0.1:9004 }] }
)");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 2u) << ::testing::PrintToString(r.warnings);
  EXPECT_NE(r.warnings[1].find("pools \"b\" and \"c\" both serve listener \"web\" with the "
                               "sticky cookie FULCRUM_STICKY"),
            std::string::npos)
      << r.warnings[1];
}

}  // namespace
}  // namespace fulcrum::config
