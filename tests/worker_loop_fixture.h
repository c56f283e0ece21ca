#pragma once
// GoogleTest fixture for code that runs on a worker's libuv loop: the test drives the loop by
// hand (no thread) and talks to the code under test through socketpairs.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>

#include "fulcrum/core/listener.h"
#include "fulcrum/core/worker.h"

namespace fulcrum::testing {

class WorkerLoopTest : public ::testing::Test {
 protected:
  // Writing to a closed peer must fail with EPIPE, not kill the test (fulcrum ignores it too).
  void SetUp() override { signal(SIGPIPE, SIG_IGN); }
  void TearDown() override {
    worker_.stop();
    // A failed test can leave handles open: close them so the loop ends (no hang).
    uv_walk(
        worker_.loop(),
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(worker_.loop(), UV_RUN_DEFAULT);
  }
  // Runs the loop until `done()` or ~2 s of iterations. `done` is called again after it first
  // returns true, so it must stay true (accumulate what it reads).
  template <class F>
  bool runUntil(F done) {
    for (int i = 0; i < 2000 && !done(); ++i) {
      uv_run(worker_.loop(), UV_RUN_NOWAIT);
      usleep(1000);
    }
    return done();
  }
  // A connected pair: a heap uv_tcp_t on one end (for the code under test), a plain fd on
  // the other (the "peer").
  uv_tcp_t* pair(int* peer) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    auto* h = new uv_tcp_t{};
    uv_tcp_init(worker_.loop(), h);
    EXPECT_EQ(uv_tcp_open(h, fds[0]), 0);
    *peer = fds[1];
    return h;
  }
  // The same over loopback TCP, for what only TCP shows (segments): the accepted end, from a
  // listening socket made as fulcrum's listeners are (createListenSocket: TCP_NODELAY, which
  // accepted sockets inherit), is the uv_tcp_t; the connecting end is the peer.
  uv_tcp_t* tcpPair(int* peer) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int listener = core::createListenSocket(reinterpret_cast<sockaddr*>(&addr), sizeof addr, 1);
    EXPECT_GE(listener, 0);
    socklen_t len = sizeof addr;
    EXPECT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    *peer = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(*peer, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    int accepted = -1;
    for (int i = 0; i < 200 && accepted < 0; ++i) {  // the listening socket is non-blocking
      accepted = accept(listener, nullptr, nullptr);
      if (accepted < 0) usleep(5000);
    }
    EXPECT_GE(accepted, 0);
    close(listener);
    auto* h = new uv_tcp_t{};
    uv_tcp_init(worker_.loop(), h);
    EXPECT_EQ(uv_tcp_open(h, accepted), 0);
    return h;
  }
  core::Worker worker_{0};
};

}  // namespace fulcrum::testing
