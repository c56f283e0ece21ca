// ClientSession: the client socket, its timer and the session's lifecycle.
#include "fulcrum/http/client_session.h"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "fulcrum/core/listener.h"
#include "fulcrum/core/log.h"
#include "fulcrum/core/uv_util.h"

namespace fulcrum::http {

namespace {
using namespace std::chrono_literals;

uv_stream_t* stream(uv_tcp_t* t) { return reinterpret_cast<uv_stream_t*>(t); }

// Lingering close (nginx's lingering_timeout / lingering_time): after an early answer, unread
// client bytes are drained until the client goes quiet for kLingerQuietMs or kLingerMaxMs has
// passed since the answer went out, whichever comes first.
constexpr uint64_t kLingerQuietMs = 5'000;
constexpr uint64_t kLingerMaxMs = 30'000;
}  // namespace

ClientSession::ClientSession(core::Worker& worker, core::WorkerSnapshotSharedPtr snapshot,
                             core::AcceptedBy listener, uv_tcp_t* client, core::ConnectionSlot slot)
    : core::Session(worker, listener.id),
      ws_(std::move(snapshot)),
      listener_(&ws_->snapshot->listeners[listener.index]),
      client_(client),
      slot_(std::move(slot)),
      client_writer_(worker.buffers(), this),
      scratch_(workerScratch()) {
  client_->data = this;
  int len = sizeof client_addr_;
  if (uv_tcp_getpeername(client_, reinterpret_cast<sockaddr*>(&client_addr_), &len) != 0)
    client_addr_.sin6_family = AF_UNSPEC;
  client_ip_ = formatClientIp(clientAddr());
  timer_ = &timer_storage_;
  uv_timer_init(worker.loop(), timer_);
  timer_->data = this;
  open_handles_ = 2;
  client_writer_.attach(stream(client_));
}

ClientSession::~ClientSession() {
  if (state_ != nullptr) ExchangeState::give(state_);
}

RequestLimits ClientSession::requestLimits() const {
  return {listener_->config->limits.max_header_bytes, listener_->config->limits.max_body_bytes};
}

void ClientSession::takeState() { state_ = ExchangeState::take(requestLimits()); }

void ClientSession::releaseState() {
  if (state_ != nullptr) ExchangeState::give(std::exchange(state_, nullptr));
}

std::string& ClientSession::workerScratch() {
  static thread_local std::string scratch;
  return scratch;
}

const sockaddr* ClientSession::clientAddr() const {
  return client_addr_.sin6_family == AF_UNSPEC ? nullptr
                                               : reinterpret_cast<const sockaddr*>(&client_addr_);
}

void ClientSession::start(bool deferred) {
  // From the accept on: a client that sends nothing, or a head byte by byte, is cut off by
  // client_header (slowloris).
  head_started_us_ = eventUs();
  if (deferred) {
    readFirstBytes();
    return;
  }
  arm(Wait::kHeader, listener_->config->timeouts.client_header);
  updateClientRead();
}

// HTTP listeners defer accept until the client's first bytes are in (WorkerListener::
// setAcceptDeferral), so they are read here rather than after a trip through epoll. A request that
// arrives whole and asks to close after its response is then served without the socket ever
// being registered with epoll (two epoll_ctl calls per connection fewer). Nothing there (a
// silent client accepted at the end of the deferral): reading is armed as usual.
void ClientSession::readFirstBytes() {
  uv_buf_t buf;
  worker().buffers().alloc(&buf);
  uv_os_fd_t fd;
  ssize_t n = -1;
  int err = EBADF;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(client_), &fd) == 0) {
    n = ::recv(fd, buf.base, buf.len, 0);
    err = errno;
  }
  std::chrono::milliseconds header_timeout = listener_->config->timeouts.client_header;
  if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)) {
    worker().buffers().release(core::BufferPool::fromBase(buf.base));
    // A silent client, handed over at the end of the kernel's deferral: the second it has
    // already waited counts toward client_header, so that it is cut off when it would have
    // been without the deferral. (A client_header shorter than that has no deferral.)
    bool deferred = core::deferHttpAccept(header_timeout);
    arm(Wait::kHeader, deferred ? header_timeout - core::kAcceptDeferral : header_timeout);
    updateClientRead();
    return;
  }
  arm(Wait::kHeader, header_timeout);
  // As libuv would report it: bytes, UV_EOF, or -errno (libuv's error codes on Unix).
  onClientRead(n > 0 ? n : n == 0 ? UV_EOF : -err, &buf);
}

