// BytePump lifecycle over socketpairs on a real worker loop (run by hand, no thread).
#include "fulcrum/l4/byte_pump.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <string>

#include "epoll_ctl_counter.h"
#include "fulcrum/core/splice_pipe.h"
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
  // Active timers on the loop that keep it alive (the worker's own, its memory trim, is
  // unreferenced: it never holds a draining worker's loop open).
  int activeTimers() {
    int n = 0;
    uv_walk(
        worker_.loop(),
        [](uv_handle_t* h, void* arg) {
          if (h->type == UV_TIMER && uv_is_active(h) && uv_has_ref(h)) ++*static_cast<int*>(arg);
        },
        &n);
    return n;
  }
  // A started pump between two loopback TCP pairs, no idle timeout; the test's ends of them
  // are down_peer_ (the client) and up_peer_ (the backend). endPump() closes it all.
  std::unique_ptr<BytePump> tcpPump() {
    uv_tcp_t* down = tcpPair(&down_peer_);
    uv_tcp_t* up = tcpPair(&up_peer_);
    auto pump =
        std::make_unique<BytePump>(worker_, down, up, std::chrono::milliseconds(0), &observer_);
    pump->start();
    return pump;
  }
  void endPump(std::unique_ptr<BytePump>& pump) {
    if (observer_.closed == 0) pump->close();
    ASSERT_TRUE(runUntil([&] { return observer_.closed == 1; }));
    pump.reset();
    close(down_peer_);
    close(up_peer_);
  }
  Observer observer_;
  int down_peer_ = -1;
  int up_peer_ = -1;
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

