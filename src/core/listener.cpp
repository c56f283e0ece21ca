#include "fulcrum/core/listener.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "fulcrum/core/access_log.h"
#include "fulcrum/core/connection_slot.h"
#include "fulcrum/core/log.h"
#include "fulcrum/core/worker.h"
#include "fulcrum/http/http_session.h"
#include "fulcrum/l4/tcp_session.h"

namespace fulcrum::core {

int createListenSocket(const sockaddr* address, socklen_t length, int backlog) {
  int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  // SO_REUSEPORT: every worker binds its own socket and the kernel spreads connections.
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  // "[::]:PORT" is dual-stack (IPv4 clients arrive as ::ffff:a.b.c.d), as the config's
  // overlap rule and its reference say, and as HAProxy binds it: set here, whatever the
  // system's net.ipv6.bindv6only default is.
  int zero = 0;
  if (address->sa_family == AF_INET6)
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  // Accepted sockets inherit TCP_NODELAY from the listening socket on Linux, which saves a
  // setsockopt per connection (the new-connection-per-request case pays for every syscall).
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::bind(fd, address, length) != 0 || ::listen(fd, backlog) != 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

WorkerListener::WorkerListener(Worker& worker, std::string address, uint32_t index)
    : worker_(worker), address_(std::move(address)), index_(index), id_(worker.newListenerId()) {}

WorkerListener::~WorkerListener() { stopAccepting(); }

void WorkerListener::stopAccepting() {
  resume_.reset();
  poll_.reset();  // out of epoll now; the descriptor can go
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int WorkerListener::open(int fd) {
  fd_ = fd;
  poll_ = makeHandle<uv_poll_t>();
  if (int rc = uv_poll_init(worker_.loop(), poll_.get(), fd); rc != 0) {
    poll_.reset();
    stopAccepting();
    return rc;
  }
  poll_->data = this;
  return uv_poll_start(poll_.get(), UV_READABLE, &onReadable);
}

void WorkerListener::setAcceptDeferral(bool on) {
  // A client that connects and stays silent is still accepted after the deferral, and
  // client_header handles it from there. nginx's `listen ... deferred` and HAProxy's
  // `defer-accept` set the same option. What it saves: the request is read straight after
  // accept (ClientSession::readFirstBytes), with no epoll round trip and, for a request that
  // closes its connection, no epoll_ctl.
  int seconds = on ? static_cast<int>(kAcceptDeferral.count()) : 0;
  if (seconds == defer_accept_ || fd_ < 0) return;
  if (::setsockopt(fd_, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) == 0) {
    defer_accept_ = seconds;
  } else {
    log::warn("listener {}: TCP_DEFER_ACCEPT: {}", address_, std::strerror(errno));
  }
}

void WorkerListener::onReadable(uv_poll_t* poll, int status, int) {
  auto* self = static_cast<WorkerListener*>(poll->data);
  if (self == nullptr) return;
  if (status < 0) {
    log::warn("listener {}: {}", self->address_, uv_strerror(status));
    return;
  }
  self->acceptPending();
}

void WorkerListener::acceptPending() {
  // A bounded batch per wake-up (the poll is level-triggered: the rest comes next turn), so
  // a connection storm does not hold up the sessions already open.
  constexpr int kMaxAcceptsPerWake = 64;
  for (int i = 0; i < kMaxAcceptsPerWake && fd_ >= 0; ++i) {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      startSession(fd);
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;  // that one is gone
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      pause(err);
    } else {
      log::warn("accept on {} failed: {}", address_, std::strerror(err));
    }
    return;
  }
}

void WorkerListener::pause(int err) {
  // The pending connections wait in the kernel's queue (or go to the other workers'
  // sockets) until descriptors are free again.
  uv_poll_stop(poll_.get());
  if (!resume_) {
    resume_ = makeHandle<uv_timer_t>();
    uv_timer_init(worker_.loop(), resume_.get());
    resume_->data = this;
  }
  uv_timer_start(
      resume_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<WorkerListener*>(t->data);
        if (self != nullptr && self->poll_)
          uv_poll_start(self->poll_.get(), UV_READABLE, &onReadable);
      },
      static_cast<uint64_t>(kAcceptPause.count()), 0);
  const uint64_t now = uv_now(worker_.loop());
  if (last_pause_log_ms_ == 0 || now - last_pause_log_ms_ >= 1000) {
    last_pause_log_ms_ = now;
    log::warn("accept on {} failed: {}: not accepting for {} ms (raise the open-file limit?)",
              address_, std::strerror(err), kAcceptPause.count());
  }
}

// A connection over the listener's max_connections, closed by the caller: an HTTP client is
// told why first (503), the operator hears of it (once a second), and the access log has its
// line with status 503, as nginx logs its limit_conn refusals (in http and in stream).
void WorkerListener::refuse(const ListenerRuntime& lr, const Snapshot& snapshot, uv_tcp_t* client) {
  const uint64_t now = uv_now(worker_.loop());
  if (last_limit_log_ms_ == 0 || now - last_limit_log_ms_ >= 1000) {
    last_limit_log_ms_ = now;
    log::warn("listener {} ({}): at its max_connections ({}): refusing new connections{}",
              lr.config->name, address_, lr.config->limits.max_connections,
              unlogged_refusals_ == 0
                  ? std::string()
                  : fmt::format(" ({} more refused since the last such warning)",
                                std::exchange(unlogged_refusals_, 0)));
  } else {
    ++unlogged_refusals_;
  }
  http::OverLimitRefusal refusal;
  if (lr.config->protocol == config::Protocol::kHttp)
    refusal = http::refuseOverLimit(client, worker_, lr);
  AccessLog& log = worker_.accessLog();
  if (!log.enabled()) return;
  sockaddr_storage peer{};
  int length = sizeof peer;
  bool known = uv_tcp_getpeername(client, reinterpret_cast<sockaddr*>(&peer), &length) == 0;
  AccessLogEntry e;
  e.time = std::chrono::system_clock::now();
  e.listener = lr.config->name;
  e.client = known ? reinterpret_cast<const sockaddr*>(&peer) : nullptr;
  e.method = refusal.method;
  e.path = refusal.path;
  e.status = 503;
  e.bytes_in = refusal.bytes_in;
  e.bytes_out = refusal.bytes_out;
  e.pool = snapshot.pools[lr.default_route.pool].pool().name();
  log.write(e);
}

void WorkerListener::startSession(int fd) {
  auto* client = new uv_tcp_t{};
  uv_tcp_init(worker_.loop(), client);
  if (uv_tcp_open(client, fd) != 0) {
    ::close(fd);
    closeAndDelete(client);
    return;
  }
  const WorkerSnapshotSharedPtr& ws = worker_.current();
  if (!ws || index_ >= ws->snapshot->listeners.size()) {
    closeAndDelete(client);
    return;
  }
  const ListenerRuntime& lr = ws->snapshot->listeners[index_];
  metrics::ListenerCell& cell = lr.stats->cell(worker_.id());
  int64_t open = lr.active_connections->fetch_add(1, std::memory_order_relaxed);
  cell.connections_total.add();
  cell.connections_active.add(1);
  ConnectionSlot slot(lr.active_connections, &cell);
  if (open >= static_cast<int64_t>(lr.config->limits.max_connections)) {
    refuse(lr, *ws->snapshot, client);
    closeAndDelete(client);
    return;
  }
  // Tagged with id_: a reload that removes this listener drains exactly its sessions.
  if (lr.config->protocol == config::Protocol::kTcp) {
    l4::startTcpSession(worker_, ws, {index_, id_}, client, std::move(slot));
  } else {
    http::startHttpSession(worker_, ws, {index_, id_}, client, std::move(slot), defer_accept_ > 0);
  }
}

}  // namespace fulcrum::core
