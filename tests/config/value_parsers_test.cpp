#include "fulcrum/config/value_parsers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "fulcrum/config/config_loader.h"
#include "fulcrum/config/did_you_mean.h"

namespace fulcrum::config {
namespace {

TEST(ConfigParseDuration, AcceptsEveryUnit) {
  Duration d{};
  ASSERT_TRUE(parseDuration("250ms", d));
  EXPECT_EQ(d.count(), 250);
  ASSERT_TRUE(parseDuration("2s", d));
  EXPECT_EQ(d.count(), 2000);
  ASSERT_TRUE(parseDuration("1m", d));
  EXPECT_EQ(d.count(), 60'000);
  ASSERT_TRUE(parseDuration("1h", d));
  EXPECT_EQ(d.count(), 3'600'000);
  ASSERT_TRUE(parseDuration("0s", d));
  EXPECT_EQ(d.count(), 0);
  ASSERT_TRUE(parseDuration("90m", d));
  EXPECT_EQ(d.count(), 5'400'000);
}

TEST(ConfigParseDuration, RejectsEverythingElse) {
  Duration d{};
  for (const char* bad :
       {"", "5", "s", "1.5s", "-1s", "+1s", "1 s", " 1s", "1s ", "1S", "1sec", "1d", "1us", "1ms5",
        "2s1", "1e3ms", "99999999999999999999h", "9999999999999h"}) {
    EXPECT_FALSE(parseDuration(bad, d)) << bad;
  }
}

TEST(ConfigParseSize, AcceptsBytesAndBinaryUnits) {
  uint64_t s = 0;
  ASSERT_TRUE(parseSize("512", s));
  EXPECT_EQ(s, 512u);
  ASSERT_TRUE(parseSize("0", s));
  EXPECT_EQ(s, 0u);
  ASSERT_TRUE(parseSize("16KiB", s));
  EXPECT_EQ(s, 16u * 1024);
  ASSERT_TRUE(parseSize("10MiB", s));
  EXPECT_EQ(s, 10u * 1024 * 1024);
  ASSERT_TRUE(parseSize("1GiB", s));
  EXPECT_EQ(s, 1024u * 1024 * 1024);
}

TEST(ConfigParseSize, RejectsEverythingElse) {
  uint64_t s = 0;
  for (const char* bad : {"", "KiB", "16kib", "16KB", "16K", "1.5MiB", "-1", "16 KiB", "1TiB",
                          "99999999999999999999", "17179869184GiB"}) {
    EXPECT_FALSE(parseSize(bad, s)) << bad;
  }
}

std::string ipOf(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr, buf,
              sizeof(buf));
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

uint16_t portOf(const Address& a) {
  if (a.storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_port);
}

TEST(ConfigParseAddress, Ipv4) {
  Address a;
  std::string error;
  ASSERT_TRUE(parseAddress("127.0.0.1:9001", false, a, error)) << error;
  EXPECT_EQ(a.text, "127.0.0.1:9001");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9001);
  EXPECT_EQ(a.storage.ss_family, AF_INET);
  EXPECT_EQ(a.length, sizeof(sockaddr_in));
  EXPECT_EQ(ipOf(a), "127.0.0.1");
  EXPECT_EQ(portOf(a), 9001);
}

TEST(ConfigParseAddress, Ipv6InBrackets) {
  Address a;
  std::string error;
  ASSERT_TRUE(parseAddress("[::1]:80", false, a, error)) << error;
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 80);
  EXPECT_EQ(a.storage.ss_family, AF_INET6);
  EXPECT_EQ(a.length, sizeof(sockaddr_in6));
  EXPECT_EQ(ipOf(a), "::1");
  EXPECT_EQ(portOf(a), 80);
  ASSERT_TRUE(parseAddress("[2001:db8::5]:65535", false, a, error)) << error;
  EXPECT_EQ(ipOf(a), "2001:db8::5");
  ASSERT_TRUE(parseAddress("[::]:8080", false, a, error)) << error;
  ASSERT_TRUE(parseAddress("[::ffff:10.0.0.1]:1", false, a, error)) << error;
}

TEST(ConfigParseAddress, DnsNameUnresolvedOrResolved) {
  Address a;
  std::string error;
  ASSERT_TRUE(parseAddress("db.internal:5432", false, a, error)) << error;
  EXPECT_EQ(a.host, "db.internal");
  EXPECT_EQ(a.port, 5432);
  EXPECT_EQ(a.length, 0u);  // not resolved
  ASSERT_TRUE(parseAddress("localhost:9001", true, a, error)) << error;
  EXPECT_EQ(a.text, "localhost:9001");
  EXPECT_GT(a.length, 0u);
  EXPECT_TRUE(ipOf(a) == "127.0.0.1" || ipOf(a) == "::1") << ipOf(a);
  EXPECT_EQ(portOf(a), 9001);
}

TEST(ConfigParseAddress, UnresolvableName) {
  Address a;
  std::string error;
  EXPECT_FALSE(parseAddress("no-such-host.invalid:80", true, a, error));
  EXPECT_NE(error.find("cannot resolve \"no-such-host.invalid\""), std::string::npos) << error;
}

TEST(ConfigParseAddress, RejectsBadOnesWithAReason) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "must not be empty"},
      {"127.0.0.1", "missing port"},
      {"127.0.0.1:", "invalid port \"\""},
      {"127.0.0.1:0", "invalid port \"0\" (must be 1..65535)"},
      {"127.0.0.1:65536", "invalid port \"65536\""},
      {"127.0.0.1:http", "invalid port \"http\""},
      {"127.0.0.1:-1", "invalid port \"-1\""},
      {":80", "missing host"},
      {"::1:80", "an IPv6 address needs brackets: [::1]:80"},
      {"[::1]", "missing :PORT after ']'"},
      {"[::1:80", "missing ']'"},
      {"[127.0.0.1]:80", "\"127.0.0.1\" is not an IPv6 address"},
      {"[fe80::zz]:80", "is not an IPv6 address"},
      {"10.0.0.256:80", "\"10.0.0.256\" is not a valid IPv4 address"},
      {"1234:80", "is not a valid IPv4 address"},
      {"bad_host!:80", "\"bad_host!\" is not a valid host name"},
      {"-x.example:80", "is not a valid host name"},
      {"a..b:80", "is not a valid host name"},
  };
  for (const Case& c : cases) {
    Address a;
    std::string error;
    EXPECT_FALSE(parseAddress(c.text, false, a, error)) << c.text;
    EXPECT_NE(error.find(c.reason), std::string::npos) << c.text << " -> " << error;
  }
}

