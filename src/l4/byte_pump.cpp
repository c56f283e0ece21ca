#include "fulcrum/l4/byte_pump.h"

#include <sys/socket.h>

#include <cstring>

#include "fulcrum/core/tcp_connect.h"
#include "fulcrum/core/uv_util.h"
#include "fulcrum/core/worker.h"

namespace fulcrum::l4 {

const char* closeReasonName(CloseReason reason) {
  switch (reason) {
    case CloseReason::kDone:
      return "done";
    case CloseReason::kDownstreamError:
      return "downstream_error";
    case CloseReason::kUpstreamError:
      return "upstream_error";
    case CloseReason::kIdleTimeout:
      return "idle_timeout";
    case CloseReason::kClosed:
      return "closed";
  }
  return "?";
}

namespace {
// Data pointer of both handles: the pump. Direction is found by comparing handles.
uv_stream_t* stream(uv_tcp_t* t) { return reinterpret_cast<uv_stream_t*>(t); }
}  // namespace

BytePump::BytePump(core::Worker& worker, uv_tcp_t* downstream, uv_tcp_t* upstream,
                   std::chrono::milliseconds idle_timeout, PumpObserver* observer)
    : worker_(worker), observer_(observer), idle_timeout_(idle_timeout) {
  dirs_[0].from = downstream;
  dirs_[0].to = upstream;
  dirs_[1].from = upstream;
  dirs_[1].to = downstream;
  downstream->data = this;
  upstream->data = this;
  open_handles_ = 2;
}

BytePump::~BytePump() {
  // Normally fail() closed it; never leave an armed timer pointing at a freed pump (an armed
  // handle also keeps the worker's loop, and so a draining process, alive).
  core::closeAndDelete(idle_timer_);
}

BytePump::Direction& BytePump::dirFor(uv_stream_t* from) {
  return stream(dirs_[0].from) == from ? dirs_[0] : dirs_[1];
}

void BytePump::pushToUpstream(const char* data, size_t length) { push(dirs_[0], data, length); }
void BytePump::pushToDownstream(const char* data, size_t length) { push(dirs_[1], data, length); }

void BytePump::push(Direction& dir, const char* data, size_t length) {
  while (length > 0 && !closing_) {
    core::Buffer* b = worker_.buffers().acquire();
    size_t n = std::min(length, core::Buffer::kCapacity);
    std::memcpy(b->data, data, n);
    b->length = n;
    dir.bytes += n;
    uv_buf_t buf = uv_buf_init(b->data, static_cast<unsigned>(n));
    if (!queueWrite(dir, b, &buf, 1)) return;
    data += n;
    length -= n;
  }
}

void BytePump::onWriteCb(uv_write_t* req, int status) {
  core::Buffer* buffer = core::Buffer::fromWrite(req);
  auto* self = static_cast<BytePump*>(buffer->owner);
  // req->handle is the destination; map it back to the direction writing into it.
  Direction& d = (stream(self->dirs_[0].to) == req->handle) ? self->dirs_[0] : self->dirs_[1];
  self->onWriteDone(d, buffer, status);
}

void BytePump::start() {
  // A push before start() can already have failed (the client went away while the 101 was
  // being relayed): the handles are closing, so arm nothing.
  if (closing_) return;
  if (idle_timeout_.count() > 0) {
    idle_timer_ = new uv_timer_t{};
    uv_timer_init(worker_.loop(), idle_timer_);
    idle_timer_->data = this;
    // A lazy deadline (core::deadlinePassed): a touch per read stays one store, and the pump
    // still ends idle_timeout after the last byte (a repeating timer that only looked at the
    // clock on each tick let a tunnel live up to twice the timeout).
    uv_timer_start(idle_timer_, &BytePump::onIdleTimer,
                   static_cast<uint64_t>(idle_timeout_.count()), 0);
  }
  touch();
  startReading(dirs_[0]);
  startReading(dirs_[1]);
}

void BytePump::touch() { last_activity_ = uv_now(worker_.loop()); }

void BytePump::onIdleTimer(uv_timer_t* timer) {
  auto* self = static_cast<BytePump*>(timer->data);
  if (self == nullptr || self->closing_) return;
  if (core::deadlinePassed(timer, &BytePump::onIdleTimer, self->last_activity_,
                           static_cast<uint64_t>(self->idle_timeout_.count())))
    self->fail(CloseReason::kIdleTimeout);
}

void BytePump::startReading(Direction& dir) {
  if (dir.reading || dir.eof || closing_) return;
  dir.reading = true;
  uv_read_start(
      stream(dir.from),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<BytePump*>(h->data);
        // No buffer: libuv reads nothing and reports UV_ENOBUFS, which says "readable".
        if (self->splices(self->dirFor(reinterpret_cast<uv_stream_t*>(h)))) {
          *buf = uv_buf_init(nullptr, 0);
          return;
        }
        self->worker_.buffers().alloc(buf);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* self = static_cast<BytePump*>(s->data);
        self->onRead(self->dirFor(s), nread, buf);
      });
}

