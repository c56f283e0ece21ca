// Load generator for bench/run.sh: one epoll thread, 127.0.0.1 only, every phase bounded in
// time. It samples the proxy's CPU time (utime+stime of /proc/PID/stat) and RSS itself, so the
// numbers cover exactly the measured window (after a warm-up), not process start-up.
//
//   l4_load throughput --port P --pid PID [--conns 16] [--seconds 5] [--warmup 1] [--chunk 65536]
//       N connections each streaming CHUNK-byte writes to a sink backend: MiB/s, CPU-us per MiB
//   l4_load connrate --port P --pid PID [--conns 32] [--seconds 5] [--warmup 1] [--size 64]
//       K loops of connect, send SIZE bytes, read the SIZE-byte echo, close: conn/s, CPU-us/conn
//   l4_load idle --port P --pid PID [--count 10000] [--http] [--hold 1]
//       opens COUNT sessions, does one exchange on each (64-byte echo, or with --http one GET
//       answered by a complete response) and leaves them idle: proxy RSS delta per session
//   l4_load stat --pid PID
//       the proxy's CPU time so far (us) and RSS (KiB), for phases driven by another tool (wrk)
//
// Output: one line of key=value pairs on stdout (read by bench/run.sh).
#include <arpa/inet.h>
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
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode;
  int port = 0;
  int pid = 0;
  int conns = 16;
  double seconds = 5;
  double warmup = 1;
  int chunk = 65536;
  int size = 64;
  int count = 10000;
  bool http = false;
  std::string path = "/";
  double hold = 1;
};

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// utime + stime of every thread of PID, in microseconds.
double cpuMicros(int pid) {
  if (pid <= 0) return 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {  // fields 14 and 15 are utime and stime
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rssKib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

void watch(int ep, int fd, uint32_t events, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  epoll_ctl(ep, op, fd, &ev);
}

bool connectFailed(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err != 0;
}

int throughput(const Args& a) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<char> chunk(static_cast<size_t>(a.chunk), 'x');
  std::map<int, size_t> offset;  // bytes of the current chunk already written, per connection
  for (int i = 0; i < a.conns; ++i) {
    int fd = connectTo(a.port);
    if (fd < 0) {
      std::printf("error=connect\n");
      return 1;
    }
    offset[fd] = 0;
    watch(ep, fd, EPOLLOUT, EPOLL_CTL_ADD);
  }
  unsigned long long sent = 0, sent_at_start = 0;
  int errors = 0;
  double cpu_start = 0;
  auto t0 = Clock::now();
  Clock::time_point tm;
  bool measuring = false;
  epoll_event evs[256];
  while (true) {
    double el = secondsSince(t0);
    if (!measuring && el >= a.warmup) {
      measuring = true;
      sent_at_start = sent;
      cpu_start = cpuMicros(a.pid);
      tm = Clock::now();
    }
    if (el >= a.warmup + a.seconds || offset.empty()) break;
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      size_t& off = offset[fd];
      if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
        ++errors;
        offset.erase(fd);
        close(fd);
        continue;
      }
      for (int k = 0; k < 8; ++k) {
        ssize_t w = send(fd, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        sent += static_cast<unsigned long long>(w);
        off = (off + static_cast<size_t>(w)) % chunk.size();
      }
    }
  }
  double window = measuring ? secondsSince(tm) : 0;
  double cpu = cpuMicros(a.pid) - cpu_start;
  double mib = static_cast<double>(sent - sent_at_start) / (1024.0 * 1024.0);
  for (auto& [fd, off] : offset) close(fd);
  std::printf("mib=%.1f seconds=%.2f mib_per_s=%.1f cpu_us=%.0f cpu_us_per_mib=%.1f errors=%d\n",
              mib, window, window > 0 ? mib / window : 0, cpu, mib > 0 ? cpu / mib : 0, errors);
  return errors == 0 && mib > 0 ? 0 : 1;
}

struct Loop {
  size_t got = 0;  // reply bytes read so far
  bool connecting = true;
};

int connrate(const Args& a) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<char> msg(static_cast<size_t>(a.size), 'p');
  std::vector<char> buf(65536);
  std::map<int, Loop> loops;
  unsigned long long done = 0, done_at_start = 0, errors = 0;
  auto start = [&]() {
    int fd = connectTo(a.port);
    if (fd < 0) {
      ++errors;
      return;
    }
    loops[fd] = Loop{};
    watch(ep, fd, EPOLLOUT, EPOLL_CTL_ADD);
  };
  for (int i = 0; i < a.conns; ++i) start();
  double cpu_start = 0;
  auto t0 = Clock::now();
  Clock::time_point tm;
  bool measuring = false;
  epoll_event evs[256];
  while (true) {
    double el = secondsSince(t0);
    if (!measuring && el >= a.warmup) {
      measuring = true;
      done_at_start = done;
      cpu_start = cpuMicros(a.pid);
      tm = Clock::now();
    }
    if (el >= a.warmup + a.seconds) break;
    // A refused connect is retried, but never more than K starts per wait round.
    for (size_t missing = a.conns - loops.size(); missing > 0; --missing) start();
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      auto it = loops.find(fd);
      if (it == loops.end()) continue;
      Loop& l = it->second;
      bool ok = true, finished = false;
      if (l.connecting) {
        if ((evs[i].events & (EPOLLERR | EPOLLHUP)) || connectFailed(fd) ||
            send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
          ok = false;
        } else {
          l.connecting = false;
          watch(ep, fd, EPOLLIN, EPOLL_CTL_MOD);
        }
      } else {
        ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r > 0) {
          l.got += static_cast<size_t>(r);
          finished = l.got >= msg.size();
        } else if (r == 0 || errno != EAGAIN) {
          ok = false;
        }
      }
      if (!ok || finished) {
        if (finished)
          ++done;
        else
          ++errors;
        loops.erase(it);
        close(fd);
        start();
      }
    }
  }
  double window = measuring ? secondsSince(tm) : 0;
  double cpu = cpuMicros(a.pid) - cpu_start;
  double conns = static_cast<double>(done - done_at_start);
  for (auto& [fd, l] : loops) close(fd);
  std::printf(
      "conns=%.0f seconds=%.2f conn_per_s=%.0f cpu_us=%.0f cpu_us_per_conn=%.2f "
      "errors=%llu\n",
      conns, window, window > 0 ? conns / window : 0, cpu, conns > 0 ? cpu / conns : 0, errors);
  return conns > 0 ? 0 : 1;
}

