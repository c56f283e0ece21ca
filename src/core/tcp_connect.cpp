#include "fulcrum/core/tcp_connect.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <utility>

#include "fulcrum/core/access_log.h"
#include "fulcrum/core/log.h"
#include "fulcrum/core/uv_util.h"

namespace fulcrum::core {

namespace {

// A connect that failed before anything left this host: out of descriptors, local ports or
// kernel memory. Unlike a backend that refuses or times out (routine, logged at debug and
// counted per backend), it is the proxy's own limit, and every backend fails the same way: the
// operator has to hear of it. Once a second per worker at most, with the count in between.
void warnLocalConnectFailure(uv_loop_t* loop, const sockaddr* address, int rc) {
  if (rc != UV_EMFILE && rc != UV_ENFILE && rc != UV_ENOBUFS && rc != UV_ENOMEM &&
      rc != UV_EADDRNOTAVAIL)
    return;
  thread_local uint64_t last_ms = 0;
  thread_local uint64_t unreported = 0;
  uint64_t now = uv_now(loop);
  if (last_ms != 0 && now - last_ms < 1000) {
    ++unreported;
    return;
  }
  last_ms = now;
  log::warn(
      "connect to {} failed on this host: {}{} (raise the open-file limit, or the local "
      "port range, for the load?)",
      formatSockAddr(address), uv_strerror(rc),
      unreported == 0
          ? std::string()
          : fmt::format("; {} more since the last such warning", std::exchange(unreported, 0)));
}

}  // namespace

class ConnectAttempt {
 public:
  uv_connect_t req{};
  uv_tcp_t* tcp = nullptr;
  uv_timer_t* timer = nullptr;
  ConnectObserver* observer = nullptr;  // null once cancelled or finished
  int error = UV_ETIMEDOUT;             // reported when the timer fires first
  sockaddr_storage destination{};

  // Frees itself once the connect callback has run (it always runs, with UV_ECANCELED if
  // the handle is closed first).
  static void onConnect(uv_connect_t* req, int status) {
    auto* self = static_cast<ConnectAttempt*>(req->data);
    ConnectObserver* obs = self->observer;
    self->observer = nullptr;
    closeAndDelete(self->timer);
    self->timer = nullptr;
    uv_tcp_t* tcp = self->tcp;
    self->tcp = nullptr;
    if (status == 0 && connectedToItself(tcp, reinterpret_cast<sockaddr*>(&self->destination))) {
      // Nothing listens on the backend's port and the kernel picked that same port as our
      // source: TCP simultaneous open connected the socket to itself. It is a refused
      // connection; the reset keeps the 4-tuple out of TIME_WAIT, where it would stop the
      // backend from binding its port when it comes back.
      closeWithReset(tcp);
      tcp = nullptr;
      status = UV_ECONNREFUSED;
    }
    if (obs != nullptr && status == 0) {
      tcp->data = nullptr;
      delete self;
      obs->onConnected(tcp);
      return;
    }
    if (tcp != nullptr) closeAndDelete(tcp);
    delete self;
    if (obs != nullptr) obs->onConnectFailed(status);
  }

  static void onTimeout(uv_timer_t* timer) {
    auto* self = static_cast<ConnectAttempt*>(timer->data);
    if (self == nullptr) return;
    ConnectObserver* obs = self->observer;
    self->observer = nullptr;  // onConnect (UV_ECANCELED) will only clean up
    closeAndDelete(self->timer);
    self->timer = nullptr;
    bool connect_pending = self->tcp != nullptr && self->error == UV_ETIMEDOUT;
    closeAndDelete(self->tcp);
    self->tcp = nullptr;
    int error = self->error;
    // When uv_tcp_connect itself failed there is no connect callback to free us.
    if (!connect_pending) delete self;
    if (obs != nullptr) obs->onConnectFailed(error);
  }
};

bool connectedToItself(uv_tcp_t* handle, const sockaddr* destination) {
  sockaddr_storage local{};
  int length = sizeof local;
  if (uv_tcp_getsockname(handle, reinterpret_cast<sockaddr*>(&local), &length) != 0) return false;
  const auto* l = reinterpret_cast<const sockaddr*>(&local);
  if (l->sa_family != destination->sa_family) return false;
  if (l->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(l);
    const auto* b = reinterpret_cast<const sockaddr_in*>(destination);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (l->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(l);
    const auto* b = reinterpret_cast<const sockaddr_in6*>(destination);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
  }
  return false;
}

void closeWithReset(uv_tcp_t* handle) {
  handle->data = nullptr;
  if (uv_tcp_close_reset(handle, [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); }) !=
      0)
    closeAndDelete(handle);
}

ConnectAttempt* startConnect(uv_loop_t* loop, const sockaddr* address,
                             std::chrono::milliseconds timeout, ConnectObserver* observer,
                             const sockaddr* source) {
  auto* a = new ConnectAttempt;
  a->observer = observer;
  std::memcpy(&a->destination, address,
              address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  a->req.data = a;
  a->tcp = new uv_tcp_t{};
  uv_tcp_init(loop, a->tcp);
  int rc = source != nullptr ? uv_tcp_bind(a->tcp, source, 0) : 0;
  if (rc == 0) rc = uv_tcp_connect(&a->req, a->tcp, address, &ConnectAttempt::onConnect);
  a->timer = new uv_timer_t{};
  uv_timer_init(loop, a->timer);
  a->timer->data = a;
  if (rc != 0) {
    // No connect callback will run. Report from the next loop turn, never from inside the
    // caller (it may be in the middle of its own state change).
    a->error = rc;
    timeout = std::chrono::milliseconds(0);
    warnLocalConnectFailure(loop, address, rc);
  }
  uv_timer_start(a->timer, &ConnectAttempt::onTimeout, static_cast<uint64_t>(timeout.count()), 0);
  return a;
}

void cancelConnect(ConnectAttempt* attempt) {
  if (attempt == nullptr || attempt->observer == nullptr) return;
  attempt->observer = nullptr;
  closeAndDelete(attempt->timer);
  attempt->timer = nullptr;
  bool connect_pending = attempt->error == UV_ETIMEDOUT;
  closeAndDelete(attempt->tcp);  // a pending connect callback runs with UV_ECANCELED and frees
  attempt->tcp = nullptr;
  if (!connect_pending) delete attempt;
}

void tuneSocket(uv_tcp_t* handle) { uv_tcp_nodelay(handle, 1); }

namespace {
// A socket queue's size in bytes (SIOCOUTQ, FIONREAD); 0 when it cannot be asked.
size_t queuedBytes(const uv_tcp_t* handle, unsigned long request) {
  uv_os_fd_t fd;
  int n = 0;
  if (handle == nullptr || uv_fileno(reinterpret_cast<const uv_handle_t*>(handle), &fd) != 0 ||
      ioctl(fd, request, &n) != 0 || n < 0)
    return 0;
  return static_cast<size_t>(n);
}
}  // namespace

size_t unsentBytes(const uv_tcp_t* handle) { return queuedBytes(handle, SIOCOUTQ); }

size_t unreadBytes(const uv_tcp_t* handle) { return queuedBytes(handle, FIONREAD); }

int pendingError(const uv_stream_t* stream) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(stream), &fd) != 0) return 0;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return 0;
  return -err;
}

}  // namespace fulcrum::core
