#include "fulcrum/control/fd_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "fulcrum/config/config_loader.h"

namespace fulcrum::control {
namespace {

config::ConfigConstSharedPtr load(const std::string& yaml) {
  config::LoadResult r = config::loadConfigString(yaml, "t.yaml", false);
  EXPECT_TRUE(r.ok());
  return r.config;
}

constexpr const char* kTwoListeners = R"(
workers: 2
listeners:
  - { name: web, listen: "127.0.0.1:1", protocol: http, pool: web,
      limits: { max_connections: 1000 } }
  - { name: raw, listen: "127.0.0.1:2", protocol: tcp, pool: web,
      limits: { max_connections: 500 } }
pools:
  - name: web
    keepalive: { max_idle_per_backend: 10 }
    backends: [{ address: "127.0.0.1:3" }, { address: "127.0.0.1:4" }, { address: "127.0.0.1:5" }]
)";

TEST(FdLimit, CountsTwoPerConnectionAndTheIdlePools) {
  auto config = load(kTwoListeners);
  ASSERT_NE(config, nullptr);
  const uint64_t need = descriptorsNeeded(*config);
  // 2 x (1000 + 500) connections, 2 workers x 10 idle x 3 backends, plus sockets and loops.
  EXPECT_GE(need, 3000u + 60u);
  EXPECT_LT(need, 3000u + 60u + 100u);
}

TEST(FdLimit, WarnsOnlyBelowWhatTheConfigCanUse) {
  auto config = load(kTwoListeners);
  ASSERT_NE(config, nullptr);
  const uint64_t need = descriptorsNeeded(*config);
  EXPECT_FALSE(fdLimitWarning(*config, need).has_value());
  auto warning = fdLimitWarning(*config, 1024);
  ASSERT_TRUE(warning.has_value());
  EXPECT_NE(warning->find("open file limit 1024"), std::string::npos) << *warning;
  EXPECT_NE(warning->find(std::to_string(need)), std::string::npos) << *warning;
}

TEST(FdLimit, RaisesTheSoftLimitToTheHardOne) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 300) GTEST_SKIP() << "hard limit too low";
  rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  const FdLimit raised = raiseFdLimit();
  EXPECT_EQ(raised.before, 256u);
  EXPECT_GT(raised.now, 256u);
  EXPECT_EQ(currentFdLimit(), raised.now);
  if (saved.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(raised.now, saved.rlim_max);
  }
  // Already at the hard limit: nothing changes.
  const FdLimit again = raiseFdLimit();
  EXPECT_EQ(again.before, again.now);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

}  // namespace
}  // namespace fulcrum::control
