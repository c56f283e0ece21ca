// createListenSocket: the options every accepted connection depends on.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fulcrum/core/listener.h"

namespace fulcrum::core {
namespace {

int optionOf(int fd, int level, int name) {
  int value = -1;
  socklen_t len = sizeof value;
  EXPECT_EQ(::getsockopt(fd, level, name, &value, &len), 0);
  return value;
}

// The accept path no longer sets TCP_NODELAY per connection: it relies on Linux copying the
// listening socket's option into every accepted socket. Small responses would otherwise wait
// for Nagle behind a delayed ACK.
TEST(ListenSocket, AcceptedConnectionsInheritNoDelay) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int listen_fd = createListenSocket(reinterpret_cast<sockaddr*>(&addr), sizeof addr, 16);
  ASSERT_GE(listen_fd, 0);
  EXPECT_NE(optionOf(listen_fd, SOL_SOCKET, SO_REUSEPORT), 0);
  EXPECT_NE(optionOf(listen_fd, IPPROTO_TCP, TCP_NODELAY), 0);

  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  int accepted = -1;
  for (int i = 0; i < 200 && accepted < 0; ++i) {  // the listening socket is non-blocking
    accepted = ::accept(listen_fd, nullptr, nullptr);
    if (accepted < 0) ::usleep(5000);
  }
  ASSERT_GE(accepted, 0);
  EXPECT_NE(optionOf(accepted, IPPROTO_TCP, TCP_NODELAY), 0);
  ::close(accepted);
  ::close(client);
  ::close(listen_fd);
}

}  // namespace
}  // namespace fulcrum::core