void ClientSession::updateClientRead() {
  if (phase_ == Phase::kLingering) return;  // reads to discard, on its own callback
  bool want = false;
  if (client_ != nullptr && held_ == nullptr && !client_writer_.failed()) {
    // Reading stays armed across requests (each stop/start costs epoll_ctl calls): bytes
    // that cannot be parsed yet are held, and holding stops reading. So a pipelining client
    // that does not read its responses stops being read after one buffer.
    if (phase_ == Phase::kHead) {
      want = true;
    } else if (phase_ == Phase::kExchange) {
      // Once the request is in, an EOF is remembered (onClientRead) and ends reading.
      // A request that closes the connection after its response starts no reading of its
      // own: nothing more may come (RFC 9112 9.6), and not reading keeps a socket that
      // never needed epoll out of it. Reading already armed stays (stopping costs too).
      want = ex().request_done ? !client_eof_ && (reading_ || !ex().close_after)
                               : upstream_ != nullptr && !upstream_->writer().aboveHighWatermark();
    }
  }
  if (!want) splice_request_ = false;
  if (want == reading_) return;
  reading_ = want;
  if (!want) {
    uv_read_stop(stream(client_));
    return;
  }
  uv_read_start(
      stream(client_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<ClientSession*>(h->data);
        // No buffer: libuv reads nothing and reports UV_ENOBUFS, which says "readable".
        if (self->splice_request_) {
          *buf = uv_buf_init(nullptr, 0);
          return;
        }
        self->worker().buffers().alloc(buf);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<ClientSession*>(s->data)->onClientRead(nread, buf);
      });
}

void ClientSession::onClientRead(ssize_t nread, const uv_buf_t* buf) {
  core::Buffer* b = buf->base != nullptr ? core::BufferPool::fromBase(buf->base) : nullptr;
  if (nread == UV_ENOBUFS && b == nullptr && splice_request_) {
    onClientReadable();
    return;
  }
  if (nread <= 0 || held_ != nullptr || phase_ == Phase::kClosing) {
    worker().buffers().release(b);
    if (nread == 0 || phase_ == Phase::kClosing) return;
    if (nread > 0) {  // cannot happen: reading stops while bytes are held
      log::error("http {}: read while holding input", listener_->config->name);
      closeNow();
      return;
    }
    // EOF or error from the client. A request cut short aborts its exchange; otherwise what
    // is already being written still goes out (a half-closing client gets its response).
    // A reset cannot be a half-close: nobody is left to read the answer, so the exchange
    // and its backend connection end now (nginx's 499), not when the backend answers.
    if (phase_ == Phase::kExchange && nread != UV_EOF) {
      closeNow();
      return;
    }
    if (phase_ == Phase::kExchange && ex().request_done && !ex().response_done) {
      // Reading was left armed while the response is awaited: finish it, then close.
      client_eof_ = true;
      ex().close_after = true;
      reading_ = false;
      uv_read_stop(stream(client_));
      return;
    }
    if (phase_ == Phase::kExchange && !ex().request_done) {
      closeNow();
    } else {
      closeAfterFlush();
    }
    return;
  }
  if (metrics::ListenerCell* cell = slot_.cell())
    cell->bytes_received.add(static_cast<uint64_t>(nread));
  progress();
  held_ = b;
  held_off_ = 0;
  held_len_ = static_cast<size_t>(nread);
  processInput();
}

void ClientSession::consumeHeld(size_t n) {
  held_off_ += n;
  held_len_ -= n;
  if (held_len_ == 0 && held_ != nullptr) {
    worker().buffers().release(held_);
    held_ = nullptr;
  }
}

