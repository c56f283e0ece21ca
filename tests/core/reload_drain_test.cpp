// A reload (Worker::applySnapshot) drains the sessions of the listeners it removes, matched by
// listener object (a removed and re-added address is a new listener), and closes idle
// upstream connections to the backends it removes while keeping those of the others.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fulcrum/config/config.h"
#include "fulcrum/core/listener.h"
#include "fulcrum/core/session.h"
#include "fulcrum/core/snapshot.h"
#include "fulcrum/core/worker.h"
#include "fulcrum/http/upstream_connection.h"
#include "worker_loop_fixture.h"

namespace fulcrum::core {
namespace {

using namespace std::chrono_literals;

// Counts drain() calls; owned by the test.
class FakeSession final : public Session {
 public:
  using Session::Session;
  void drain() override { ++drained; }
  void forceClose() override {}
  int drained = 0;
};

// A free loopback port (bound, then released: the worker's listener binds it again).
std::string freeAddress() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = createListenSocket(reinterpret_cast<sockaddr*>(&addr), sizeof addr, 1);
  EXPECT_GE(fd, 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

int listenOn(const std::string& address) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  return createListenSocket(reinterpret_cast<sockaddr*>(&addr), sizeof addr, 16);
}

// A snapshot with tcp listeners on `addresses` and one pool per entry of `pools` (name,
// backend addresses); no pickers are needed for what these tests do with it.
SnapshotConstSharedPtr snapshotOf(
    const std::vector<std::string>& addresses,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& pools = {}) {
  auto config = std::make_shared<config::Config>();
  for (size_t i = 0; i < addresses.size(); ++i) {
    config::ListenerConfig lc;
    lc.name = std::string("l").append(std::to_string(i));  // not "l" + ...: GCC 12 -Wrestrict
    lc.listen.text = addresses[i];
    lc.protocol = config::Protocol::kTcp;
    config->listeners.push_back(lc);
  }
  for (const auto& [name, backends] : pools) {
    config::PoolConfig pc;
    pc.name = name;
    for (const auto& b : backends) {
      config::BackendConfig bc;
      bc.address.text = b;
      pc.backends.push_back(bc);
    }
    config->pools.push_back(pc);
  }
  auto snap = std::make_shared<Snapshot>();
  snap->config = config;
  for (uint32_t i = 0; i < config->listeners.size(); ++i) {
    ListenerRuntime lr;
    lr.index = i;
    lr.config = &config->listeners[i];
    snap->listeners.push_back(std::move(lr));
  }
  return snap;
}

class ReloadDrain : public fulcrum::testing::WorkerLoopTest {
 protected:
  // The upstream pool's table is per thread (per worker), and a reload installs its backends
  // there: a test that reloads runs on a thread of its own, so that none of this leaks into
  // the other tests of the binary (which run on the main thread). The loop is only driven
  // from that thread while it runs.
  template <class F>
  static void onOwnThread(F body) {
    std::thread t(body);
    t.join();
  }
};

TEST_F(ReloadDrain, RemovedListenerSessionsDrainOthersAreUntouched) {
  onOwnThread([this] {
    const std::string a = freeAddress(), b = freeAddress();
    worker_.applySnapshot(snapshotOf({a, b}), {{a, listenOn(a)}, {b, listenOn(b)}});
    // Listener ids are handed out in order: a is 1, b is 2 (Worker::newListenerId).
    FakeSession on_a(worker_, 1);
    FakeSession on_b(worker_, 2);
    FakeSession upstream(worker_);  // untagged

    worker_.applySnapshot(snapshotOf({a}), {});  // b removed
    EXPECT_EQ(on_a.drained, 0);
    EXPECT_EQ(on_b.drained, 1);
    EXPECT_EQ(upstream.drained, 0);

    // b comes back: a new listener (id 3). Its sessions, not the old ones, drain when it goes.
    worker_.applySnapshot(snapshotOf({a, b}), {{b, listenOn(b)}});
    FakeSession on_new_b(worker_, 3);
    worker_.applySnapshot(snapshotOf({a, b}), {});  // unchanged: nothing drains
    EXPECT_EQ(on_new_b.drained, 0);
    worker_.applySnapshot(snapshotOf({a}), {});
    EXPECT_EQ(on_new_b.drained, 1);
    EXPECT_EQ(on_b.drained, 1);
    EXPECT_EQ(on_a.drained, 0);
    EXPECT_EQ(upstream.drained, 0);
  });
}

TEST_F(ReloadDrain, RemovedBackendIdleConnectionsCloseKeptOnesStay) {
  onOwnThread([this] {
    using http::UpstreamConnection;
    using http::UpstreamPool;
    const std::string kept = UpstreamPool::key("p", "127.0.0.1:1");
    const std::string gone = UpstreamPool::key("p", "127.0.0.1:2");
    UpstreamPool::retainOnly(*snapshotOf({}, {{"p", {"127.0.0.1:1", "127.0.0.1:2"}}})->config);
    int kept_peer, gone_peer, late_peer;
    auto* k = new UpstreamConnection(worker_, pair(&kept_peer));
    auto* g = new UpstreamConnection(worker_, pair(&gone_peer));
    auto* late = new UpstreamConnection(worker_, pair(&late_peer));  // lent across the reload
    UpstreamPool::put(kept, k, 8, 60s);
    UpstreamPool::put(gone, g, 8, 60s);
    EXPECT_EQ(UpstreamPool::idleCount(kept), 1u);
    EXPECT_EQ(UpstreamPool::idleCount(gone), 1u);

    // Reload: 127.0.0.1:2 leaves pool p (and the same address in another pool is another
    // backend, which does not keep it).
    UpstreamPool::retainOnly(
        *snapshotOf({}, {{"p", {"127.0.0.1:1"}}, {"q", {"127.0.0.1:2"}}})->config);
    EXPECT_EQ(UpstreamPool::idleCount(gone), 0u);
    EXPECT_EQ(UpstreamPool::idleCount(kept), 1u);
    // Released after the reload: closed, not parked.
    UpstreamPool::put(gone, late, 8, 60s);
    EXPECT_EQ(UpstreamPool::idleCount(gone), 0u);
    char byte;
    auto eof = [&](int fd) { return recv(fd, &byte, 1, MSG_DONTWAIT) == 0; };
    EXPECT_TRUE(runUntil([&] { return eof(gone_peer) && eof(late_peer); }));
    EXPECT_EQ(recv(kept_peer, &byte, 1, MSG_DONTWAIT), -1) << "the kept backend's connection";
    EXPECT_EQ(UpstreamPool::take(kept), k);  // reused

    // The backend comes back: its connections are pooled again.
    UpstreamPool::retainOnly(*snapshotOf({}, {{"p", {"127.0.0.1:1", "127.0.0.1:2"}}})->config);
    int again_peer;
    auto* again = new UpstreamConnection(worker_, pair(&again_peer));
    UpstreamPool::put(gone, again, 8, 60s);
    EXPECT_EQ(UpstreamPool::idleCount(gone), 1u);

    // A backend's list first made after a reload that does not have it starts out retired.
    const std::string unknown = UpstreamPool::key("p", "127.0.0.1:3");
    int unknown_peer;
    auto* u = new UpstreamConnection(worker_, pair(&unknown_peer));
    UpstreamPool::put(unknown, u, 8, 60s);
    EXPECT_EQ(UpstreamPool::idleCount(unknown), 0u);

    k->close();
    again->close();
    EXPECT_TRUE(runUntil([&] { return worker_.sessionCount() == 0; }));
    for (int fd : {kept_peer, gone_peer, late_peer, again_peer, unknown_peer}) close(fd);
  });
}

}  // namespace
}  // namespace fulcrum::core