// True once BUF holds one complete HTTP response (Content-Length bodies only: the backends).
bool httpComplete(const std::string& buf) {
  size_t head = buf.find("\r\n\r\n");
  if (head == std::string::npos) return false;
  size_t body = 0;
  for (const char* key : {"Content-Length:", "content-length:"}) {
    size_t p = buf.find(key);
    if (p != std::string::npos && p < head) body = std::strtoul(buf.c_str() + p + 15, nullptr, 10);
  }
  return buf.size() >= head + 4 + body;
}

int idle(const Args& a) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::string msg =
      a.http ? "GET " + a.path + " HTTP/1.1\r\nHost: bench\r\n\r\n" : std::string(64, 'i');
  std::vector<char> buf(65536);
  struct Session {
    bool connecting = true;
    std::string got;
  };
  std::map<int, Session> pending;  // opened, exchange not finished yet
  std::vector<int> idle_fds;
  int errors = 0, started = 0;
  const int kInFlight = 128;  // bounded concurrency keeps the accept queues short
  sleep(1);
  long rss_before = rssKib(a.pid);
  auto t0 = Clock::now();
  epoll_event evs[256];
  // Bounded: at most 60 s to open everything, whatever the proxy does.
  while ((started < a.count || !pending.empty()) && secondsSince(t0) < 60) {
    while (started < a.count && static_cast<int>(pending.size()) < kInFlight) {
      int fd = connectTo(a.port);
      ++started;
      if (fd < 0) {
        ++errors;
        continue;
      }
      pending[fd] = Session{};
      watch(ep, fd, EPOLLOUT, EPOLL_CTL_ADD);
    }
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      auto it = pending.find(fd);
      if (it == pending.end()) continue;
      Session& s = it->second;
      bool ok = true, finished = false;
      if (s.connecting) {
        if ((evs[i].events & (EPOLLERR | EPOLLHUP)) || connectFailed(fd) ||
            send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
          ok = false;
        } else {
          s.connecting = false;
          watch(ep, fd, EPOLLIN, EPOLL_CTL_MOD);
        }
      } else {
        ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r > 0) {
          s.got.append(buf.data(), static_cast<size_t>(r));
          finished = a.http ? httpComplete(s.got) : s.got.size() >= msg.size();
        } else if (r == 0 || errno != EAGAIN) {
          ok = false;
        }
      }
      if (finished) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        idle_fds.push_back(fd);
        pending.erase(it);
      } else if (!ok) {
        ++errors;
        close(fd);
        pending.erase(it);
      }
    }
  }
  double open_seconds = secondsSince(t0);
  sleep(1);  // let the proxy settle (deferred frees, buffer release after the exchange)
  long rss_after = rssKib(a.pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(a.hold));
  long rss_hold = rssKib(a.pid);
  if (rss_hold > rss_after) rss_after = rss_hold;
  size_t ok = idle_fds.size();
  std::printf(
      "sessions=%zu errors=%d open_seconds=%.1f rss_before_kib=%ld rss_after_kib=%ld "
      "kib_per_session=%.2f\n",
      ok, errors + static_cast<int>(pending.size()), open_seconds, rss_before, rss_after,
      ok > 0 ? static_cast<double>(rss_after - rss_before) / static_cast<double>(ok) : 0);
  for (int fd : idle_fds) close(fd);
  for (auto& [fd, s] : pending) close(fd);
  return ok > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Args a;
  if (argc < 2) {
    std::fprintf(stderr, "usage: l4_load throughput|connrate|idle --port P --pid PID [...]\n");
    return 2;
  }
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "l4_load: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--port")
      a.port = std::atoi(next());
    else if (k == "--pid")
      a.pid = std::atoi(next());
    else if (k == "--conns")
      a.conns = std::atoi(next());
    else if (k == "--seconds")
      a.seconds = std::atof(next());
    else if (k == "--warmup")
      a.warmup = std::atof(next());
    else if (k == "--chunk")
      a.chunk = std::atoi(next());
    else if (k == "--size")
      a.size = std::atoi(next());
    else if (k == "--count")
      a.count = std::atoi(next());
    else if (k == "--hold")
      a.hold = std::atof(next());
    else if (k == "--http")
      a.http = true;
    else if (k == "--path")
      a.path = next();
    else {
      std::fprintf(stderr, "l4_load: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (a.port <= 0 && a.mode != "stat") {
    std::fprintf(stderr, "l4_load: --port is required\n");
    return 2;
  }
  if (a.mode == "stat") {
    std::printf("cpu_us=%.0f rss_kib=%ld\n", cpuMicros(a.pid), rssKib(a.pid));
    return 0;
  }
  if (a.mode == "throughput") return throughput(a);
  if (a.mode == "connrate") return connrate(a);
  if (a.mode == "idle") return idle(a);
  std::fprintf(stderr, "l4_load: unknown mode %s\n", a.mode.c_str());
  return 2;
}