// Feeds held client bytes to the parser for as long as the current phase can use them.
void ClientSession::processInput() {
  if (in_process_) return;  // the outer call's loop picks up the new state
  in_process_ = true;
  for (;;) {
    if (phase_ == Phase::kHead) {
      if (held_ == nullptr || client_writer_.aboveHighWatermark()) break;
      if (wait_ == Wait::kIdle) {  // the first byte of the connection's next request
        refreshSnapshot();
        arm(Wait::kHeader, listener_->config->timeouts.client_header);
        head_started_us_ = eventUs();
      }
      RequestParser::Result r = parser().feed(held_->data + held_off_, held_len_, nullptr);
      consumeHeld(r.consumed);
      request_bytes_ += r.consumed;
      if (r.status == RequestParser::Status::kError) {
        // The log counts what arrived of a refused request, not only what was parsed of it
        // (the rest of it is never read as a request: the connection closes).
        if (held_ != nullptr) request_bytes_ += held_len_;
        sendError(parser().error().status, parser().error().reason);
        break;
      }
      if (r.status == RequestParser::Status::kHeadComplete) beginExchange();
      continue;
    }
    if (phase_ == Phase::kExchange && !ex().request_done) {
      if (upstream_ == nullptr || upstream_->writer().aboveHighWatermark()) break;
      const char* data = held_ != nullptr ? held_->data + held_off_ : nullptr;
      size_t length = held_ != nullptr ? held_len_ : 0;
      RequestParser::Result r = parser().feed(data, length, this);
      if (held_ != nullptr) consumeHeld(r.consumed);
      request_bytes_ += r.consumed;
      if (r.status == RequestParser::Status::kError) {
        if (held_ != nullptr) request_bytes_ += held_len_;
        // Checked before flushing: a head and a bad body that arrived together never reach
        // the backend (the unflushed bytes die with the connection).
        failExchange(parser().error().status, parser().error().reason);
        break;
      }
      if (upstream_ != nullptr) upstream_->writer().flush();
      if (r.status == RequestParser::Status::kMessageComplete) {
        onRequestDone();
        continue;
      }
      if (held_ == nullptr) break;
      continue;
    }
    break;
  }
  in_process_ = false;
  if (phase_ == Phase::kExchange) maybeSpliceRequest();
  if (phase_ != Phase::kClosing && phase_ != Phase::kTunnel) updateClientRead();
}

void ClientSession::arm(Wait wait, std::chrono::milliseconds timeout) {
  if (timer_ == nullptr) return;
  wait_ = wait;
  // A lazy deadline (core::armNoLaterThan): a session changes waits several times per
  // request. A timer that fires early (or with kNone) finds the current deadline in onTimer.
  if (wait == Wait::kNone) return;
  wait_ms_ = static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 1));
  armed_at_ = uv_now(worker().loop());
  last_progress_ = armed_at_;
  core::armNoLaterThan(timer_, &ClientSession::onTimer, wait_ms_);
}

void ClientSession::extendStreamWait(std::chrono::milliseconds timeout) {
  if (timer_ == nullptr) return;
  wait_ = Wait::kStream;
  wait_ms_ = static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 1));
  const uint64_t waited = uv_now(worker().loop()) - last_progress_;
  core::armNoLaterThan(timer_, &ClientSession::onTimer, wait_ms_ > waited ? wait_ms_ - waited : 1);
}

void ClientSession::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<ClientSession*>(timer->data);
  if (self == nullptr || self->wait_ == Wait::kNone) return;
  // kStream is an inactivity timeout: progress() moved last_progress_ forward. The others
  // run from when they were armed (the timer may be left over from an earlier wait).
  uint64_t since = self->wait_ == Wait::kStream ? self->last_progress_ : self->armed_at_;
  if (!core::deadlinePassed(timer, &ClientSession::onTimer, since, self->wait_ms_)) return;
  Wait wait = self->wait_;
  self->wait_ = Wait::kNone;
  self->onTimeout(wait);
}