void BytePump::onRead(Direction& dir, ssize_t nread, const uv_buf_t* buf) {
  core::Buffer* b = buf->base != nullptr ? core::BufferPool::fromBase(buf->base) : nullptr;
  if (nread == UV_ENOBUFS && b == nullptr) {
    if (!closing_) onSpliceable(dir);
    return;
  }
  if (nread == 0 || closing_) {  // EAGAIN, or closing: nothing to forward
    worker_.buffers().release(b);
    return;
  }
  if (nread < 0) {
    worker_.buffers().release(b);
    // A reset that libuv reported as the end (core::pendingError) is a failure, not a
    // half-close to pass on.
    if (nread == UV_EOF && core::pendingError(stream(dir.from)) == 0) {
      dir.eof = true;
      dir.reading = false;
      uv_read_stop(stream(dir.from));
      maybeShutdown(dir);
      maybeFinish();
    } else {
      fail(errorOf(dir, false));
    }
    return;
  }
  received(dir, static_cast<size_t>(nread));
  dir.bulk = static_cast<size_t>(nread) == buf->len;  // filled: more is probably waiting
  uv_buf_t out = uv_buf_init(b->data, static_cast<unsigned>(nread));
  uv_buf_t* rest = &out;
  unsigned pieces = 1;
  if (dir.queued == 0) {
    // Nothing of ours is queued on `to` (only this direction writes to it), so the bytes can
    // go out now, in order. A write libuv completes synchronously still costs a deferred
    // callback and an epoll_ctl on `to` afterwards; this one costs neither. Errors are left
    // to uv_write below, which sees them again and reports them the usual way.
    int w = uv_try_write(stream(dir.to), &out, 1);
    if (w > 0) delivered(dir, static_cast<size_t>(w));
    if (w == nread) {
      worker_.buffers().release(b);
      return;
    }
    if (w > 0) core::skipWritten(rest, pieces, static_cast<size_t>(w));
  }
  // Zero copy: the buffer we read into is the one we write from (what the socket did not take).
  b->length = rest->len;
  if (queueWrite(dir, b, rest, pieces)) holdIfBacklogged(dir);
}

bool BytePump::queueWrite(Direction& dir, core::Buffer* b, uv_buf_t* bufs, unsigned n) {
  b->owner = this;
  dir.queued += b->length;
  if (uv_write(&b->write_req, stream(dir.to), bufs, n, &onWriteCb) == 0) return true;
  dir.queued -= b->length;
  worker_.buffers().release(b);
  fail(errorOf(dir, true));
  return false;
}

void BytePump::holdIfBacklogged(Direction& dir) {
  // Backpressure: the destination is not keeping up; stop reading the source.
  if (dir.queued > kHighWatermark && dir.reading) {
    dir.reading = false;
    uv_read_stop(stream(dir.from));
  }
}

CloseReason BytePump::errorOf(const Direction& dir, bool writing) const {
  // Reading downstream -> upstream fails on the client's side, writing it on the backend's.
  const bool client_side = (&dir == &dirs_[0]) != writing;
  return client_side ? CloseReason::kDownstreamError : CloseReason::kUpstreamError;
}

void BytePump::onSpliceable(Direction& dir) {
  core::SplicePipe* pipe = core::SplicePipe::local();
  if (pipe == nullptr || !splices(dir)) {
    dir.bulk = false;  // the next turn reads as usual
    return;
  }
  uv_os_fd_t from = -1, to = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(dir.from), &from);
  uv_fileno(reinterpret_cast<uv_handle_t*>(dir.to), &to);
  const core::SplicePipe::Moved m = pipe->move(from, to, pipe->capacity());
  if (m.in > 0) received(dir, m.in);
  if (m.out > 0) delivered(dir, m.out);
  if (m.dest_error != 0) {
    fail(errorOf(dir, true));
    return;
  }
  if (m.source_error != 0) {
    fail(errorOf(dir, false));  // a reset: not the EOF a read after it would find
    return;
  }
  if (m.out < m.in) queueFromPipe(dir, *pipe);  // `to` is full: the rest waits in our buffers
  if (m.source_done) {
    dir.no_splice = true;  // EOF: a plain read reports it on the next turn
  } else if (m.in < core::Buffer::kCapacity) {
    dir.bulk = false;  // the burst is over: small reads again
  }
}

