#include "fulcrum/control/admin_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "fulcrum/control/admin_status.h"
#include "fulcrum/core/snapshot.h"
#include "fulcrum/upstream/pool.h"

namespace fulcrum::control {
namespace {

config::Address loopback(uint16_t port) {
  config::Address a;
  a.host = "127.0.0.1";
  a.port = port;
  a.text = "127.0.0.1:" + std::to_string(port);
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.length = sizeof(sockaddr_in);
  return a;
}

// A config with one listener and one pool of two backends, and its snapshot.
struct TestSnapshot {
  std::shared_ptr<config::Config> config = std::make_shared<config::Config>();
  std::shared_ptr<core::Snapshot> snapshot = std::make_shared<core::Snapshot>();

  explicit TestSnapshot(uint16_t backends = 2) {
    config->source_path = "conf/test.yaml";
    config->workers = 1;
    config::ListenerConfig l;
    l.name = "web";
    l.listen = loopback(8080);
    l.pool = "api";
    l.routes.push_back({{"api.example.com", "/v1/", ""}, "api"});
    config->listeners.push_back(l);
    config::PoolConfig p;
    p.name = "api";
    p.policy = "round_robin";
    p.backends.resize(backends);
    for (uint16_t i = 0; i < backends; ++i) p.backends[i].address = loopback(9001 + i);
    p.backends[1].weight = 0;
    p.health_check = config::HealthCheckConfig{};  // configured, but not built: not running
    config->pools.push_back(p);

    auto pool = std::make_shared<upstream::Pool>();
    pool->config = &config->pools[0];
    for (uint32_t i = 0; i < backends; ++i) {
      upstream::PoolMember m;
      m.index = i;
      m.config = &config->pools[0].backends[i];
      m.weight = config->pools[0].backends[i].weight;
      m.state = std::make_shared<upstream::BackendState>();
      pool->members.push_back(m);
    }
    pool->members[0].state->active = 2;
    pool->members[0].state->ewma_us = 90'000;  // the balancer's signal (a penalty), not shown
    pool->members[0].state->answer_ewma_us = 1500;
    auto balancer = std::make_shared<balancer::PoolBalancer>();
    balancer->pool = pool;
    snapshot->config = config;
    snapshot->generation = 7;
    snapshot->loaded_at =
        std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    snapshot->pools.push_back(core::PoolRuntime{balancer, nullptr, {}});
  }
};

class FakeContext : public AdminContext {
 public:
  core::SnapshotConstSharedPtr currentSnapshot() const override {
    if (use_big) return big_snapshot;
    return no_snapshot ? nullptr : snapshot;
  }
  bool ready() const override { return ready_flag.load(); }
  bool draining() const override { return draining_flag.load(); }
  metrics::StatsRegistry& stats() override { return registry; }

  std::atomic<bool> ready_flag{true};
  std::atomic<bool> draining_flag{false};
  std::atomic<bool> no_snapshot{false};  // set while the loop runs: no shared_ptr write race
  std::atomic<bool> use_big{false};      // big_snapshot is written before this is set
  core::SnapshotConstSharedPtr big_snapshot;
  metrics::StatsRegistry registry{2};
  core::SnapshotConstSharedPtr snapshot;
};

// A blocking client socket with a receive timeout, so a bug fails the test instead of hanging.
class Client {
 public:
  explicit Client(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const config::Address a = loopback(port);
    connected_ = ::connect(fd_, a.sockAddr(), a.length) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  }

