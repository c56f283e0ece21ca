#include "fulcrum/core/listener.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

void WorkerListener::stopAccepting() { handle_.reset(); }

int WorkerListener::open(int fd) {
  handle_ = makeHandle<uv_tcp_t>();
  uv_tcp_init(worker_.loop(), handle_.get());
  handle_->data = this;
  if (int rc = uv_tcp_open(handle_.get(), fd); rc != 0) {
    ::close(fd);
    handle_.reset();
    return rc;
  }
  return uv_listen(reinterpret_cast<uv_stream_t*>(handle_.get()), 4096, &onConnection);
}

void WorkerListener::setAcceptDeferral(bool on) {
  // A client that connects and stays silent is still accepted after the deferral, and
  // client_header handles it from there. nginx's `listen ... deferred` and HAProxy's
  // `defer-accept` set the same option. What it saves: the request is read straight after
  // accept (ClientSession::readFirstBytes), with no epoll round trip and, for a request that
  // closes its connection, no epoll_ctl.
  int seconds = on ? static_cast<int>(kAcceptDeferral.count()) : 0;
  uv_os_fd_t fd;
  if (seconds == defer_accept_ || !handle_ ||
      uv_fileno(reinterpret_cast<uv_handle_t*>(handle_.get()), &fd) != 0)
    return;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) == 0) {
    defer_accept_ = seconds;
  } else {
    log::warn("listener {}: TCP_DEFER_ACCEPT: {}", address_, std::strerror(errno));
  }
}

void WorkerListener::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<WorkerListener*>(server->data);
  if (self == nullptr) return;
  if (status < 0) {
    log::warn("accept on {} failed: {}", self->address_, uv_strerror(status));
    return;
  }
  self->accept();
}

void WorkerListener::accept() {
  auto* client = new uv_tcp_t{};
  uv_tcp_init(worker_.loop(), client);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(handle_.get()),
                reinterpret_cast<uv_stream_t*>(client)) != 0) {
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
    // Over the limit: close at once (a TCP client sees a reset-free close).
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
