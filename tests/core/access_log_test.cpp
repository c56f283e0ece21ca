#include "fulcrum/core/access_log.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace fulcrum::core {
namespace {

using std::chrono::microseconds;

struct Fixture {
  sockaddr_in client{};
  AccessLogEntry entry;
  Fixture() {
    client.sin_family = AF_INET;
    client.sin_port = htons(5555);
    inet_pton(AF_INET, "10.0.0.7", &client.sin_addr);
    entry.time =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
    entry.listener = "web";
    entry.client = reinterpret_cast<const sockaddr*>(&client);
    entry.method = "GET";
    entry.path = "/v1/items?q=\"x\"";
    entry.status = 200;
    entry.bytes_in = 120;
    entry.bytes_out = 3456;
    entry.duration = microseconds(12'345);
    entry.pool = "api";
    entry.backend = "127.0.0.1:9001";
    entry.request_id = "abc-123";
    entry.upstream_time = microseconds(10'000);
  }
};

std::string tempPath(const char* name) {
  return ::testing::TempDir() + "/fulcrum_access_" + std::to_string(::getpid()) + "_" + name;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

config::LogConfig logConfig(std::string target, config::LogFormat format) {
  config::LogConfig c;
  c.access_log = std::move(target);
  c.format = format;
  return c;
}

TEST(AccessLog, JsonLine) {
  Fixture f;
  auto log = AccessLog::open(logConfig("off", config::LogFormat::kJson));
  ASSERT_TRUE(log);
  EXPECT_FALSE(log->enabled());
  std::string line;
  log->format(f.entry, line);
  EXPECT_EQ(line,
            R"({"time":"2023-11-14T22:13:20.123Z","listener":"web","client":"10.0.0.7:5555",)"
            R"("method":"GET","path":"/v1/items?q=\"x\"","status":200,"bytes_in":120,)"
            R"("bytes_out":3456,"duration_ms":12.345,"pool":"api","backend":"127.0.0.1:9001",)"
            R"("request_id":"abc-123","upstream_ms":10.000})"
            "\n");
}

TEST(AccessLog, JsonEscapesControlAndHighBytes) {
  Fixture f;
  f.entry.path = "/a\x01\xff";
  f.entry.upstream_time = microseconds(-1);
  f.entry.client = nullptr;
  auto log = AccessLog::open(logConfig("off", config::LogFormat::kJson));
  std::string line;
  log->format(f.entry, line);
  EXPECT_NE(line.find(R"("path":"/a\u0001\u00ff")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("upstream_ms":null})"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("client":"-")"), std::string::npos) << line;
}

TEST(AccessLog, TextLine) {
  Fixture f;
  auto log = AccessLog::open(logConfig("off", config::LogFormat::kText));
  std::string line;
  log->format(f.entry, line);
  EXPECT_EQ(line,
            "time=2023-11-14T22:13:20.123Z listener=web client=10.0.0.7:5555 method=GET "
            "path=\"/v1/items?q=\\\"x\\\"\" status=200 bytes_in=120 bytes_out=3456 "
            "duration_ms=12.345 pool=api backend=127.0.0.1:9001 request_id=abc-123 "
            "upstream_ms=10.000\n");
}

TEST(AccessLog, TextTcpSessionAndIpv6) {
  Fixture f;
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(80);
  inet_pton(AF_INET6, "::1", &v6.sin6_addr);
  f.entry.client = reinterpret_cast<const sockaddr*>(&v6);
  f.entry.method = {};
  f.entry.path = {};
  f.entry.status = 0;
  f.entry.request_id = {};
  f.entry.upstream_time = microseconds(-1);
  auto log = AccessLog::open(logConfig("off", config::LogFormat::kText));
  std::string line;
  log->format(f.entry, line);
  EXPECT_NE(line.find(" client=[::1]:80 method=- path=- status=0 "), std::string::npos) << line;
  EXPECT_NE(line.find(" request_id=- upstream_ms=-\n"), std::string::npos) << line;
}

TEST(AccessLog, WritesFileAndReopensAfterRotation) {
  const std::string path = tempPath("rotate.log");
  const std::string rotated = path + ".1";
  std::remove(path.c_str());
  std::remove(rotated.c_str());
  Fixture f;
  std::string error;
  auto log = AccessLog::open(logConfig(path, config::LogFormat::kJson), &error);
  ASSERT_TRUE(log) << error;
  EXPECT_TRUE(log->enabled());
  log->write(f.entry);
  log->write(f.entry);
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  AccessLog::requestReopen();  // what SIGUSR1 does: the next write lands in a new file
  f.entry.status = 404;
  log->write(f.entry);
  const std::string old_text = readFile(rotated);
  const std::string new_text = readFile(path);
  EXPECT_EQ(std::count(old_text.begin(), old_text.end(), '\n'), 2);
  EXPECT_EQ(std::count(new_text.begin(), new_text.end(), '\n'), 1);
  EXPECT_NE(new_text.find(R"("status":404)"), std::string::npos);
  std::remove(path.c_str());
  std::remove(rotated.c_str());
}

TEST(AccessLog, UnopenableFileIsAnError) {
  std::string error;
  auto log =
      AccessLog::open(logConfig("/nonexistent-dir/x/access.log", config::LogFormat::kJson), &error);
  EXPECT_FALSE(log);
  EXPECT_NE(error.find("/nonexistent-dir/x/access.log"), std::string::npos) << error;
}

TEST(AccessLog, IsoTime) {
  EXPECT_EQ(formatIsoTime(std::chrono::system_clock::time_point(std::chrono::milliseconds(5))),
            "1970-01-01T00:00:00.005Z");
}

}  // namespace
}  // namespace fulcrum::core
