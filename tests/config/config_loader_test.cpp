// Loading as a whole: defaults, the full CONFIG.md example, positions of errors, YAML syntax
// errors, unreadable files.
#include "fulcrum/config/config_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "config_test_util.h"

namespace fulcrum::config {
namespace {

using testing::errorsOf;
using testing::load;
using testing::onlyError;

const char* kMinimal = R"(listeners:
  - name: web
    listen: 127.0.0.1:8080
    pool: web
pools:
  - name: web
    backends:
      - address: 127.0.0.1:9001
)";

TEST(ConfigLoader, MinimalFileGetsEveryDefault) {
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

TEST(ConfigLoader, FullExampleOfConfigMdLoads) {
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

// Randomly damaged files (seeded, bounded): always errors or a config, never an exception
// or an "internal error".
TEST(ConfigLoader, DamagedFilesNeverThrow) {
  std::mt19937 rng(7);
  const std::string base = kFullExample;
  const char* pieces[] = {":",
                          "- ",
                          "[",
                          "]",
                          "{",
                          "}",
                          "\n",
                          "  ",
                          "\"",
                          "*a",
                          "&a ",
                          "-1",
                          "99999999999999999999",
                          "1.5",
                          "~",
                          "!!str ",
                          "? ",
                          "|",
                          ",",
                          "KiB"};
  for (int i = 0; i < 300; ++i) {
    std::string text = base;
    for (int edit = 0; edit < 3; ++edit) {
      size_t pos = rng() % (text.size() + 1);
      switch (rng() % 3) {
        case 0:
          text.insert(pos, pieces[rng() % std::size(pieces)]);
          break;
        case 1:
          text.erase(pos, rng() % 8);
          break;
        default:
          text.insert(pos, text.substr(rng() % text.size(), rng() % 40));
          break;
      }
    }
    LoadResult r;
    ASSERT_NO_THROW(r = load(text)) << text;
    EXPECT_NE(r.ok(), !r.errors.empty()) << text;
    for (const auto& e : r.errors) {
      EXPECT_EQ(e.message.find("internal error"), std::string::npos) << e.toString() << "\n"
                                                                     << text;
    }
  }
}

TEST(ConfigLoader, WorkersAutoOrANumber) {
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

TEST(ConfigLoader, ErrorPointsAtTheKeyWithOneBasedLineAndColumn) {
  std::string yaml = std::string(kMinimal) +
                     "  - name: big\n"
                     "    backends:\n"
                     "      - address: 127.0.0.1:9002\n"
                     "        weight: 5000\n";
  EXPECT_EQ(errorsOf(yaml), std::vector<std::string>{"t.yaml:12:9: pools[1].backends[0].weight: "
                                                     "must be between 0 and 1000, got 5000"});
}

TEST(ConfigLoader, FiveDifferentErrorsAllReportedInFileOrder) {
  const char* yaml = R"(listeners:
  - name: web
    listen: 127.0.0.1:99999
    pool: webb
    tiemouts:
      client_idle: 60s
pools:
  - name: web
    policy: round_robn
    backends:
      - address: 127.0.0.1:9001
        weight: 5000
)";
  EXPECT_EQ(errorsOf(yaml),
            (std::vector<std::string>{
                "t.yaml:3:5: listeners[0].listen: invalid port \"99999\" (must be 1..65535)",
                "t.yaml:4:5: listeners[0].pool: no pool is named \"webb\" (did you mean \"web\"?)",
                "t.yaml:5:5: listeners[0].tiemouts: unknown key (did you mean \"timeouts\"?)",
                "t.yaml:9:5: pools[0].policy: must be one of round_robin, least_connections, "
                "weighted_response_time, consistent_hash, random, power_of_two, got "
                "\"round_robn\" (did you mean \"round_robin\"?)",
                "t.yaml:12:9: pools[0].backends[0].weight: must be between 0 and 1000, got 5000",
            }));
}

TEST(ConfigLoader, UnknownKeysEverywhereWithHints) {
  const char* yaml = R"(listners: []
listeners:
  - name: web
    listen: 127.0.0.1:8080
    pool: web
    limits: { max_conections: 5 }
pools:
  - name: web
    backend:
      - address: 127.0.0.1:9001
    colour: blue
)";
  EXPECT_EQ(errorsOf(yaml),
            (std::vector<std::string>{
                "t.yaml:1:1: listners: unknown key (did you mean \"listeners\"?)",
                "t.yaml:6:15: listeners[0].limits.max_conections: unknown key (did you mean "
                "\"max_connections\"?)",
                "t.yaml:8:5: pools[0].backends: required (at least one backend)",
                "t.yaml:9:5: pools[0].backend: unknown key (did you mean \"backends\"?)",
                "t.yaml:11:5: pools[0].colour: unknown key",
            }));
}

TEST(ConfigLoader, RepeatedKeyIsAnError) {
  EXPECT_EQ(onlyError(std::string(kMinimal) + "    policy: random\n    policy: random\n"),
            "pools[0].policy: repeated key (only one is allowed)");
}

TEST(ConfigLoader, YamlSyntaxErrorHasItsPosition) {
  const char* yaml = "listeners:\n  - name: web\n    listen: [127.0.0.1:8080\npools: []\n";
  LoadResult r = load(yaml);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].toString(), "t.yaml:4:6: invalid YAML: end of sequence flow not found");
  r = load("a: b\n c: d\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].toString(), "t.yaml:2:3: invalid YAML: illegal map value");
  // yaml-cpp stops deep nesting (no stack overflow); the message says what happened.
  r = load("workers: " + std::string(5000, '[') + std::string(5000, ']') + "\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message, "invalid YAML: nested too deeply");
  EXPECT_EQ(r.errors[0].line, 1);
}

TEST(ConfigLoader, WrongTypesAreErrorsNotExceptions) {
  const char* yaml = R"(workers: {a: 1}
admin: [127.0.0.1:9901]
log: text
listeners:
  - name: [web]
    listen: {host: x}
    pool: web
    limits:
      max_connections: lots
      max_header_bytes: [1]
    headers:
      forwarded: maybe
pools: web
)";
  EXPECT_EQ(errorsOf(yaml),
            (std::vector<std::string>{
                "t.yaml:1:1: workers: must be auto or an integer between 1 and 256, got a map",
                "t.yaml:2:1: admin: expected a map, got a list",
                "t.yaml:3:1: log: expected a map, got \"text\"",
                "t.yaml:5:5: listeners[0].name: expected a string, got a list",
                "t.yaml:6:5: listeners[0].listen: expected a string, got a map",
                "t.yaml:9:7: listeners[0].limits.max_connections: expected an integer, got "
                "\"lots\"",
                "t.yaml:10:7: listeners[0].limits.max_header_bytes: expected a size, got a list",
                "t.yaml:12:7: listeners[0].headers.forwarded: expected true or false, got "
                "\"maybe\"",
                "t.yaml:13:1: pools: expected a list, got \"web\"",
            }));
}

TEST(ConfigLoader, EmptyFileNeedsListenersAndPools) {
  EXPECT_EQ(errorsOf(""), (std::vector<std::string>{
                              "t.yaml:1:1: listeners: required (at least one listener)",
                              "t.yaml:1:1: pools: required (at least one pool)",
                          }));
  EXPECT_EQ(errorsOf("listeners: []\npools: []\n"),
            (std::vector<std::string>{
                "t.yaml:1:1: listeners: must list at least one listener",
                "t.yaml:2:1: pools: must list at least one pool",
            }));
  EXPECT_EQ(errorsOf("- a\n"),
            std::vector<std::string>{"t.yaml:1:1: expected a map of settings, got a list"});
}

TEST(ConfigLoader, TopLevelBlocks) {
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

TEST(ConfigLoader, TopLevelBlockErrors) {
  EXPECT_EQ(errorsOf(std::string(R"(admin: { listen: example.com:9901 }
shutdown: { drain_timeout: 30 }
log: { level: verbose, format: jsn, access_log: "" }
)") + kMinimal),
            (std::vector<std::string>{
                "t.yaml:1:10: admin.listen: a listener host must be an IP address (0.0.0.0, ::, "
                "127.0.0.1, [::1]) or localhost, got \"example.com\"",
                "t.yaml:2:13: shutdown.drain_timeout: invalid duration \"30\" (an integer and a "
                "unit: ms, s, m or h, e.g. 250ms, 2s, 1m, 1h)",
                "t.yaml:3:8: log.level: must be one of error, warn, info, debug, got \"verbose\"",
                "t.yaml:3:24: log.format: must be one of json, text, got \"jsn\" (did you mean "
                "\"json\"?)",
                "t.yaml:3:37: log.access_log: must not be empty",
            }));
}

TEST(ConfigLoader, FileNotFoundAndFromDisk) {
  LoadResult r = loadConfigFile("/nonexistent/fulcrum.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].toString(),
            "/nonexistent/fulcrum.yaml: cannot read: No such file or directory");
  r = loadConfigFile("/tmp");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].toString(), "/tmp: cannot read: Is a directory");

  std::string path =
      ::testing::TempDir() + "/fulcrum_config_test_" + std::to_string(getpid()) + ".yaml";
  {
    std::ofstream out(path);
    out << kMinimal;
  }
  r = loadConfigFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  EXPECT_EQ(r.config->source_path, path);
}

TEST(ConfigLoader, DemoConfigOfTheRepoLoads) {
  LoadResult r = loadConfigFile(std::string(FULCRUM_SOURCE_DIR) + "/conf/demo.yaml");
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
}

}  // namespace
}  // namespace fulcrum::config