void ClientSession::onTimeout(Wait wait) {
  switch (phase_) {
    case Phase::kHead:
      if (wait == Wait::kHeader) {
        sendError(408, "client_header timeout");
      } else {
        closeAfterFlush();  // idle keep-alive connection
      }
      return;
    case Phase::kExchange:
      if (ex().head_sent) {
        if (clientStillReading()) return;
        // Mid-response: the only honest ending is to cut the connection.
        releaseMember(true, 0);
        cutResponse();
      } else if (ex().request_done || ex().response_started) {
        if (!ex().response_started && requestStillDelivering()) return;
        failExchange(504, wait == Wait::kResponse ? "response timeout" : "upstream idle");
      } else {
        uploadStalled();
      }
      return;
    case Phase::kFlushing:
      closeNow();  // a client that does not read what is left
      return;
    case Phase::kLingering:
      closeNow();  // quiet for kLingerQuietMs
      return;
    case Phase::kConnecting:
    case Phase::kTunnel:
    case Phase::kClosing:
      return;
  }
}

bool ClientSession::clientStillReading() {
  // No response byte moved for the wait. When the bytes wait on the client (it reads slower
  // than the backend sends, so reading the backend stopped at the writer's high watermark),
  // the stall is the client's, not the backend's: it gets the listener's client_idle to take
  // bytes (nginx's send_timeout), not the pool's idle, which is for a backend that stops
  // sending. As in waitOnBackendReading, the kernel's send queue tells whether the client
  // reads at all: while it moves, the wait starts again. True while the wait goes on.
  if (client_writer_.queued() == 0) return false;  // nothing waits on the client
  size_t unsent = client_writer_.queued() + core::unsentBytes(client_);
  if (unsent == ex().client_unsent_at_check) return false;  // not a byte for client_idle
  ex().client_unsent_at_check = unsent;
  arm(Wait::kStream, listener_->config->timeouts.client_idle);
  return true;
}

size_t ClientSession::requestBytesUnsent() const {
  return upstream_ != nullptr ? upstream_->unsentBytes() + upstream_->writer().queued() : 0;
}

void ClientSession::waitOnBackendReading(Wait wait, std::chrono::milliseconds period,
                                         size_t unsent) {
  // Write completions are a poor sign of progress here: a backend that reads slowly drains a
  // send buffer of megabytes without the socket turning writable for seconds. So the kernel's
  // send queue is asked: if it moved since the last check, the backend is reading and the wait
  // starts again. (The first check has nothing to compare with, so a backend that reads
  // nothing is a 504 after two periods.) The client's bytes wait on the backend: its stall,
  // not the client's (and a client still sending gets the answer through a lingering close).
  if (unsent == ex().unsent_at_check) {
    failExchange(504, "backend stopped reading the request body");
    return;
  }
  ex().unsent_at_check = unsent;
  arm(wait, period);
}

bool ClientSession::requestStillDelivering() {
  // The whole request went into the upstream socket, but megabytes of it can still wait in
  // the kernel's buffers for a backend that reads slowly: timeouts.response is for a backend
  // that has the request, so it starts once the send queue is empty. Until then this is an
  // upload, checked every min(idle, response). The response timeout starts at most one
  // period after the queue emptied. True while the wait goes on (or the exchange ended here).
  const auto& timeouts = ex().pool->config().timeouts;
  if (size_t unsent = requestBytesUnsent(); unsent != 0) {
    waitOnBackendReading(Wait::kResponse, std::min(timeouts.idle, timeouts.response), unsent);
    return true;
  }
  if (ex().unsent_at_check != 0) {  // the backend took the rest since the last check
    ex().unsent_at_check = 0;
    arm(Wait::kResponse, timeouts.response);
    return true;
  }
  return false;
}

void ClientSession::uploadStalled() {
  // No request body byte moved for the shorter of the two timeouts. The backend's stall while
  // it has bytes to take: it has the pool's idle. Else the client's: it has the listener's
  // client_idle, as when it stops reading a download (HAProxy's `timeout client` covers both).
  if (size_t unsent = requestBytesUnsent(); unsent != 0) {
    waitOnBackendReading(Wait::kStream, ex().pool->config().timeouts.idle, unsent);
    return;
  }
  const auto client_idle = listener_->config->timeouts.client_idle;
  if (uv_now(worker().loop()) - last_progress_ < static_cast<uint64_t>(client_idle.count())) {
    extendStreamWait(client_idle);  // the pool's idle was the shorter: the client has the rest
    return;
  }
  failExchange(408, "request body stalled");
}