  struct Response {
    int status = 0;
    std::string head;
    std::string body;
  };
  // Reads one response head and no body (the answer to HEAD).
  std::string readHeadOnly() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return {};
    std::string head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    return head;
  }
  // Reads one response framed by Content-Length.
  Response read() {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    r.head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    const size_t cl = r.head.find("Content-Length: ");
    const size_t length = cl == std::string::npos ? 0 : std::stoul(r.head.substr(cl + 16));
    while (buf_.size() < length)
      if (!fill()) return r;
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }
  // True once the server has closed the connection (and sent nothing more).
  bool closedByPeer() {
    char c;
    return buf_.empty() && ::recv(fd_, &c, 1, 0) == 0;
  }
  // True if the server has neither closed the connection nor sent anything, without waiting.
  bool openAndQuiet() {
    char c;
    return buf_.empty() && ::recv(fd_, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
  }
  // Everything until the server closes (bounded by the 5 s receive timeout).
  std::string readToEof() {
    while (fill()) {
    }
    return std::move(buf_);
  }

 private:
  bool fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  bool connected_ = false;
  std::string buf_;
};

// A small strict JSON checker: enough to prove /status is well-formed.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view s) : s_(s) {}
  bool valid() {
    ws();
    if (!value()) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool lit(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool str() {
    if (!lit("\"")) return false;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (static_cast<unsigned char>(s_[i_]) < 0x20) return false;
      i_ += s_[i_] == '\\' ? 2 : 1;
    }
    return lit("\"");
  }
  bool num() {
    const size_t start = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                              s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == '+'))
      ++i_;
    return i_ > start;
  }
  template <class Item>
  bool seq(char open, char close, Item item) {
    if (!lit(std::string_view(&open, 1))) return false;
    ws();
    if (lit(std::string_view(&close, 1))) return true;
    do {
      ws();
      if (!item()) return false;
      ws();
    } while (lit(","));
    return lit(std::string_view(&close, 1));
  }
  bool value() {
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{':
        return seq('{', '}', [&] {
          if (!str()) return false;
          ws();
          if (!lit(":")) return false;
          ws();
          return value();
        });
      case '[':
        return seq('[', ']', [&] { return value(); });
      case '"':
        return str();
      case 't':
        return lit("true");
      case 'f':
        return lit("false");
      case 'n':
        return lit("null");
      default:
        return num();
    }
  }
  std::string_view s_;
  size_t i_ = 0;
};

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ctx_.snapshot = test_.snapshot;
    // Enough series that a scrape is tens of KiB (before the loop thread starts reading).
    for (int i = 0; i < 20; ++i) ctx_.registry.route("web", "pool" + std::to_string(i));
    AdminLimits limits;
    limits.idle_timeout_ms = 300;
    limits.request_timeout_ms = 300;
    limits.max_connections = 8;
    limits.write_high_watermark = 64 * 1024;
    limits.write_low_watermark = 16 * 1024;
    limits.send_buffer_bytes = 4096;  // small kernel buffers: backpressure shows at once
    adjust(limits);
    server_ = std::make_unique<AdminServer>(&loop_, ctx_, limits);
    ASSERT_EQ(server_->listen(loopback(0)), 0);
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    ASSERT_EQ(uv_async_init(&loop_, &stop_,
                            [](uv_async_t* a) {
                              auto* self = static_cast<AdminServerTest*>(a->data);
                              self->server_->close([self] {
                                self->closed_ = true;
                                uv_close(reinterpret_cast<uv_handle_t*>(&self->stop_), nullptr);
                              });
                            }),
              0);
    stop_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  void TearDown() override {
    uv_async_send(&stop_);
    thread_.join();
    EXPECT_TRUE(closed_);
    server_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  virtual void adjust(AdminLimits&) {}

  Client::Response get(const std::string& path) {
    Client c(port_);
    EXPECT_TRUE(c.connected());
    c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    return c.read();
  }

  TestSnapshot test_;
  FakeContext ctx_;
  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::unique_ptr<AdminServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  bool closed_ = false;
};

TEST_F(AdminServerTest, Healthz) {
  auto r = get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(AdminServerTest, ReadyzFollowsTheProcess) {
  auto r = get("/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready");
  ctx_.ready_flag = false;
  r = get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready");
  ctx_.draining_flag = true;
  r = get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "draining");
}

