#include "fulcrum/core/splice_pipe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <thread>
#include <utility>

namespace fulcrum::core {
namespace {

// A connected loopback TCP pair: {writer end, reader end}, both non-blocking.
std::pair<int, int> tcpPair(int rcvbuf = 0) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(listen(l, 1), 0);
  socklen_t len = sizeof a;
  getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  EXPECT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  int s = accept(l, nullptr, nullptr);
  close(l);
  fcntl(c, F_SETFL, O_NONBLOCK);
  fcntl(s, F_SETFL, O_NONBLOCK);
  return {s, c};  // s writes to c
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

void writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    ASSERT_EQ(errno, EAGAIN);
    pollfd p{fd, POLLOUT, 0};
    ASSERT_GT(poll(&p, 1, 2000), 0);
  }
}

std::string readAvailable(int fd, int wait_ms = 200) {
  std::string out;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) return out;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

TEST(SplicePipe, MovesBytesExactlyFromSocketToSocket) {
  SplicePipe* pipe = SplicePipe::local();
  ASSERT_NE(pipe, nullptr);
  EXPECT_EQ(SplicePipe::local(), pipe);  // one per thread
  EXPECT_GE(pipe->capacity(), 64u * 1024);
  auto [src_w, src_r] = tcpPair();
  auto [dst_w, dst_r] = tcpPair();
  const std::string data = pattern(48 * 1024);
  writeAll(src_w, data);
  std::string got;
  size_t moved = 0;
  for (int i = 0; i < 100 && moved < data.size(); ++i) {
    pollfd p{src_r, POLLIN, 0};
    poll(&p, 1, 100);
    SplicePipe::Moved m = pipe->move(src_r, dst_w, data.size() - moved);
    EXPECT_EQ(m.out, m.in);
    EXPECT_EQ(m.dest_error, 0);
    moved += m.in;
    got += readAvailable(dst_r, 20);
  }
  got += readAvailable(dst_r);
  EXPECT_EQ(moved, data.size());
  EXPECT_EQ(got, data);
  EXPECT_EQ(pipe->pending(), 0u);
  // Never more than asked: the rest stays in the source socket.
  writeAll(src_w, "0123456789");
  pollfd p{src_r, POLLIN, 0};
  poll(&p, 1, 1000);
  SplicePipe::Moved m = pipe->move(src_r, dst_w, 4);
  EXPECT_EQ(m.in, 4u);
  EXPECT_EQ(readAvailable(dst_r), "0123");
  for (int fd : {src_w, src_r, dst_w, dst_r}) close(fd);
}

TEST(SplicePipe, WhatAFullDestinationLeavesIsReadBackInOrder) {
  SplicePipe* pipe = SplicePipe::local();
  ASSERT_NE(pipe, nullptr);
  auto [src_w, src_r] = tcpPair();
  auto [dst_w, dst_r] = tcpPair(4096);  // a small receive window: the destination fills up
  int sndbuf = 4096;
  setsockopt(dst_w, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  const std::string data = pattern(200 * 1024);
  std::thread feeder([&, w = src_w] { writeAll(w, data); });
  std::string through;   // what the destination took
  std::string readback;  // what was left in the pipe
  size_t moved = 0;
  bool saw_full = false;
  for (int i = 0; i < 2000 && moved < data.size(); ++i) {
    pollfd p{src_r, POLLIN, 0};
    poll(&p, 1, 50);
    SplicePipe::Moved m = pipe->move(src_r, dst_w, data.size() - moved);
    moved += m.in;
    if (m.out < m.in) {
      saw_full = true;
      char buf[8192];
      while (size_t n = pipe->readBack(buf, sizeof buf)) readback.append(buf, n);
      EXPECT_EQ(pipe->pending(), 0u);
      through += readAvailable(dst_r, 20);
      // Keep the order for the comparison: the destination's bytes, then the read-back ones.
      through += readback;
      readback.clear();
    } else {
      through += readAvailable(dst_r, 5);
    }
  }
  feeder.join();
  through += readAvailable(dst_r);
  EXPECT_TRUE(saw_full) << "the destination never filled: the test did not test";
  EXPECT_EQ(moved, data.size());
  EXPECT_EQ(through, data);
  for (int fd : {src_w, src_r, dst_w, dst_r}) close(fd);
}

TEST(SplicePipe, SourceEofAndDestinationFailureAreReported) {
  std::signal(SIGPIPE, SIG_IGN);
  SplicePipe* pipe = SplicePipe::local();
  ASSERT_NE(pipe, nullptr);
  auto [src_w, src_r] = tcpPair();
  auto [dst_w, dst_r] = tcpPair();
  // Nothing to read yet: nothing moves, and that is not the end.
  SplicePipe::Moved m = pipe->move(src_r, dst_w, 1000);
  EXPECT_EQ(m.in, 0u);
  EXPECT_FALSE(m.source_done);
  // The destination's reader is gone (reset): a move fails on its side and empties the pipe.
  linger hard{1, 0};
  setsockopt(dst_r, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close(dst_r);
  usleep(20000);
  writeAll(src_w, pattern(10000));
  pollfd p{src_r, POLLIN, 0};
  poll(&p, 1, 1000);
  m = pipe->move(src_r, dst_w, 10000);
  EXPECT_GT(m.in, 0u);
  EXPECT_NE(m.dest_error, 0);
  EXPECT_EQ(pipe->pending(), 0u);
  // The source closes: reported, so that a plain read sees the EOF.
  close(src_w);
  usleep(20000);
  char drain[20000];
  while (read(src_r, drain, sizeof drain) > 0) {
  }
  auto [dst2_w, dst2_r] = tcpPair();
  m = pipe->move(src_r, dst2_w, 1000);
  EXPECT_EQ(m.in, 0u);
  EXPECT_TRUE(m.source_done);
  EXPECT_EQ(m.source_error, 0);  // an EOF, not an error
  for (int fd : {src_r, dst_w, dst2_w, dst2_r}) close(fd);
}

// A source that resets: the failed splice clears the socket's error, so a read after it finds
// an EOF. The move reports the reset itself, for its caller to end the stream as failed.
TEST(SplicePipe, SourceResetIsReportedAsAnErrorNotAnEof) {
  SplicePipe* pipe = SplicePipe::local();
  ASSERT_NE(pipe, nullptr);
  auto [src_w, src_r] = tcpPair();
  auto [dst_w, dst_r] = tcpPair();
  linger hard{1, 0};
  setsockopt(src_w, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close(src_w);  // RST
  pollfd p{src_r, POLLIN, 0};
  ASSERT_GT(poll(&p, 1, 1000), 0);
  SplicePipe::Moved m = pipe->move(src_r, dst_w, 1000);
  EXPECT_EQ(m.in, 0u);
  EXPECT_TRUE(m.source_done);
  EXPECT_EQ(m.source_error, -ECONNRESET);
  char byte;
  EXPECT_EQ(read(src_r, &byte, 1), 0);  // what a plain read would have taken for the end
  for (int fd : {src_r, dst_w, dst_r}) close(fd);
}

}  // namespace
}  // namespace fulcrum::core
