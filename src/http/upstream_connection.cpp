#include "fulcrum/http/upstream_connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "fulcrum/config/config.h"
#include "fulcrum/core/tcp_connect.h"
#include "fulcrum/core/uv_util.h"
#include "fulcrum/core/worker.h"

namespace fulcrum::http {

namespace {
uv_stream_t* stream(uv_tcp_t* t) { return reinterpret_cast<uv_stream_t*>(t); }
}  // namespace

UpstreamConnection::UpstreamConnection(core::Worker& worker, uv_tcp_t* handle)
    : core::Session(worker), handle_(handle), writer_(worker.buffers(), this) {
  handle_->data = this;
  // The timer always exists: it serves the idle pool, and its close callback is where a
  // released connection frees itself (never inside the caller's callback).
  timer_ = &timer_storage_;
  uv_timer_init(worker.loop(), timer_);
  timer_->data = this;
  open_handles_ = 2;
  writer_.attach(stream(handle_));
}

UpstreamConnection::~UpstreamConnection() = default;

void UpstreamConnection::startReading() {
  if (reading_ || closing_ || released_) return;
  reading_ = true;
  uv_read_start(
      stream(handle_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<UpstreamConnection*>(h->data);
        // No buffer: libuv reads nothing and reports UV_ENOBUFS, which says "readable".
        if (self->splice_) {
          *buf = uv_buf_init(nullptr, 0);
          return;
        }
        self->worker().buffers().alloc(buf);
        if (self->read_limit_ != 0 && buf->len > self->read_limit_) buf->len = self->read_limit_;
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<UpstreamConnection*>(s->data)->onRead(nread, buf);
      });
}

int UpstreamConnection::fd() const {
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<const uv_handle_t*>(handle_), &fd);
  return fd;
}

bool UpstreamConnection::hasPendingInput() const {
  char byte;
  ssize_t n = ::recv(fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

void UpstreamConnection::stopReading() {
  if (!reading_ || closing_ || released_) return;
  reading_ = false;
  uv_read_stop(stream(handle_));
}

void UpstreamConnection::onRead(ssize_t nread, const uv_buf_t* buf) {
  core::Buffer* b = buf->base != nullptr ? core::BufferPool::fromBase(buf->base) : nullptr;
  // The buffer goes back to the pool when this scope ends, whatever the user does.
  auto give_back = [this](core::Buffer* x) { worker().buffers().release(x); };
  std::unique_ptr<core::Buffer, decltype(give_back)> guard(b, give_back);
  if (nread == 0 || closing_) return;
  if (nread == UV_ENOBUFS && splice_ && b == nullptr) {
    if (user_ != nullptr && idle_list_ == nullptr) {
      user_->onUpstreamReadable(*this);
    } else {
      splice_ = false;  // nobody to splice for: read it as usual on the next turn
    }
    return;
  }
  if (idle_list_ != nullptr) {
    // Idle: the backend closed it, or sent bytes nobody asked for. Either way it is done.
    close();
    return;
  }
  if (nread < 0) {
    // A reset that libuv reported as the end would end a close-delimited body as complete.
    int status = static_cast<int>(nread);
    if (status == UV_EOF) {
      if (int err = core::pendingError(stream(handle_))) status = err;
    }
    readFailed(status);
    return;
  }
  if (user_ != nullptr) user_->onUpstreamData(*this, *b, static_cast<size_t>(nread));
}

void UpstreamConnection::readFailed(int status) {
  UpstreamUser* user = user_;
  close();
  if (user != nullptr) user->onUpstreamClosed(*this, status);
}

void UpstreamConnection::onWriterDrained(StreamWriter&) {
  if (released_) {
    maybeDelete();
    return;
  }
  if (user_ != nullptr && !closing_) user_->onUpstreamDrained(*this);
}

void UpstreamConnection::onWriterError(StreamWriter&, int status) {
  if (closing_) return;  // released: the pending writes still report drained at 0
  writeFailed(status);
}

void UpstreamConnection::writeFailed(int status) {
  UpstreamUser* user = user_;
  close();
  if (user != nullptr) user->onUpstreamWriteError(*this, status);
}

uv_tcp_t* UpstreamConnection::release() {
  uv_tcp_t* h = handle_;
  stopReading();
  splice_ = false;
  writer_.detach();
  released_ = true;
  closing_ = true;
  user_ = nullptr;
  handle_ = nullptr;
  --open_handles_;
  unparkIdle();
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* t) {
    auto* self = static_cast<UpstreamConnection*>(t->data);
    self->timer_ = nullptr;  // embedded
    --self->open_handles_;
    self->maybeDelete();
  });
  // Writes already queued on the handle call back into writer_ later: stay until then.
  if (writer_.queued() > 0) writer_.waitForEmpty();
  return h;
}

void UpstreamConnection::close() {
  if (closing_) return;
  closing_ = true;
  user_ = nullptr;
  unparkIdle();
  auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<UpstreamConnection*>(h->data);
    if (h == reinterpret_cast<uv_handle_t*>(self->timer_)) {
      self->timer_ = nullptr;  // embedded
    } else {
      self->handle_ = nullptr;
      delete reinterpret_cast<uv_tcp_t*>(h);
    }
    --self->open_handles_;
    self->maybeDelete();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), on_close);
}

void UpstreamConnection::maybeDelete() {
  // Close callbacks run after every pending write callback, so open_handles_ == 0 is enough
  // for a closed connection; a released one also waits for its queued writes.
  if (open_handles_ == 0 && (!released_ || writer_.queued() == 0)) delete this;
}

void UpstreamConnection::drain() {
  if (idle_list_ != nullptr) close();
}