TEST(ConfigParseAddress, ListenAddressMustBeAnIpOrLocalhost) {
  Address a;
  std::string error;
  ASSERT_TRUE(parseListenAddress("0.0.0.0:80", a, error));
  ASSERT_TRUE(parseListenAddress("[::]:80", a, error));
  ASSERT_TRUE(parseListenAddress("localhost:8080", a, error));
  EXPECT_EQ(ipOf(a), "127.0.0.1");
  EXPECT_EQ(a.text, "localhost:8080");
  EXPECT_FALSE(parseListenAddress("example.com:80", a, error));
  EXPECT_NE(error.find("a listener host must be an IP address"), std::string::npos) << error;
}

TEST(ConfigParseAddress, Overlaps) {
  auto addr = [](const char* text) {
    Address a;
    std::string error;
    EXPECT_TRUE(parseAddress(text, false, a, error)) << text;
    return a;
  };
  EXPECT_TRUE(addressesOverlap(addr("127.0.0.1:80"), addr("127.0.0.1:80")));
  EXPECT_FALSE(addressesOverlap(addr("127.0.0.1:80"), addr("127.0.0.1:81")));
  EXPECT_FALSE(addressesOverlap(addr("127.0.0.1:80"), addr("127.0.0.2:80")));
  EXPECT_TRUE(addressesOverlap(addr("0.0.0.0:80"), addr("127.0.0.1:80")));
  EXPECT_TRUE(addressesOverlap(addr("[::]:80"), addr("127.0.0.1:80")));
  EXPECT_TRUE(addressesOverlap(addr("[::1]:80"), addr("[::]:80")));
  EXPECT_FALSE(addressesOverlap(addr("0.0.0.0:80"), addr("[::1]:80")));
  EXPECT_FALSE(addressesOverlap(addr("[::1]:80"), addr("127.0.0.1:80")));
}

TEST(ConfigParseDidYouMean, EditDistance) {
  EXPECT_EQ(editDistance("timeouts", "timeouts"), 0u);
  EXPECT_EQ(editDistance("tiemouts", "timeouts"), 1u);  // a swap is one edit
  EXPECT_EQ(editDistance("Timeouts", "timeouts"), 0u);
  EXPECT_EQ(editDistance("pol", "pool"), 1u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
}

TEST(ConfigParseDidYouMean, SuggestsOnlyCloseWords) {
  std::vector<std::string_view> keys{"name", "listen", "protocol", "pool", "timeouts"};
  EXPECT_EQ(closestMatch("tiemouts", keys), "timeouts");
  EXPECT_EQ(closestMatch("protocl", keys), "protocol");
  EXPECT_EQ(closestMatch("lisen", keys), "listen");
  EXPECT_EQ(closestMatch("xyz", keys), "");
  EXPECT_EQ(closestMatch("backends", keys), "");
  EXPECT_EQ(didYouMean("pol", keys), " (did you mean \"pool\"?)");
  EXPECT_EQ(didYouMean("zzzzzz", keys), "");
}

TEST(ConfigParseFormat, FormatDuration) {
  EXPECT_EQ(formatDuration(Duration(250)), "250ms");
  EXPECT_EQ(formatDuration(Duration(2000)), "2s");
  EXPECT_EQ(formatDuration(Duration(120'000)), "2m");
  EXPECT_EQ(formatDuration(Duration(3'600'000)), "1h");
  EXPECT_EQ(formatDuration(Duration(0)), "0s");
}

TEST(ConfigParseFormat, ErrorToString) {
  ConfigError e{"conf/app.yaml", 14, 9, "pools[1].backends[0].weight",
                "must be between 0 and 1000, got 5000"};
  EXPECT_EQ(
      e.toString(),
      "conf/app.yaml:14:9: pools[1].backends[0].weight: must be between 0 and 1000, got 5000");
  ConfigError no_position{"x.yaml", 0, 0, "", "cannot read: No such file or directory"};
  EXPECT_EQ(no_position.toString(), "x.yaml: cannot read: No such file or directory");
}

}  // namespace
}  // namespace fulcrum::config
