// startConnect: a socket the kernel connects to itself is a refused connection, not a backend.
// Connecting to a local port nobody listens on can end that way whenever the port lies in the
// ephemeral range (TCP simultaneous open with the same port picked as the source); binding the
// source to the destination makes that case deterministic here.
#include "fulcrum/core/tcp_connect.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fulcrum/core/uv_util.h"
#include "worker_loop_fixture.h"

namespace fulcrum {
namespace {

class Recorder : public core::ConnectObserver {
 public:
  void onConnected(uv_tcp_t* handle) override {
    connected = true;
    core::closeAndDelete(handle);
  }
  void onConnectFailed(int status) override { failed_status = status; }
  bool done() const { return connected || failed_status != 0; }

  bool connected = false;
  int failed_status = 0;
};

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A port nothing listens on now (bound, read back, released).
uint16_t freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Binds 127.0.0.1:port without SO_REUSEADDR: fails while the port has a TIME_WAIT entry.
bool bindsPlainly(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(port);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

class TcpConnect : public testing::WorkerLoopTest {};

TEST_F(TcpConnect, ConnectsToAListener) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  socklen_t len = sizeof a;
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  Recorder r;
  core::startConnect(worker_.loop(), reinterpret_cast<sockaddr*>(&a), std::chrono::seconds(2), &r);
  ASSERT_TRUE(runUntil([&] { return r.done(); }));
  EXPECT_TRUE(r.connected);
  close(listener);
}

TEST_F(TcpConnect, ASocketConnectedToItselfIsRefusedAndLeavesNoTimeWait) {
  uint16_t port = freePort();
  sockaddr_in a = loopback(port);
  Recorder r;
  core::startConnect(worker_.loop(), reinterpret_cast<sockaddr*>(&a), std::chrono::seconds(2), &r,
                     reinterpret_cast<sockaddr*>(&a));
  ASSERT_TRUE(runUntil([&] { return r.done(); }));
  EXPECT_FALSE(r.connected);
  EXPECT_EQ(r.failed_status, UV_ECONNREFUSED);
  // The reset close left nothing behind: a backend coming back can bind its port at once.
  for (int i = 0; i < 5; ++i) uv_run(worker_.loop(), UV_RUN_NOWAIT);  // the close callbacks
  EXPECT_TRUE(bindsPlainly(port));
}

}  // namespace
}  // namespace fulcrum