void ClientSession::closeAfterFlush(bool linger) {
  if (phase_ == Phase::kClosing || phase_ == Phase::kFlushing || phase_ == Phase::kLingering)
    return;
  recordUnfinished();
  if (attempt_ != nullptr) {
    core::cancelConnect(attempt_);
    attempt_ = nullptr;
  }
  dropUpstream(false);
  phase_ = Phase::kFlushing;
  // Bytes the client sent that will never be parsed: closing with them unread would reset.
  linger_ = (linger || held_ != nullptr) && !client_eof_;
  if (reading_) {
    reading_ = false;
    uv_read_stop(stream(client_));
  }
  // Whatever follows (closeNow, or startLingering's shutdown) sends the FIN before the loop
  // runs again.
  client_writer_.flushBeforeFin();
  if (client_writer_.failed()) {
    closeNow();
    return;
  }
  if (client_writer_.queued() == 0) {
    flushed();
    return;
  }
  client_writer_.waitForEmpty();
  arm(Wait::kStream, listener_->config->timeouts.client_idle);
}

void ClientSession::flushed() {
  if (linger_) {
    startLingering();
  } else {
    closeNow();
  }
}

// The answer is written whole. A close() now, with client bytes unread in the kernel (the rest
// of a refused upload, pipelined requests), would send a RST, and a RST makes the client's
// kernel drop the answer it has not read yet: the client sees "connection reset" instead of
// the 413. So: FIN first (the client reads the answer, then EOF), then read and discard until
// the client closes too, goes quiet or the time is up.
void ClientSession::startLingering() {
  if (draining_) {  // shutting down: the answer is out, do not hold the process up
    closeNow();
    return;
  }
  phase_ = Phase::kLingering;
  if (held_ != nullptr) {
    worker().buffers().release(held_);
    held_ = nullptr;
  }
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(client_), &fd) != 0 ||
      ::shutdown(fd, SHUT_WR) != 0) {
    closeNow();
    return;
  }
  linger_since_ = uv_now(worker().loop());
  arm(Wait::kStream, std::chrono::milliseconds(kLingerQuietMs));
  reading_ = true;
  core::readIntoPool<ClientSession, &ClientSession::onLingerRead>(stream(client_));
}

void ClientSession::onLingerRead(ssize_t nread, const uv_buf_t* buf) {
  if (buf->base != nullptr) worker().buffers().release(core::BufferPool::fromBase(buf->base));
  if (nread == 0 || phase_ != Phase::kLingering) return;
  if (nread < 0) {  // the client closed (or reset): done
    closeNow();
    return;
  }
  // Received, if not parsed: the bytes the client sent count in full.
  if (metrics::ListenerCell* cell = slot_.cell())
    cell->bytes_received.add(static_cast<uint64_t>(nread));
  progress();
  if (uv_now(worker().loop()) - linger_since_ >= kLingerMaxMs) closeNow();
}

void ClientSession::closeNow() {
  if (phase_ == Phase::kClosing) return;
  if (phase_ == Phase::kTunnel) {
    // The pump owns both sockets and calls back into this session until it has closed them.
    if (pump_) pump_->close(l4::CloseReason::kClosed);
    return;
  }
  recordUnfinished();
  phase_ = Phase::kClosing;
  wait_ = Wait::kNone;
  if (attempt_ != nullptr) {
    core::cancelConnect(attempt_);
    attempt_ = nullptr;
  }
  dropUpstream(false);
  abandonMember();
  if (held_ != nullptr) {
    worker().buffers().release(held_);
    held_ = nullptr;
  }
  reportBytesSent();
  auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<ClientSession*>(h->data);
    if (h == reinterpret_cast<uv_handle_t*>(self->timer_)) {
      self->timer_ = nullptr;  // embedded in the session
    } else {
      delete reinterpret_cast<uv_tcp_t*>(h);
    }
    self->onHandleClosed();
  };
  if (timer_ != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(timer_), on_close);
  if (client_ != nullptr) {
    uv_tcp_t* c = client_;
    client_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(c), on_close);
  }
}

