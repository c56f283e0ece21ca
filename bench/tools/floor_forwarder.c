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

// Edge-triggered: read until the socket is drained (a short read says so, as for nginx).
static void forward(int fd) {
  static char buf[64 * 1024];
  if (peer[fd] < 0) return;  // closed earlier in this batch of events
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EAGAIN) return;
    if (r <= 0 || send_all(peer[fd], buf, (size_t)r) != 0) {
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
