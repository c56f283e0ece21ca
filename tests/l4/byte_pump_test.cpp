// BytePump lifecycle over socketpairs on a real worker loop (run by hand, no thread).
#include "fulcrum/l4/byte_pump.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>

#include "fulcrum/core/worker.h"
#include "worker_loop_fixture.h"

namespace fulcrum::l4 {
namespace {

using namespace std::chrono_literals;

struct Observer : PumpObserver {
  int closed = 0;
  CloseReason reason = CloseReason::kDone;
  void onPumpBytes(bool, size_t) override {}
  void onPumpClosed(CloseReason r) override {
    ++closed;
    reason = r;
  }
};

class PumpLoop : public fulcrum::testing::WorkerLoopTest {
 protected:
  // Active timers on the loop (the worker itself keeps none armed).
  int activeTimers() {
    int n = 0;
    uv_walk(
        worker_.loop(),
        [](uv_handle_t* h, void* arg) {
          if (h->type == UV_TIMER && uv_is_active(h)) ++*static_cast<int*>(arg);
        },
        &n);
    return n;
  }
};

// A tunnel whose first push fails (the client can no longer be written to) must not arm its
// idle timer in start(): it would outlive the pump, keep a draining worker's loop alive for
// the whole websocket idle timeout and then fire into freed memory.
TEST_F(PumpLoop, StartAfterAFailedPushArmsNoTimer) {
  int down_peer = -1, up_peer = -1;
  uv_tcp_t* down = pair(&down_peer);
  uv_tcp_t* up = pair(&up_peer);
  uv_shutdown_t req;
  ASSERT_EQ(uv_shutdown(&req, reinterpret_cast<uv_stream_t*>(down), nullptr), 0);
  Observer observer;
  auto pump = std::make_unique<BytePump>(worker_, down, up, 3600s, &observer);
  pump->pushToDownstream("HTTP/1.1 101 Switching Protocols\r\n\r\n", 36);
  pump->start();
  EXPECT_EQ(activeTimers(), 0);
  ASSERT_TRUE(runUntil([&] { return observer.closed == 1; }));
  EXPECT_EQ(observer.reason, CloseReason::kDownstreamError);
  pump.reset();
  EXPECT_EQ(activeTimers(), 0);
  close(down_peer);
  close(up_peer);
}

// The normal path: the idle timer runs while the tunnel is open and is gone once it closed.
TEST_F(PumpLoop, IdleTimerLivesExactlyAsLongAsTheTunnel) {
  int down_peer = -1, up_peer = -1;
  uv_tcp_t* down = pair(&down_peer);
  uv_tcp_t* up = pair(&up_peer);
  Observer observer;
  auto pump = std::make_unique<BytePump>(worker_, down, up, 3600s, &observer);
  pump->start();
  EXPECT_EQ(activeTimers(), 1);
  ASSERT_EQ(write(down_peer, "ping", 4), 4);
  char buf[8];
  size_t got = 0;
  ASSERT_TRUE(runUntil([&] {
    ssize_t n = recv(up_peer, buf + got, sizeof buf - got, MSG_DONTWAIT);
    if (n > 0) got += static_cast<size_t>(n);
    return got == 4;
  }));
  EXPECT_EQ(std::string(buf, got), "ping");
  pump->close();
  ASSERT_TRUE(runUntil([&] { return observer.closed == 1; }));
  EXPECT_EQ(observer.reason, CloseReason::kClosed);
  EXPECT_EQ(activeTimers(), 0);
  pump.reset();
  close(down_peer);
  close(up_peer);
}

}  // namespace
}  // namespace fulcrum::l4
