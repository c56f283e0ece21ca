// Errors of a whole file: positions, every error at once, unknown keys, wrong types, YAML
// syntax errors, unreadable files, damaged input.
#include "fulcrum/config/config_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>

#include "config_test_util.h"

namespace fulcrum::config {
namespace {

using testing::errorsOf;
using testing::kMinimal;
using testing::load;
using testing::onlyError;

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

TEST(ConfigLoader, ASecondDocumentIsAnErrorNotDropped) {
  // Everything after the `---` used to be dropped without a word.
  LoadResult r = load(std::string(kMinimal) + "---\nworkers: 4\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].line, 10);  // kMinimal's 8 lines, the `---`, then the document
  EXPECT_NE(r.errors[0].message.find("a second YAML document"), std::string::npos);
  // A trailing `---` or `...` with nothing after it is harmless.
  EXPECT_TRUE(load(std::string(kMinimal) + "---\n").ok());
  EXPECT_TRUE(load(std::string(kMinimal) + "...\n").ok());
  EXPECT_TRUE(load(std::string("---\n") + kMinimal).ok());
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

TEST(ConfigLoader, AccessLogThatCannotBeWrittenIsAnErrorWithItsPosition) {
  auto load = [](const std::string& target) {
    return loadConfigString("log:\n  access_log: \"" + target + "\"\n" + kMinimal, "t.yaml");
  };
  LoadResult r = load("/nonexistent-fulcrum-dir/access.log");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].toString(),
            "t.yaml:2:3: log.access_log: cannot create the access log "
            "\"/nonexistent-fulcrum-dir/access.log\": no directory \"/nonexistent-fulcrum-dir\"");
  r = load(::testing::TempDir());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].toString().find("it is a directory"), std::string::npos);
  // A file that can be created, or one that exists: fine. Nothing is created by the check.
  const std::string path =
      ::testing::TempDir() + "/fulcrum_access_check_" + std::to_string(getpid()) + ".log";
  r = load(path);
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  EXPECT_NE(access(path.c_str(), F_OK), 0);
  // Without file checks (a unit test's config) nothing is looked at.
  r = loadConfigString(
      "log:\n  access_log: /nonexistent-fulcrum-dir/a.log\n" + std::string(kMinimal), "t.yaml",
      false);
  EXPECT_TRUE(r.ok());
}

TEST(ConfigLoader, DemoConfigOfTheRepoLoads) {
  LoadResult r = loadConfigFile(std::string(FULCRUM_SOURCE_DIR) + "/conf/demo.yaml");
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
}

// Randomly damaged files (seeded, bounded): always errors or a config, never an exception
// or an "internal error".
TEST(ConfigLoader, DamagedFilesNeverThrow) {
  std::mt19937 rng(7);
  const std::string base = std::string("workers: 2\nadmin: { listen: 127.0.0.1:9901 }\n") +
                           kMinimal +
                           "    sticky: { mode: source_ip, ttl: 5m }\n"
                           "    health_check: { path: /h, expect_status: [200, 204] }\n"
                           "    retries: { on: [reset, 502], backoff: { base: 1ms, max: 2ms } }\n";
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

}  // namespace
}  // namespace fulcrum::config