TEST_F(AdminServerTest, MetricsExposition) {
  auto r = get("/metrics?x=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r.head;
  EXPECT_NE(r.body.find("# TYPE fulcrum_http_requests_total counter"), std::string::npos);
  EXPECT_NE(r.body.find(R"(fulcrum_backend_up{backend="127.0.0.1:9001",pool="api"} 1)"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("fulcrum_config_generation 7"), std::string::npos);
}

TEST_F(AdminServerTest, StatusIsJsonWithBackends) {
  auto r = get("/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos);
  EXPECT_TRUE(JsonChecker(r.body).valid()) << r.body;
  EXPECT_NE(r.body.find(R"("generation":7)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("loaded_at":"2023-11-14T22:13:20.000Z")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("name":"web","address":"127.0.0.1:8080","protocol":"http")"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("policy":"round_robin")"), std::string::npos);
  // Health checks are not built: a config that sets them starts with a warning, and /status
  // must not say they run (it said true, beside backends that are never checked).
  EXPECT_NE(r.body.find(R"("health_check":false)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"address":"127.0.0.1:9001","weight":1,"backup":false,"health":"up",)"
                        R"("active_connections":2,"response_time_ms":1.500})"),
            std::string::npos)
      << r.body;
  EXPECT_NE(
      r.body.find(R"("address":"127.0.0.1:9002","weight":0,"backup":false,"health":"drained")"),
      std::string::npos)
      << r.body;
}

TEST_F(AdminServerTest, StatusWithoutSnapshotIsJson) {
  ctx_.no_snapshot = true;
  auto r = get("/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(JsonChecker(r.body).valid()) << r.body;
}

TEST_F(AdminServerTest, UnknownPathAndMethod) {
  EXPECT_EQ(get("/nope").status, 404);
  Client c(port_);
  c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  auto r = c.read();
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.head.find("Allow: GET"), std::string::npos);
  // The body was consumed: the connection still works.
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read().status, 200);
}

TEST_F(AdminServerTest, KeepAliveAndPipelining) {
  Client c(port_);
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto a = c.read();
  auto b = c.read();
  EXPECT_EQ(a.body, "ok");
  EXPECT_EQ(b.body, "ready");
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto last = c.read();
  EXPECT_EQ(last.status, 200);
  EXPECT_NE(last.head.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(c.closedByPeer());
}

TEST_F(AdminServerTest, Http10ClosesByDefault) {
  Client c(port_);
  c.send("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(c.read().body, "ok");
  EXPECT_TRUE(c.closedByPeer());
}

TEST_F(AdminServerTest, MalformedRequestGets400AndClose) {
  Client c(port_);
  c.send("GARBAGE\r\n\r\n");
  auto r = c.read();
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(c.closedByPeer());
}

TEST_F(AdminServerTest, OversizedTargetGets414) {
  Client c(port_);
  c.send("GET /" + std::string(10'000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read().status, 414);
  EXPECT_TRUE(c.closedByPeer());
}

TEST_F(AdminServerTest, AbsoluteFormTargetIsRoutedByItsPath) {
  Client c(port_);
  c.send("GET http://127.0.0.1:" + std::to_string(port_) +
         "/healthz HTTP/1.1\r\nHost: x\r\n\r\nGET https://x/nope HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(c.read().status, 404);
}

TEST_F(AdminServerTest, Http11WithoutHostGets400AndClose) {
  for (const std::string head :
       {"GET /healthz HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        "GET http://x/healthz HTTP/1.1\r\n\r\n"}) {
    Client c(port_);
    c.send(head);
    auto r = c.read();
    EXPECT_EQ(r.status, 400) << head;
    EXPECT_NE(r.head.find("Connection: close"), std::string::npos) << head;
    EXPECT_TRUE(c.closedByPeer()) << head;
  }
  // HTTP/1.0 needs no Host (Http10ClosesByDefault); a name that only starts like it is not it.
  Client c(port_);
  c.send("GET /healthz HTTP/1.1\r\nHostx: a\r\nhOsT: x\r\nHos: b\r\n\r\n");
  EXPECT_EQ(c.read().status, 200);
}

TEST_F(AdminServerTest, OversizedHeadGets431BeforeTheClose) {
  // The whole 70 KB head at once, over the 32 KiB limit: the server answers after reading
  // about half of it. Closing with the rest unread would reset the connection, and the reset
  // would discard the 431 before this client reads it (it reads only after a pause).
  Client c(port_);
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70'000, 'a') + "\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto r = c.read();
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.head.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(c.closedByPeer());
  EXPECT_EQ(get("/healthz").status, 200);  // the server is unaffected
}

TEST_F(AdminServerTest, ClientThatLeavesMidRequest) {
  {
    Client c(port_);
    c.send("GET /metr");
  }
  EXPECT_EQ(get("/healthz").status, 200);  // the server is unaffected
}

TEST_F(AdminServerTest, PipelinedRequestsWithALateReader) {
  // ~3 MiB of answers to a client that reads nothing at first: far past the (small) socket
  // buffers and the write high watermark, so the server must stop reading and resume as the
  // client drains; every response arrives, in order.
  TestSnapshot big(300);
  ctx_.big_snapshot = big.snapshot;
  ctx_.use_big = true;
  constexpr int kRequests = 100;
  Client c(port_, /*rcvbuf=*/4096);
  std::string batch;
  for (int i = 0; i < kRequests; ++i)
    batch += (i % 10 == 9 ? "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                          : "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
  std::thread writer([&] { c.send(batch); });
  // Shorter than the idle timeout (300 ms): a client that reads nothing for that long is
  // closed, which is right, but not what this test is about.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    auto r = c.read();
    if (r.status != 200 || (r.body == "ok") != (i % 10 == 9)) {
      ADD_FAILURE() << "response " << i << ": " << r.head << r.body.substr(0, 200);
      break;
    }
    ++ok;
  }
  writer.join();
  EXPECT_EQ(ok, kRequests);
}

TEST_F(AdminServerTest, GarbageNeverCrashes) {
  uint64_t seed = 12345;
  auto next = [&] { return seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; };
  for (int i = 0; i < 50; ++i) {
    Client c(port_);
    std::string junk = "GET /healthz HTTP/1.1\r\n";
    const size_t n = next() % 200;
    for (size_t k = 0; k < n; ++k) junk.push_back(static_cast<char>(next() >> 56));
    c.send(junk + "\r\n\r\n");
  }
  // The server is unaffected (retry: the junk connections may still count against the limit
  // of 8 until the server has seen them close).
  for (int i = 0; i < 100; ++i) {
    if (get("/healthz").body == "ok") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "the server stopped answering";
}

TEST_F(AdminServerTest, IdleConnectionIsClosed) {
  Client c(port_);
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read().status, 200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closedByPeer());  // after idle_timeout_ms (300 ms), well before recv's 5 s
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(AdminServerTest, SilentConnectionIsClosed) {
  Client c(port_);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closedByPeer());  // after request_timeout_ms (300 ms), well before recv's 5 s
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(AdminServerTest, PartialRequestGets408) {
  Client c(port_);
  c.send("GET /healthz HTTP/1.1\r\nHost");
  auto r = c.read();
  EXPECT_EQ(r.status, 408);
  EXPECT_NE(r.head.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(c.closedByPeer());
}

TEST_F(AdminServerTest, TricklingAHeadDoesNotExtendItsDeadline) {
  Client c(port_);
  const std::string head = "GET /healthz HTTP/1.1\r\nX-Slow: " + std::string(40, 'z');
  const auto start = std::chrono::steady_clock::now();
  // One byte per 50 ms: each arrives well within the 300 ms deadline, the whole head never.
  // Stop once the answer is there: bytes sent after it would turn the close into a reset.
  for (size_t i = 0; i < head.size(); ++i) {
    ASSERT_EQ(::send(c.fd(), &head[i], 1, MSG_NOSIGNAL), 1);
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) break;
  }
  EXPECT_EQ(c.read().status, 408);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(AdminServerTest, HeadAnswersLikeGetWithoutBody) {
  for (const std::string path : {"/healthz", "/readyz", "/metrics", "/status", "/nope"}) {
    const Client::Response got = get(path);
    Client c(port_);
    c.send("HEAD " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::string raw = c.readToEof();
    const size_t end = raw.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << path << ": " << raw;
    EXPECT_EQ(raw.size(), end + 4) << path << ": a body followed the head";
    EXPECT_EQ(raw.substr(9, 3), std::to_string(got.status)) << path;
    EXPECT_NE(raw.find("\r\nContent-Length: " + std::to_string(got.body.size()) + "\r\n"),
              std::string::npos)
        << path << ": " << raw;
  }
}

TEST_F(AdminServerTest, HeadKeepsTheConnectionUsable) {
  Client c(port_);
  c.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  // Framed by hand: the HEAD answer's Content-Length announces a body that is not sent.
  const std::string first = c.readHeadOnly();
  EXPECT_EQ(first.substr(0, 15), "HTTP/1.1 200 OK") << first;
  auto second = c.read();
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, "ready");
}

TEST_F(AdminServerTest, MethodNotAllowedListsGetAndHead) {
  Client c(port_);
  c.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  auto r = c.read();
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.head.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << r.head;
}

// Timeouts long enough that nothing closes on its own while a test looks at the cap.
class AdminServerCapTest : public AdminServerTest {
 protected:
  void adjust(AdminLimits& limits) override {
    limits.idle_timeout_ms = 20'000;
    limits.request_timeout_ms = 20'000;
  }
};

TEST_F(AdminServerCapTest, AtTheCapTheIdlestConnectionMakesRoom) {
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<Client>(port_));
    held.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(held.back()->read().status, 200);
  }
  auto extra = get("/healthz");
  EXPECT_EQ(extra.status, 200);
  EXPECT_TRUE(held[0]->closedByPeer());  // idle longest: closed at once, not after 20 s
  for (int i = 1; i < 8; ++i) EXPECT_TRUE(held[i]->openAndQuiet()) << i;
}

TEST_F(AdminServerCapTest, SilentConnectionsDoNotLockOut) {
  std::vector<std::unique_ptr<Client>> silent;
  for (int i = 0; i < 20; ++i) silent.push_back(std::make_unique<Client>(port_));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get("/healthz").status, 200) << i;
}

TEST_F(AdminServerCapTest, BusyConnectionsAreNotShed) {
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<Client>(port_));
    held.back()->send("GET /healthz HTTP/1.1\r\n");  // a request in progress
  }
  // Let the server read those partial heads before the extra connection arrives.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Client extra(port_);
  extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(extra.read().status, 0);  // closed without an answer
  for (auto& c : held) EXPECT_TRUE(c->openAndQuiet());
  held.clear();
  // Once the held connections are gone, new ones are served again.
  for (int i = 0; i < 50; ++i) {
    if (get("/healthz").status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "the server did not recover after connections closed";
}

TEST(AdminServer, BusyPortIsReported) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  FakeContext ctx;
  auto first = std::make_unique<AdminServer>(&loop, ctx);
  ASSERT_EQ(first->listen(loopback(0)), 0);
  AdminServer second(&loop, ctx);
  EXPECT_EQ(second.listen(loopback(first->port())), UV_EADDRINUSE);
  bool done = false;
  first->close([&] { done = true; });
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_TRUE(done);
  first.reset();
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(AdminServer, DestroyWithOpenConnectionFreesEverything) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  FakeContext ctx;
  auto server = std::make_unique<AdminServer>(&loop, ctx);
  ASSERT_EQ(server->listen(loopback(0)), 0);
  Client c(server->port());
  ASSERT_TRUE(c.connected());
  // Let the server accept the connection, then destroy it without close().
  for (int i = 0; i < 100 && server->connectionCount() == 0; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  EXPECT_EQ(server->connectionCount(), 1u);
  server.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(AdminHandler, Routing) {
  FakeContext ctx;
  EXPECT_EQ(handleAdminRequest(ctx, true, "/healthz").status, 200);
  EXPECT_EQ(handleAdminRequest(ctx, false, "/healthz").status, 405);
  EXPECT_EQ(handleAdminRequest(ctx, false, "/nope").status, 404);
  EXPECT_EQ(handleAdminRequest(ctx, true, "/healthz/x").status, 404);
  EXPECT_EQ(handleAdminRequest(ctx, true, "/status").content_type, "application/json");
  // Absolute-form (RFC 9112 3.2.2): routed by the path; no path is "/".
  EXPECT_EQ(handleAdminRequest(ctx, true, "http://127.0.0.1:9901/healthz").status, 200);
  EXPECT_EQ(handleAdminRequest(ctx, true, "HTTPS://admin/healthz?x=1").status, 200);
  EXPECT_EQ(handleAdminRequest(ctx, false, "http://a/healthz").status, 405);
  EXPECT_EQ(handleAdminRequest(ctx, true, "http://a/healthz/x").status, 404);
  EXPECT_EQ(handleAdminRequest(ctx, true, "http://a").status, 404);
  EXPECT_EQ(handleAdminRequest(ctx, true, "http://a?/healthz").status, 404);
  EXPECT_EQ(handleAdminRequest(ctx, true, "ftp://a/healthz").status, 404);
}

}  // namespace
}  // namespace fulcrum::control
