// Every rule of a listener, its routes and the cross checks between listeners, with the
// message a user sees.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace fulcrum::config {
namespace {

using testing::errorsOf;
using testing::listenerWith;
using testing::load;
using testing::onlyError;

// Two listeners and the pools "web" and "api"; `second` is the second listener's body.
std::string twoListeners(const std::string& second, const std::string& top = "") {
  return top +
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:8080\n"
         "    pool: web\n" +
         second +
         "pools:\n"
         "  - name: web\n"
         "    backends: [{ address: 127.0.0.1:9001 }]\n"
         "  - name: api\n"
         "    backends: [{ address: 127.0.0.1:9002 }]\n";
}

TEST(ConfigListener, NameAndListenAreRequired) {
  EXPECT_EQ(errorsOf("listeners:\n  - protocol: tcp\n    pool: web\n"
                     "pools:\n  - name: web\n    backends: [{address: 127.0.0.1:1}]\n"),
            (std::vector<std::string>{
                "t.yaml:2:5: listeners[0].name: required",
                "t.yaml:2:5: listeners[0].listen: required",
            }));
}

TEST(ConfigListener, NameMustBeSimpleAndUnique) {
  EXPECT_EQ(onlyError(twoListeners("  - name: web\n    listen: 127.0.0.1:8081\n    pool: api\n")),
            "listeners[1].name: duplicate name \"web\" (also listeners[0])");
  EXPECT_EQ(
      onlyError(twoListeners("  - name: my web\n    listen: 127.0.0.1:8081\n    pool: api\n")),
      "listeners[1].name: \"my web\" is not a valid name (use letters, digits, '-', '_' and "
      "'.')");
}

TEST(ConfigListener, AddressesMustNotOverlap) {
  EXPECT_EQ(errorsOf(twoListeners("  - name: b\n    listen: 127.0.0.1:8080\n    pool: api\n")),
            std::vector<std::string>{"t.yaml:6:5: listeners[1].listen: 127.0.0.1:8080 overlaps "
                                     "the address of listeners[0] (\"web\", 127.0.0.1:8080)"});
  EXPECT_EQ(onlyError(twoListeners("  - name: b\n    listen: 0.0.0.0:8080\n    pool: api\n")),
            "listeners[1].listen: 0.0.0.0:8080 overlaps the address of listeners[0] (\"web\", "
            "127.0.0.1:8080)");
  EXPECT_EQ(onlyError(twoListeners("  - name: b\n    listen: localhost:8080\n    pool: api\n")),
            "listeners[1].listen: localhost:8080 overlaps the address of listeners[0] (\"web\", "
            "127.0.0.1:8080)");
  EXPECT_EQ(onlyError(twoListeners("", "admin: { listen: 127.0.0.1:8080 }\n")),
            "admin.listen: 127.0.0.1:8080 overlaps the address of listeners[0] (\"web\", "
            "127.0.0.1:8080)");
  // Different ports or different IPs are fine.
  EXPECT_TRUE(load(twoListeners("  - name: b\n    listen: 127.0.0.1:8081\n    pool: api\n")).ok());
  EXPECT_TRUE(load(twoListeners("  - name: b\n    listen: 127.0.0.2:8080\n    pool: api\n")).ok());
  EXPECT_TRUE(load(twoListeners("  - name: b\n    listen: \"[::1]:8080\"\n    pool: api\n")).ok());
}

const char* kOnePool = "pools:\n  - name: web\n    backends: [{ address: 127.0.0.1:9001 }]\n";

TEST(ConfigListener, ListenHostMustBeAnIpOrLocalhost) {
  EXPECT_EQ(errorsOf(std::string("listeners:\n  - name: web\n    listen: example.com:80\n"
                                 "    pool: web\n") +
                     kOnePool),
            std::vector<std::string>{"t.yaml:3:5: listeners[0].listen: a listener host must be "
                                     "an IP address (0.0.0.0, ::, 127.0.0.1, [::1]) or localhost, "
                                     "got \"example.com\""});
}

TEST(ConfigListener, Protocol) {
  EXPECT_EQ(onlyError(listenerWith("    protocol: udp\n")),
            "listeners[0].protocol: must be one of http, tcp, got \"udp\"");
  EXPECT_EQ(onlyError(listenerWith("    protocol: tpc\n")),
            "listeners[0].protocol: must be one of http, tcp, got \"tpc\" (did you mean \"tcp\"?)");
  LoadResult r = load(listenerWith("    protocol: tcp\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->listeners[0].protocol, Protocol::kTcp);
}

TEST(ConfigListener, PoolRequiredForTcpAndForHttpWithoutACatchAllRoute) {
  const char* pools = "pools:\n  - name: web\n    backends: [{address: 127.0.0.1:1}]\n";
  EXPECT_EQ(errorsOf(std::string("listeners:\n  - name: t\n    listen: 127.0.0.1:1\n"
                                 "    protocol: tcp\n") +
                     pools),
            std::vector<std::string>{"t.yaml:2:5: listeners[0].pool: required for a tcp listener"});
  EXPECT_EQ(onlyError(std::string("listeners:\n  - name: h\n    listen: 127.0.0.1:1\n"
                                  "    routes: [{ match: { path_prefix: /a }, pool: web }]\n") +
                      pools),
            "listeners[0].pool: required (the pool for requests that no route matches; or add a "
            "route with an empty match)");
  // A route that matches everything takes the default pool's role.
  LoadResult r = load(std::string("listeners:\n  - name: h\n    listen: 127.0.0.1:1\n"
                                  "    routes: [{ match: { path_prefix: /a }, pool: web },"
                                  " { pool: web }]\n") +
                      pools);
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
}

TEST(ConfigListener, PoolReferencesMustExist) {
  EXPECT_EQ(errorsOf(std::string("listeners:\n"
                                 "  - name: web\n"
                                 "    listen: 127.0.0.1:8080\n"
                                 "    pool: wbe\n"
                                 "    routes:\n"
                                 "      - match: { host: a.example }\n"
                                 "        pool: apii\n"
                                 "      - pool: zzz\n") +
                     kOnePool),
            (std::vector<std::string>{
                "t.yaml:4:5: listeners[0].pool: no pool is named \"wbe\" (did you mean \"web\"?)",
                "t.yaml:7:9: listeners[0].routes[0].pool: no pool is named \"apii\"",
                "t.yaml:8:9: listeners[0].routes[1].pool: no pool is named \"zzz\"",
            }));
}

TEST(ConfigListener, HttpRoutes) {
  LoadResult r =
      load(twoListeners("  - name: api\n"
                        "    listen: 127.0.0.1:8081\n"
                        "    pool: api\n"
                        "    routes:\n"
                        "      - match: { host: API.Example.COM, path_prefix: /v1/ }\n"
                        "        pool: api\n"
                        "      - match: { host: \"[::1]\" }\n"
                        "        pool: api\n"
                        "      - match: { host: 10.0.0.1 }\n"
                        "        pool: api\n"
                        "      - match: {}\n"
                        "        pool: web\n"
                        "      - match: { host: www.example.com. }\n"
                        "        pool: web\n"
                        "      - match: { host: \"FE80::1\" }\n"
                        "        pool: web\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  const auto& routes = r.config->listeners[1].routes;
  ASSERT_EQ(routes.size(), 6u);
  // A bare IPv6 literal is matched as a Host header carries it: in brackets.
  EXPECT_EQ(routes[5].match.host, "[fe80::1]");
  EXPECT_EQ(routes[4].match.host, "www.example.com");  // the fully qualified spelling
  EXPECT_EQ(routes[0].match.host, "api.example.com");  // lowercased
  EXPECT_EQ(routes[0].match.path_prefix, "/v1/");
  EXPECT_EQ(routes[0].pool, "api");
  EXPECT_EQ(routes[1].match.host, "[::1]");
  EXPECT_EQ(routes[2].match.host, "10.0.0.1");
  EXPECT_TRUE(routes[3].match.host.empty() && routes[3].match.path_prefix.empty());
}

TEST(ConfigListener, HttpRouteErrors) {
  EXPECT_EQ(errorsOf(listenerWith("    routes:\n"
                                  "      - match: { host: api.example.com:8080 }\n"
                                  "        pool: web\n"
                                  "      - match: { path_prefix: v1/, sni: a.example }\n"
                                  "        pool: web\n"
                                  "      - match: { hots: a }\n"
                                  "      - match: { host: \"bad host\" }\n"
                                  "        pool: web\n"
                                  "      - [web]\n"
                                  "      - { host: a.example, pool: web }\n")),
            (std::vector<std::string>{
                "t.yaml:6:18: listeners[0].routes[0].match.host: \"api.example.com:8080\" must be "
                "a host name without a port (ports are ignored when matching)",
                "t.yaml:8:18: listeners[0].routes[1].match.path_prefix: must start with '/', got "
                "\"v1/\"",
                "t.yaml:8:36: listeners[0].routes[1].match.sni: only tcp listeners match on sni "
                "(http routes match on host and path_prefix)",
                "t.yaml:10:9: listeners[0].routes[2].pool: required",
                "t.yaml:10:18: listeners[0].routes[2].match.hots: unknown key (did you mean "
                "\"host\"?)",
                "t.yaml:11:18: listeners[0].routes[3].match.host: \"bad host\" is not a valid host "
                "name",
                "t.yaml:13:9: listeners[0].routes[4]: expected a map, got a list",
                "t.yaml:14:11: listeners[0].routes[5].host: unknown key (it goes under \"match\": "
                "match: { host: ... })",
            }));
}

TEST(ConfigListener, TcpRoutesMatchOnSniOnly) {
  LoadResult r =
      load(listenerWith("    protocol: tcp\n"
                        "    routes:\n"
                        "      - match: { sni: \"*.Example.com\" }\n"
                        "        pool: web\n"
                        "      - match: { sni: db.example.com }\n"
                        "        pool: web\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  EXPECT_EQ(r.config->listeners[0].routes[0].match.sni, "*.example.com");
  EXPECT_EQ(r.config->listeners[0].routes[1].match.sni, "db.example.com");

  EXPECT_EQ(errorsOf(listenerWith("    protocol: tcp\n"
                                  "    routes:\n"
                                  "      - match: { host: a.example, path_prefix: /x }\n"
                                  "        pool: web\n"
                                  "      - match: { sni: \"a.*.example\" }\n"
                                  "        pool: web\n")),
            (std::vector<std::string>{
                "t.yaml:7:18: listeners[0].routes[0].match.host: only http listeners match on host "
                "(tcp routes match on sni)",
                "t.yaml:7:35: listeners[0].routes[0].match.path_prefix: only http listeners match "
                "on path_prefix (tcp routes match on sni)",
                "t.yaml:9:18: listeners[0].routes[1].match.sni: \"a.*.example\" is not a valid "
                "server name (an exact name or *.example.com)",
            }));
}

TEST(ConfigListener, LimitsTimeoutsHeaders) {
  LoadResult r =
      load(listenerWith("    limits: { max_connections: 5, max_header_bytes: 16KiB, "
                        "max_body_bytes: 10MiB }\n"
                        "    timeouts: { client_header: 250ms, client_idle: 2m }\n"
                        "    headers: { forwarded: false, request_id: no }\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  const ListenerConfig& l = r.config->listeners[0];
  EXPECT_EQ(l.limits.max_connections, 5u);
  EXPECT_EQ(l.limits.max_header_bytes, 16u * 1024);
  EXPECT_EQ(l.limits.max_body_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(l.timeouts.client_header, Duration(250));
  EXPECT_EQ(l.timeouts.client_idle, Duration(120'000));
  EXPECT_FALSE(l.headers.forwarded);
  EXPECT_FALSE(l.headers.request_id);

  EXPECT_EQ(errorsOf(listenerWith("    limits:\n"
                                  "      max_connections: 0\n"
                                  "      max_header_bytes: 0\n"
                                  "      max_body_bytes: 1TB\n"
                                  "    timeouts:\n"
                                  "      client_header: 0s\n"
                                  "      client_idle: 1.5s\n")),
            (std::vector<std::string>{
                "t.yaml:6:7: listeners[0].limits.max_connections: must be at least 1, got 0",
                "t.yaml:7:7: listeners[0].limits.max_header_bytes: must be between 1 and 16777216 "
                "bytes, got 0",
                "t.yaml:8:7: listeners[0].limits.max_body_bytes: invalid size \"1TB\" (bytes, or "
                "an integer with KiB, MiB or GiB, e.g. 512, 16KiB, 10MiB)",
                "t.yaml:10:7: listeners[0].timeouts.client_header: must be greater than 0, got 0s",
                "t.yaml:11:7: listeners[0].timeouts.client_idle: invalid duration \"1.5s\" (an "
                "integer and a unit: ms, s, m or h, e.g. 250ms, 2s, 1m, 1h)",
            }));
}

TEST(ConfigListener, HttpOnlySettingsOnATcpListenerWarn) {
  LoadResult r = load(listenerWith(
      "    protocol: tcp\n"
      "    limits: { max_connections: 5, max_header_bytes: 16KiB, max_body_bytes: 1MiB }\n"
      "    timeouts: { client_header: 1s, client_idle: 2m }\n"
      "    headers: { forwarded: false }\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  const std::string tail = ": ignored: only http listeners use it (this listener is tcp";
  EXPECT_EQ(r.warnings, (std::vector<std::string>{
                            "t.yaml:6:35: listeners[0].limits.max_header_bytes" + tail + ")",
                            "t.yaml:6:60: listeners[0].limits.max_body_bytes" + tail + ")",
                            "t.yaml:7:17: listeners[0].timeouts.client_header" + tail + ")",
                            "t.yaml:7:36: listeners[0].timeouts.client_idle" + tail +
                                "; a tcp session's idle limit is its pool's timeouts.idle)",
                            "t.yaml:8:5: listeners[0].headers" + tail + ")",
                        }));
  // max_connections applies to both; on an http listener none of these warns.
  EXPECT_TRUE(load(listenerWith("    protocol: tcp\n    limits: { max_connections: 5 }\n"))
                  .warnings.empty());
  EXPECT_TRUE(load(listenerWith("    limits: { max_header_bytes: 16KiB }\n"
                                "    timeouts: { client_idle: 2m }\n"
                                "    headers: { forwarded: false }\n"))
                  .warnings.empty());
}

TEST(ConfigListener, Tls) {
  LoadResult r =
      load(listenerWith("    tls:\n"
                        "      certificates:\n"
                        "        - { cert: a.crt, key: a.key }\n"
                        "        - { cert: b.crt, key: b.key }\n"
                        "      min_version: 1.3\n"
                        "      alpn: [http/1.1, h2]\n"));
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errorsOf(r));
  const ListenerTls& tls = *r.config->listeners[0].tls;
  ASSERT_EQ(tls.certificates.size(), 2u);
  EXPECT_EQ(tls.certificates[1].cert, "b.crt");
  EXPECT_EQ(tls.min_version, "1.3");  // an unquoted YAML number is fine
  EXPECT_EQ(tls.alpn, (std::vector<std::string>{"http/1.1", "h2"}));

  r = load(
      listenerWith("    tls: { certificates: [{ cert: a.crt, key: a.key }], min_version: 1.2 }\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->listeners[0].tls->min_version, "1.2");

  EXPECT_EQ(errorsOf(listenerWith("    tls:\n"
                                  "      certificates:\n"
                                  "        - { cert: a.crt }\n"
                                  "        - { key: b.key }\n"
                                  "      min_version: \"1.1\"\n"
                                  "      alpn: http/1.1\n")),
            (std::vector<std::string>{
                "t.yaml:7:11: listeners[0].tls.certificates[0].key: required",
                "t.yaml:8:11: listeners[0].tls.certificates[1].cert: required",
                "t.yaml:9:7: listeners[0].tls.min_version: must be one of 1.2, 1.3, got \"1.1\" "
                "(did you mean \"1.2\"?)",
                "t.yaml:10:7: listeners[0].tls.alpn: expected a list, got \"http/1.1\"",
            }));
  EXPECT_EQ(onlyError(listenerWith("    tls: { certificates: [] }\n")),
            "listeners[0].tls.certificates: must list at least one certificate (with cert and "
            "key)");
  EXPECT_EQ(onlyError(listenerWith("    tls: {}\n")), "listeners[0].tls.certificates: required");
}

}  // namespace
}  // namespace fulcrum::config
