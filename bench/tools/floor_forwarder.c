// The least a user-space proxy can spend per request: a TCP forwarder with no HTTP work and
// no event library. One thread, edge-triggered epoll, recv/send, one backend connection per
// client, bytes passed on as they come. bench/run.sh runs the keep-alive loads through it next
// to the three proxies, so the table shows how much of their CPU per request is the kernel's
// loopback TCP work that every proxy pays.
//
// Only for small messages on loopback: the backend connect at accept time blocks, and a send
// the socket does not take at once waits for room (poll) instead of queueing. Neither happens
// in the keep-alive phases it is used for, where every message fits in the socket buffers.
//
//   floor_forwarder LISTEN_PORT BACKEND_PORT MAX_SECONDS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kMaxFd = 1 << 16 };
static int peer[kMaxFd];

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int watch(int ep, int fd, unsigned events) {
  struct epoll_event e = {.events = events, .data.fd = fd};
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static void pair_up(int ep, int client, int backend_port) {
  int backend = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in b = loopback(backend_port);
  if (backend < 0 || backend >= kMaxFd || client >= kMaxFd ||
      connect(backend, (struct sockaddr*)&b, sizeof b) != 0) {
    if (backend >= 0) close(backend);
    close(client);
    return;
  }
  fcntl(backend, F_SETFL, O_NONBLOCK);
  setsockopt(backend, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  peer[client] = backend;
  peer[backend] = client;
  watch(ep, client, EPOLLIN | EPOLLET);
  watch(ep, backend, EPOLLIN | EPOLLET);
}

static int send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN) return -1;
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (poll(&pfd, 1, 1000) <= 0) return -1;
      continue;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// With SPLICE=1 in the environment the bytes go through a pipe with splice(2) instead of
// recv/send, so that the cost of the copies can be told apart (bench/README.md, "64 KiB
// responses: splice").
static int use_splice;
static int pipe_fds[2];

// Moves what `fd` has to its peer through the pipe; returns the bytes moved, 0 at EOF, -1 on
// error (errno EAGAIN: nothing to read).
static ssize_t splice_once(int fd, size_t max) {
  ssize_t in = splice(fd, NULL, pipe_fds[1], NULL, max, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
  if (in <= 0) return in;
  for (ssize_t left = in; left > 0;) {
    ssize_t out = splice(pipe_fds[0], NULL, peer[fd], NULL, (size_t)left,
                         SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (out < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = peer[fd], .events = POLLOUT};
      if (poll(&pfd, 1, 1000) <= 0) return -2;
      continue;
    }
    if (out <= 0) return -2;
    left -= out;
  }
  return in;
}

// Edge-triggered: read until the socket is drained (a short read says so, as for nginx).
static void forward(int fd) {
  static char buf[64 * 1024];
  if (peer[fd] < 0) return;  // closed earlier in this batch of events
  for (;;) {
    ssize_t r = use_splice ? splice_once(fd, sizeof buf) : recv(fd, buf, sizeof buf, 0);
    if (r == -1 && errno == EAGAIN) return;
    if (r <= 0 || (!use_splice && send_all(peer[fd], buf, (size_t)r) != 0)) {
      int other = peer[fd];
      close(other);  // closing removes both from epoll
      close(fd);
      peer[other] = peer[fd] = -1;
      return;
    }
    if ((size_t)r < sizeof buf) return;
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s LISTEN_PORT BACKEND_PORT MAX_SECONDS\n", argv[0]);
    return 2;
  }
  int backend_port = atoi(argv[2]);
  use_splice = getenv("SPLICE") != NULL;
  if (use_splice && pipe2(pipe_fds, O_NONBLOCK) != 0) {
    perror("floor_forwarder: pipe2");
    return 1;
  }
  alarm((unsigned)atoi(argv[3]));  // bounded, whatever happens to the caller
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  struct sockaddr_in a = loopback(atoi(argv[1]));
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (struct sockaddr*)&a, sizeof a) != 0 || listen(l, 4096) != 0) {
    perror("floor_forwarder: listen");
    return 1;
  }
  for (int i = 0; i < kMaxFd; i++) peer[i] = -1;
  int ep = epoll_create1(0);
  watch(ep, l, EPOLLIN);
  struct epoll_event ev[512];
  for (;;) {
    int n = epoll_wait(ep, ev, 512, -1);
    for (int i = 0; i < n; i++) {
      int fd = ev[i].data.fd;
      if (fd != l) {
        forward(fd);
        continue;
      }
      int c;
      while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) pair_up(ep, c, backend_port);
    }
  }
}
