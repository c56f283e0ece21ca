#pragma once
// RAII helpers over libuv handles. A handle's memory is released only from its close
// callback (closing is asynchronous), never from inside one of its own callbacks.

#include <uv.h>

#include <memory>

namespace fulcrum::core {

// uv_read_start into buffers from the worker's pool. The stream's data is a T (a Session:
// worker() gives the pool) and `OnRead` its read callback; the buffer is the callback's to
// release (core::BufferPool::fromBase(buf->base)).
template <class T, void (T::*OnRead)(ssize_t, const uv_buf_t*)>
int readIntoPool(uv_stream_t* stream) {
  return uv_read_start(
      stream,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        static_cast<T*>(h->data)->worker().buffers().alloc(buf);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        (static_cast<T*>(s->data)->*OnRead)(nread, buf);
      });
}

// After a write that took `written` bytes of bufs[0..n), with some left: steps bufs and n past
// them, so that bufs[0..n) is the rest (for the uv_write that queues it).
inline void skipWritten(uv_buf_t*& bufs, unsigned& n, size_t written) {
  while (written >= bufs->len) {  // pieces written whole
    written -= bufs->len;
    ++bufs;
    --n;
  }
  bufs->base += written;
  bufs->len -= written;
}

// Lazy deadlines: a timer that is not restarted per event (each restart is a timer-heap
// removal and insertion). The owner moves its start time forward with one store; the timer
// only moves when it would fire too late, and when it fires early it re-arms for the rest.
//
// Starts `timer` for `timeout_ms` unless it is already due no later than that.
inline void armNoLaterThan(uv_timer_t* timer, uv_timer_cb cb, uint64_t timeout_ms) {
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(timer)) ||
      uv_timer_get_due_in(timer) > timeout_ms)
    uv_timer_start(timer, cb, timeout_ms, 0);
}
// From the timer's callback: true when `timeout_ms` have passed since `since` (loop time);
// otherwise the timer is re-armed for what is left.
inline bool deadlinePassed(uv_timer_t* timer, uv_timer_cb cb, uint64_t since, uint64_t timeout_ms) {
  uint64_t elapsed = uv_now(timer->loop) - since;
  if (elapsed >= timeout_ms) return true;
  uv_timer_start(timer, cb, timeout_ms - elapsed, 0);
  return false;
}

// Closes `h` and deletes it (as H, allocated with new) from the close callback.
template <class H>
void closeAndDelete(H* h) {
  if (h == nullptr) return;
  h->data = nullptr;  // callbacks that still fire see no owner
  auto* raw = reinterpret_cast<uv_handle_t*>(h);
  if (uv_is_closing(raw)) return;
  uv_close(raw, [](uv_handle_t* handle) { delete reinterpret_cast<H*>(handle); });
}

// unique_ptr for a heap-allocated uv handle: destruction closes it and frees it later.
template <class H>
struct UvCloser {
  void operator()(H* h) const { closeAndDelete(h); }
};
template <class H>
using UvHandlePtr = std::unique_ptr<H, UvCloser<H>>;

template <class H>
UvHandlePtr<H> makeHandle() {
  return UvHandlePtr<H>(new H{});
}

}  // namespace fulcrum::core