// Bytes the destination socket takes at once are written from the read callback itself, with
// no libuv write request: a completed request makes libuv re-register the destination with
// epoll afterwards, one epoll_ctl per forwarded read, which doubled the syscalls of a small
// request/response exchange through the pump.
TEST_F(PumpLoop, BytesTheSocketTakesAtOnceCostNoEpollCtl) {
  auto pump = tcpPump();
  const int down_peer = down_peer_, up_peer = up_peer_;
  // Both sockets enter epoll on the first turn; what follows is the steady state.
  uv_run(worker_.loop(), UV_RUN_NOWAIT);
  uint64_t before = testing::epollCtlCalls();
  auto relay = [&](int from, int to, const std::string& message) {
    EXPECT_EQ(write(from, message.data(), message.size()), static_cast<ssize_t>(message.size()));
    std::string got;
    char buf[64];
    for (int i = 0; i < 2000 && got.size() < message.size(); ++i) {
      uv_run(worker_.loop(), UV_RUN_NOWAIT);
      ssize_t n = recv(to, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (got.size() < message.size()) usleep(1000);
    }
    EXPECT_EQ(got, message);
  };
  for (int i = 0; i < 10; ++i) {
    relay(down_peer, up_peer, "GET / HTTP/1.1\r\n\r\n");
    relay(up_peer, down_peer, "HTTP/1.1 204 No Content\r\n\r\n");
  }
  for (int i = 0; i < 3; ++i) uv_run(worker_.loop(), UV_RUN_NOWAIT);
  EXPECT_EQ(testing::epollCtlCalls() - before, 0u);
  endPump(pump);
}

// What the destination does not take at once is queued behind the part it took: 4 MiB sent
// through a destination with a small send buffer, whose peer starts reading only after the
// pump had to queue, arrive whole and in order.
TEST_F(PumpLoop, APartialWriteQueuesTheRestInOrder) {
  int down_peer = -1, up_peer = -1;
  uv_tcp_t* down = pair(&down_peer);
  uv_tcp_t* up = pair(&up_peer);
  // A stream socketpair counts what its peer has not read yet against the sender's buffer:
  // with 16 KiB, a 32 KiB read is always written in part.
  int small = 8192;
  uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(up), &small);
  Observer observer;
  auto pump = std::make_unique<BytePump>(worker_, down, up, 0s, &observer);
  pump->start();
  std::string sent(4 << 20, '\0');
  for (size_t i = 0; i < sent.size(); ++i)
    sent[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
  size_t written = 0;
  std::string received;
  char buf[65536];
  for (int i = 0; i < 20000 && received.size() < sent.size(); ++i) {
    if (written < sent.size()) {
      ssize_t n = send(down_peer, sent.data() + written, sent.size() - written, MSG_DONTWAIT);
      if (n > 0) written += static_cast<size_t>(n);
    }
    uv_run(worker_.loop(), UV_RUN_NOWAIT);
    if (i > 50) {  // the peer starts reading once the pump has had to queue
      ssize_t n = recv(up_peer, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) received.append(buf, static_cast<size_t>(n));
      if (n <= 0) usleep(200);
    }
  }
  ASSERT_EQ(received.size(), sent.size())
      << "written " << written << " pumped " << pump->bytesToUpstream();
  EXPECT_TRUE(received == sent) << "bytes reordered or corrupted";
  EXPECT_EQ(pump->bytesToUpstream(), sent.size());
  pump->close();
  ASSERT_TRUE(runUntil([&] { return observer.closed == 1; }));
  pump.reset();
  close(down_peer);
  close(up_peer);
}

// A bulk transfer (reads that fill their buffer) is spliced from socket to socket; the bytes
// arrive whole and in order through a slow reader, the half-close follows them, and the
// other direction still works.
TEST_F(PumpLoop, BulkBytesAreSplicedInOrderAndTheHalfCloseFollowsThem) {
  std::signal(SIGPIPE, SIG_IGN);
  auto pump = tcpPump();
  const int down_peer = down_peer_, up_peer = up_peer_;
  core::SplicePipe* pipe = core::SplicePipe::local();
  ASSERT_NE(pipe, nullptr);
  const uint64_t moves_before = pipe->moves();
  std::string sent(8 << 20, '\0');
  for (size_t i = 0; i < sent.size(); ++i)
    sent[i] = static_cast<char>('a' + (i * 11 + i / 4099) % 26);
  size_t written = 0;
  bool shut = false;
  std::string received;
  bool eof = false;
  char buf[65536];
  for (int i = 0; i < 100000 && !eof; ++i) {
    if (written < sent.size()) {
      ssize_t n = send(down_peer, sent.data() + written, sent.size() - written, MSG_DONTWAIT);
      if (n > 0) written += static_cast<size_t>(n);
    } else if (!shut) {
      ASSERT_EQ(shutdown(down_peer, SHUT_WR), 0);
      shut = true;
    }
    uv_run(worker_.loop(), UV_RUN_NOWAIT);
    if (i % 3 == 0) {  // a slower reader: the pump has to queue now and then
      ssize_t n = recv(up_peer, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) received.append(buf, static_cast<size_t>(n));
      if (n == 0) eof = true;
    }
  }
  ASSERT_TRUE(eof) << "no EOF upstream after " << received.size() << " bytes";
  ASSERT_EQ(received.size(), sent.size());
  EXPECT_TRUE(received == sent) << "bytes reordered or corrupted";
  EXPECT_EQ(pump->bytesToUpstream(), sent.size());
  EXPECT_GT(pipe->moves(), moves_before) << "nothing was spliced";
  EXPECT_EQ(pipe->pending(), 0u);
  // The other direction: a reply, then the backend's EOF ends the pump cleanly.
  const std::string reply(300000, 'r');
  size_t off = 0;
  std::string got;
  bool down_eof = false;
  for (int i = 0; i < 100000 && !down_eof; ++i) {
    if (off < reply.size()) {
      ssize_t n = send(up_peer, reply.data() + off, reply.size() - off, MSG_DONTWAIT);
      if (n > 0) off += static_cast<size_t>(n);
      if (off == reply.size()) shutdown(up_peer, SHUT_WR);
    }
    uv_run(worker_.loop(), UV_RUN_NOWAIT);
    ssize_t n = recv(down_peer, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
    if (n == 0) down_eof = true;
  }
  EXPECT_EQ(got, reply);
  ASSERT_TRUE(runUntil([&] { return observer_.closed == 1; }));
  EXPECT_EQ(observer_.reason, CloseReason::kDone);
  endPump(pump);
}

}  // namespace
}  // namespace fulcrum::l4
