// A client connection's life between requests, on a worker loop driven by hand:
// - Draining (SIGTERM, or a reload that removes the listener) closes an idle keep-alive client
//   connection, unless a request already waits in its socket: closed with unread bytes, the
//   connection would be reset and the request lost. Such a request is served, with
//   Connection: close.
// - A reload moves an idle connection to the new snapshot at once, so it does not keep the old
//   configuration alive until its next request.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "fulcrum/config/config_loader.h"
#include "fulcrum/control/snapshot_builder.h"
#include "fulcrum/core/listener.h"
#include "fulcrum/http/http_session.h"
#include "fulcrum/http/upstream_connection.h"
#include "fulcrum/metrics/stats.h"
#include "worker_loop_fixture.h"

namespace fulcrum::http {
namespace {

class ClientLifecycle : public fulcrum::testing::WorkerLoopTest {
 protected:
  void SetUp() override {
    WorkerLoopTest::SetUp();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    backend_ = core::createListenSocket(reinterpret_cast<sockaddr*>(&addr), sizeof addr, 4);
    ASSERT_GE(backend_, 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(getsockname(backend_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string yaml =
        "listeners:\n  - { name: web, listen: 127.0.0.1:1, pool: p }\n"
        "pools:\n  - { name: p, backends: [{ address: 127.0.0.1:" +
        std::to_string(ntohs(addr.sin_port)) + " }] }\n";
    config::LoadResult r = config::loadConfigString(yaml, "t.yaml", false);
    ASSERT_TRUE(r.ok());
    config_ = r.config;
    snapshot_ = builder_.build(config_, 1);
    worker_.applySnapshot(snapshot_, {});
  }
  void TearDown() override {
    if (backend_ >= 0) close(backend_);
    if (peer_ >= 0) close(peer_);
    if (upstream_ >= 0) close(upstream_);
    WorkerLoopTest::TearDown();
    UpstreamPool::forgetConfig();  // the applied snapshot's backends are this thread's no more
  }
  // An accepted client connection of the listener, as WorkerListener starts it.
  void startClient() {
    uv_tcp_t* client = tcpPair(&peer_);
    const core::ListenerRuntime& lr = snapshot_->listeners[0];
    core::ConnectionSlot slot(lr.active_connections, &lr.stats->cell(worker_.id()));
    startHttpSession(worker_, worker_.current(), {0, 1}, client, std::move(slot), false);
  }
  // What the client has been sent until it was closed (or `ms` passed); `reset` says how.
  std::string readClient(int ms, bool* closed, bool* reset) {
    std::string got;
    *closed = *reset = false;
    runUntil([&] {
      char buf[4096];
      ssize_t n = recv(peer_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (n == 0) *closed = true;
      if (n < 0 && errno == ECONNRESET) *closed = *reset = true;
      return *closed || --ms <= 0;
    });
    return got;
  }

  metrics::StatsRegistry stats_{1};
  control::SnapshotBuilder builder_{stats_};
  config::ConfigConstSharedPtr config_;
  core::SnapshotConstSharedPtr snapshot_;
  int backend_ = -1, peer_ = -1, upstream_ = -1;
};

TEST_F(ClientLifecycle, IdleConnectionIsClosedCleanly) {
  startClient();
  for (int i = 0; i < 5; ++i) uv_run(worker_.loop(), UV_RUN_NOWAIT);  // idle, waiting for a head
  worker_.startDrain([] {});
  bool closed = false, reset = false;
  EXPECT_EQ(readClient(2000, &closed, &reset), "");
  EXPECT_TRUE(closed);
  EXPECT_FALSE(reset);
}

TEST_F(ClientLifecycle, RequestWaitingUnreadIsServedNotReset) {
  startClient();
  for (int i = 0; i < 5; ++i) uv_run(worker_.loop(), UV_RUN_NOWAIT);  // idle, waiting for a head
  const std::string request = "GET /late HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(peer_, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  worker_.startDrain([] {});  // before the loop has read it
  // The request reaches the backend, whose answer reaches the client, marked as the last.
  ASSERT_TRUE(runUntil([&] {
    upstream_ = upstream_ >= 0 ? upstream_ : accept(backend_, nullptr, nullptr);
    return upstream_ >= 0;
  }));
  std::string forwarded;
  ASSERT_TRUE(runUntil([&] {
    char buf[4096];
    ssize_t n = recv(upstream_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) forwarded.append(buf, static_cast<size_t>(n));
    return forwarded.find("\r\n\r\n") != std::string::npos;
  }));
  EXPECT_EQ(forwarded.rfind("GET /late HTTP/1.1\r\n", 0), 0u) << forwarded;
  const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_EQ(send(upstream_, answer.data(), answer.size(), 0), static_cast<ssize_t>(answer.size()));
  bool closed = false, reset = false;
  std::string got = readClient(2000, &closed, &reset);
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("\r\nConnection: close\r\n"), std::string::npos) << got;
  EXPECT_TRUE(closed);
  EXPECT_FALSE(reset);
}

TEST_F(ClientLifecycle, ReloadMovesAnIdleConnectionToTheNewSnapshot) {
  startClient();
  for (int i = 0; i < 5; ++i) uv_run(worker_.loop(), UV_RUN_NOWAIT);  // idle, waiting for a head
  std::weak_ptr<const core::Snapshot> old = snapshot_;
  snapshot_ = builder_.build(config_, 2);  // a reload (the same file again)
  worker_.applySnapshot(snapshot_, {});
  for (int i = 0; i < 5; ++i) uv_run(worker_.loop(), UV_RUN_NOWAIT);
  EXPECT_TRUE(old.expired()) << "an idle connection keeps the old configuration alive";
  // And it is served on the new one.
  const std::string request = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(peer_, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  ASSERT_TRUE(runUntil([&] {
    upstream_ = upstream_ >= 0 ? upstream_ : accept(backend_, nullptr, nullptr);
    return upstream_ >= 0;
  }));
  const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_EQ(send(upstream_, answer.data(), answer.size(), 0), static_cast<ssize_t>(answer.size()));
  bool closed = false, reset = false;
  std::string got;
  runUntil([&] {
    got += readClient(1, &closed, &reset);
    return got.find("\r\n\r\nok") != std::string::npos;
  });
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  // The session ends itself (the fixture's teardown would close its handles from outside,
  // and it would never be freed).
  worker_.startDrain([] {});
  readClient(2000, &closed, &reset);
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace fulcrum::http
