// Benchmark backend for bench/run.sh: one epoll thread serving two TCP ports on 127.0.0.1.
//   --echo PORT  every byte read is written back (connection-rate and idle-session phases)
//   --sink PORT  every byte read is dropped (throughput phase: data flows one way)
// It is deliberately minimal so that the machine's second core (shared with the load tool)
// spends as little as possible here. Stops on SIGTERM/SIGINT or after --max-seconds.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }

enum Kind : uint8_t { kFree, kListenEcho, kListenSink, kEcho, kSink };

struct Conn {
  Kind kind = kFree;
  std::string pending;  // echo bytes the peer has not accepted yet (rare: only under backpressure)
};

std::vector<Conn> g_conns;
int g_ep = -1;
char g_buf[256 * 1024];

int listenOn(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4096) != 0) {
    std::fprintf(stderr, "l4_backend: cannot listen on 127.0.0.1:%d: %s\n", port,
                 std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

Conn& slot(int fd) {
  if (static_cast<size_t>(fd) >= g_conns.size()) g_conns.resize(fd * 2 + 64);
  return g_conns[fd];
}

void add(int fd, Kind kind) {
  slot(fd).kind = kind;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev);
}

void closeConn(int fd) {
  Conn& c = slot(fd);
  c.kind = kFree;
  std::string().swap(c.pending);
  close(fd);  // also removes it from the epoll set
}

void setEvents(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  epoll_ctl(g_ep, EPOLL_CTL_MOD, fd, &ev);
}

void acceptAll(int lfd, Kind kind) {
  for (int i = 0; i < 256; ++i) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    add(fd, kind);
  }
}

// Writes what is pending; returns false when the connection failed.
bool flush(int fd, Conn& c) {
  while (!c.pending.empty()) {
    ssize_t n = send(fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) {
        setEvents(fd, EPOLLOUT);  // stop reading until the peer drains (bounded memory)
        return true;
      }
      return false;
    }
    c.pending.erase(0, static_cast<size_t>(n));
  }
  setEvents(fd, EPOLLIN);
  return true;
}

void onReadable(int fd, Conn& c) {
  for (int i = 0; i < 16; ++i) {
    ssize_t n = recv(fd, g_buf, sizeof g_buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      closeConn(fd);
      return;
    }
    if (n < 0) return;
    if (c.kind == kSink) continue;
    ssize_t w = send(fd, g_buf, static_cast<size_t>(n), MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) {
      closeConn(fd);
      return;
    }
    if (w < n) {
      c.pending.assign(g_buf + (w < 0 ? 0 : w), g_buf + n);
      if (!flush(fd, c)) closeConn(fd);
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int echo_port = 0, sink_port = 0, max_seconds = 3600;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--echo")
      echo_port = v;
    else if (k == "--sink")
      sink_port = v;
    else if (k == "--max-seconds")
      max_seconds = v;
    else {
      std::fprintf(stderr, "usage: l4_backend --echo PORT [--sink PORT] [--max-seconds N]\n");
      return 2;
    }
  }
  signal(SIGTERM, onSignal);
  signal(SIGINT, onSignal);
  signal(SIGPIPE, SIG_IGN);
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (echo_port) add(listenOn(echo_port), kListenEcho);
  if (sink_port) add(listenOn(sink_port), kListenSink);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(max_seconds);
  epoll_event evs[512];
  while (!g_stop && std::chrono::steady_clock::now() < deadline) {
    int n = epoll_wait(g_ep, evs, 512, 500);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      Conn& c = slot(fd);
      switch (c.kind) {
        case kListenEcho:
          acceptAll(fd, kEcho);
          break;
        case kListenSink:
          acceptAll(fd, kSink);
          break;
        case kEcho:
        case kSink:
          if (evs[i].events & EPOLLOUT) {
            if (!flush(fd, c)) closeConn(fd);
          } else {
            onReadable(fd, c);
          }
          break;
        case kFree:
          break;
      }
    }
  }
  return 0;
}
