#pragma once
// GoogleTest fixture for code that runs on a worker's libuv loop: the test drives the loop by
// hand (no thread) and talks to the code under test through socketpairs.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>

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
  core::Worker worker_{0};
};

}  // namespace fulcrum::testing