void ClientSession::cutResponse() {
  // A close-delimited body (an HTTP/1.0 client's) ends at the FIN: a plain close would make
  // the cut response look complete. A reset (SO_LINGER 0) cannot be mistaken for its end.
  uv_os_fd_t fd;
  if (ex().out_framing == BodyFraming::kUntilClose && client_ != nullptr &&
      uv_fileno(reinterpret_cast<uv_handle_t*>(client_), &fd) == 0) {
    linger abort{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  closeNow();
}

void ClientSession::recordUnfinished() {
  if ((phase_ != Phase::kConnecting && phase_ != Phase::kExchange) || !ex().has_head ||
      ex().recorded)
    return;
  // The status the client saw: the backend's when its head went out, else 499 (nginx's
  // "client closed request": nothing was answered).
  uint16_t status = ex().head_sent ? ex().status : 499;
  recordRequest(status);
  writeAccessLog(status, /*closing=*/true);
}

void ClientSession::onHandleClosed() {
  // Pending client writes have called back (UV_ECANCELED) before the close callbacks.
  if (--open_handles_ == 0) delete this;
}

void ClientSession::snapshotChanged() {
  // Between requests (an idle keep-alive connection): what the next request would do now.
  if (phase_ == Phase::kHead && betweenRequests() && held_ == nullptr) refreshSnapshot();
}

void ClientSession::refreshSnapshot() {
  const core::WorkerSnapshotSharedPtr& current = worker().current();
  if (!current || current == ws_) return;
  // New requests use the newest configuration; the listener is found again by address
  // (its index may have moved). A listener that is gone keeps its old snapshot.
  for (const core::ListenerRuntime& l : current->snapshot->listeners) {
    if (l.config->listen.socketKey() == listener_->config->listen.socketKey() &&
        l.config->protocol == config::Protocol::kHttp) {
      ws_ = current;
      listener_ = &l;
      if (state_ != nullptr) state_->request.setLimits(requestLimits());
      return;
    }
  }
}

void ClientSession::onWriterDrained(StreamWriter&) {
  progress();  // a slow but reading client is not idle
  if (phase_ == Phase::kFlushing) {
    if (client_writer_.queued() == 0) flushed();
    return;
  }
  if (phase_ == Phase::kExchange && upstream_ != nullptr) {
    upstream_->startReading();
    // The client caught up: a stall from here on is the backend's again.
    if (ex().response_started && !ex().response_done && wait_ == Wait::kStream)
      arm(Wait::kStream, ex().pool->config().timeouts.idle);
  }
  if (phase_ == Phase::kHead || phase_ == Phase::kExchange) processInput();
}

void ClientSession::onWriterError(StreamWriter&, int) {
  if (phase_ == Phase::kTunnel || phase_ == Phase::kClosing) return;
  closeNow();  // the client went away: no sample for the backend
}

void ClientSession::drain() {
  draining_ = true;
  if (phase_ == Phase::kLingering) {
    closeNow();  // its answer is out: nothing of value is left to wait for
  } else if (phase_ == Phase::kHead && betweenRequests() && held_ == nullptr) {
    // An idle keep-alive connection. A request its client sent before it could know may wait
    // unread in the socket: closed now, it would be lost to a reset. It is read and served
    // (with Connection: close, as every request while draining), as HAProxy does; only a
    // connection with nothing waiting is closed at once.
    if (core::unreadBytes(client_) > 0) return;
    closeAfterFlush();
  } else if (phase_ == Phase::kConnecting || phase_ == Phase::kExchange) {
    ex().close_after = true;  // finish the request in flight, then close
  }
}

void ClientSession::forceClose() {
  if (phase_ == Phase::kTunnel) {
    if (pump_) pump_->close(l4::CloseReason::kClosed);
    return;
  }
  closeNow();
}

}  // namespace fulcrum::http