void UpstreamConnection::forceClose() {
  if (idle_list_ != nullptr) close();
  // A lent connection is closed by its HttpSession's own forceClose.
}

void UpstreamConnection::parkIdle(IdleList* list, std::chrono::milliseconds idle_timeout) {
  splice_ = false;
  read_limit_ = 0;
  idle_list_ = list;
  idle_prev = nullptr;
  idle_next = list->head;
  if (list->head != nullptr) list->head->idle_prev = this;
  list->head = this;
  ++list->count;
  user_ = nullptr;
  // A lazy deadline (core::armNoLaterThan), not stopped by unparkIdle: onIdleTimer checks it.
  idle_ms_ = static_cast<uint64_t>(std::max<int64_t>(idle_timeout.count(), 1));
  parked_at_ = uv_now(worker().loop());
  core::armNoLaterThan(timer_, &UpstreamConnection::onIdleTimer, idle_ms_);
  startReading();
}

size_t UpstreamConnection::unsentBytes() const { return core::unsentBytes(handle_); }

bool UpstreamConnection::stillOpen(bool always) {
  // A backend closes idle keep-alive connections on its own clock: its FIN can be in the
  // socket while its EOF event waits behind the client read this loop turn is handling, and a
  // request sent on such a connection fails (one with a body or a non-idempotent method is not
  // sent again). So a connection parked for a while is asked directly, with one MSG_PEEK recv:
  // 0 is that FIN, a byte is one nobody asked for. Busy connections come back sooner and cost
  // nothing, unless the request will not be sent again: a backend that closes right after its
  // response leaves a FIN that the next request can beat to the loop.
  if (!always && uv_now(worker().loop()) - parked_at_ < kProbeAfterMs) return true;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd) != 0) return false;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void UpstreamConnection::unparkIdle() {
  if (idle_list_ == nullptr) return;
  if (idle_prev != nullptr) idle_prev->idle_next = idle_next;
  if (idle_next != nullptr) idle_next->idle_prev = idle_prev;
  if (idle_list_->head == this) idle_list_->head = idle_next;
  --idle_list_->count;
  idle_list_ = nullptr;
  idle_prev = idle_next = nullptr;
}

void UpstreamConnection::onIdleTimer(uv_timer_t* timer) {
  auto* self = static_cast<UpstreamConnection*>(timer->data);
  if (self == nullptr || self->idle_list_ == nullptr || self->closing_) return;
  if (core::deadlinePassed(timer, &UpstreamConnection::onIdleTimer, self->parked_at_,
                           self->idle_ms_))
    self->close();
}

namespace {
// Worker-local: a worker is one thread. Lists are never erased, so their addresses are stable
// for the connections parked in them.
thread_local std::unordered_map<std::string, std::unique_ptr<IdleList>> t_pools;
// The keys of the worker's current config, once retainOnly has run on this thread, so that a
// list first made after a reload for a backend of an older snapshot (a session still on it)
// starts out retired.
thread_local std::optional<std::unordered_set<std::string>> t_live;
}  // namespace

IdleList* UpstreamPool::list(const std::string& key) {
  std::unique_ptr<IdleList>& list = t_pools[key];
  if (!list) {
    list = std::make_unique<IdleList>();
    list->retired = t_live && t_live->count(key) == 0;
  }
  return list.get();
}

void UpstreamPool::keyInto(std::string& out, std::string_view pool, std::string_view address) {
  out.clear();
  out.append(pool).append("|").append(address);
}

std::string UpstreamPool::key(std::string_view pool, std::string_view address) {
  std::string k;
  keyInto(k, pool, address);
  return k;
}

void UpstreamPool::retainOnly(const config::Config& config) {
  std::unordered_set<std::string> live;
  for (const auto& pool : config.pools)
    for (const auto& backend : pool.backends) live.insert(key(pool.name, backend.address.text));
  for (auto& [k, list] : t_pools) {
    list->retired = live.count(k) == 0;
    if (!list->retired) continue;
    // close() unparks the connection: the list shrinks each time.
    while (UpstreamConnection* c = list->head) c->close();
  }
  t_live = std::move(live);
}

void UpstreamPool::forgetConfig() {
  t_live.reset();
  for (auto& [k, list] : t_pools) list->retired = false;
}

UpstreamConnection* UpstreamPool::take(const std::string& key, bool final_attempt) {
  auto it = t_pools.find(key);
  return it == t_pools.end() ? nullptr : take(it->second.get(), final_attempt);
}

UpstreamConnection* UpstreamPool::take(IdleList* list, bool final_attempt) {
  while (UpstreamConnection* c = list->head) {
    // Reading stays armed for the borrower: stopping and restarting it costs epoll_ctl calls.
    c->unparkIdle();
    if (c->stillOpen(final_attempt)) return c;
    c->close();
  }
  return nullptr;
}

void UpstreamPool::put(const std::string& key, UpstreamConnection* c, size_t max_idle,
                       std::chrono::milliseconds idle_timeout) {
  if (c->closing()) return;
  put(list(key), c, max_idle, idle_timeout);
}

void UpstreamPool::put(IdleList* list, UpstreamConnection* c, size_t max_idle,
                       std::chrono::milliseconds idle_timeout) {
  if (c->closing()) return;
  // A retired list's backend left the config: parked, the connection would hold the backend's
  // socket open until timeouts.idle (or be lent to a session still on an old snapshot).
  if (max_idle == 0 || list->retired || c->worker().draining() || list->count >= max_idle) {
    c->close();
    return;
  }
  c->parkIdle(list, idle_timeout);
}

size_t UpstreamPool::idleCount(const std::string& key) {
  auto it = t_pools.find(key);
  return it == t_pools.end() ? 0 : it->second->count;
}

}  // namespace fulcrum::http
