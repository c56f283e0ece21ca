// Features parsed but not implemented yet warn by name, and only when turned on.
#include "fulcrum/config/feature_warnings.h"

#include <gtest/gtest.h>

#include "config_test_util.h"

namespace fulcrum::config {
namespace {

TEST(ConfigFeatureWarnings, NoneForAPlainConfig) {
  LoadResult r = testing::load(testing::withExtra("", ""));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(collectNotYetImplementedWarnings(*r.config).empty());
  EXPECT_TRUE(r.warnings.empty());
  // Restating the defaults turns nothing on.
  r = testing::load(
      testing::poolWith("    slow_start: 0s\n"
                        "    retries: { attempts: 1, on: [connect_failure, reset, 502, 503, 504],"
                        " backoff: { base: 25ms, max: 250ms } }\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.warnings.empty()) << ::testing::PrintToString(r.warnings);
}

TEST(ConfigFeatureWarnings, EachFeatureNamed) {
  LoadResult r = testing::load(
      "listeners:\n"
      "  - name: web\n"
      "    listen: 127.0.0.1:8443\n"
      "    pool: web\n"
      "    tls: { certificates: [{ cert: a.crt, key: a.key }] }\n"
      "  - name: sni\n"
      "    listen: 127.0.0.1:8444\n"
      "    protocol: tcp\n"
      "    pool: web\n"
      "    routes: [{ match: { sni: a.example }, pool: web }]\n"
      "pools:\n"
      "  - name: web\n"
      "    policy: consistent_hash\n"
      "    hash_balance_factor: 150\n"
      "    slow_start: 10s\n"
      "    backends: [{ address: 127.0.0.1:9001 }]\n"
      "    health_check: {}\n"
      "    outlier_detection: {}\n"
      "    retries: { attempts: 2 }\n"
      "    tls: {}\n");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(testing::errorsOf(r));
  const std::string tail = " is not implemented yet in this build and is ignored";
  EXPECT_EQ(r.warnings, (std::vector<std::string>{
                            "listener \"web\": tls (TLS termination)" + tail,
                            "listener \"sni\": routing by sni (match: { sni: a.example })" + tail,
                            "pool \"web\": tls (TLS to the backends)" + tail,
                            "pool \"web\": health_check" + tail,
                            "pool \"web\": outlier_detection" + tail,
                            "pool \"web\": slow_start" + tail,
                            "pool \"web\": retries" + tail,
                        }));
}

}  // namespace
}  // namespace fulcrum::config