void BytePump::queueFromPipe(Direction& dir, core::SplicePipe& pipe) {
  while (pipe.pending() > 0 && !closing_) {
    core::Buffer* b = worker_.buffers().acquire();
    b->length = pipe.readBack(b->data, core::Buffer::kCapacity);
    if (b->length == 0) {  // cannot happen with bytes pending; never spin on it
      worker_.buffers().release(b);
      fail(errorOf(dir, true));
      return;
    }
    uv_buf_t buf = uv_buf_init(b->data, static_cast<unsigned>(b->length));
    if (!queueWrite(dir, b, &buf, 1)) return;
  }
  holdIfBacklogged(dir);
}

void BytePump::received(Direction& dir, size_t n) {
  touch();
  dir.bytes += n;
  if (&dir == &dirs_[0]) observer_->onPumpBytes(true, n);  // from the client
}

void BytePump::delivered(Direction& dir, size_t n) {
  dir.delivered += n;
  if (&dir == &dirs_[1]) observer_->onPumpBytes(false, n);  // to the client
}

void BytePump::onWriteDone(Direction& dir, core::Buffer* buffer, int status) {
  dir.queued -= buffer->length;
  // While closing, fail() has counted what went out (partly written writes included).
  if (status == 0 && !closing_) delivered(dir, buffer->length);
  worker_.buffers().release(buffer);
  if (closing_) return;
  if (status != 0) {
    fail(errorOf(dir, true));
    return;
  }
  touch();
  if (!dir.reading && !dir.eof && dir.queued <= kLowWatermark) startReading(dir);
  maybeShutdown(dir);
}

void BytePump::maybeShutdown(Direction& dir) {
  // Propagate the half-close once everything read before the EOF has been written.
  if (!dir.eof || dir.shut || dir.queued > 0 || closing_) return;
  dir.shut = true;
  Direction& other = &dir == &dirs_[0] ? dirs_[1] : dirs_[0];
  if (other.shut) {
    // Both peers have sent EOF and everything is delivered: closing sends the last FIN, no
    // shutdown needed (and nothing unread is left, so the close is clean, not a reset).
    maybeFinish();
    return;
  }
  // Every write to `to` has completed (queued == 0), so libuv's write queue is empty and a
  // direct shutdown(2) is equivalent to uv_shutdown without its extra poll round trip.
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(dir.to), &fd) != 0 || ::shutdown(fd, SHUT_WR) != 0) {
    // The peer is gone; nothing more can be delivered in this direction.
    fail(errorOf(dir, true));
  }
}

void BytePump::maybeFinish() {
  if (dirs_[0].shut && dirs_[1].shut) fail(CloseReason::kDone);
}

void BytePump::close(CloseReason reason) { fail(reason); }

void BytePump::fail(CloseReason reason) {
  if (closing_) return;
  closing_ = true;
  reason_ = reason;
  // What went out of the queued writes, done or partly done (libuv's write queue counts what
  // is left): on the wire, though their callbacks will report them cancelled or not at all.
  for (Direction& dir : dirs_) {
    size_t left = uv_stream_get_write_queue_size(stream(dir.to));
    if (dir.queued > left) delivered(dir, dir.queued - left);
  }
  if (idle_timer_ != nullptr) {
    core::closeAndDelete(idle_timer_);
    idle_timer_ = nullptr;
  }
  // Pending writes and shutdowns complete with UV_ECANCELED before the close callbacks run;
  // their callbacks still find `this` through the buffer owner / req data, so the handles
  // keep pointing at us until closed.
  auto on_close = [](uv_handle_t* h) {
    auto* self = static_cast<BytePump*>(h->data);
    delete reinterpret_cast<uv_tcp_t*>(h);
    if (--self->open_handles_ == 0) self->observer_->onPumpClosed(self->reason_);
  };
  for (uv_tcp_t* t : {dirs_[0].from, dirs_[1].from}) {
    uv_close(reinterpret_cast<uv_handle_t*>(t), on_close);
  }
}

}  // namespace fulcrum::l4
