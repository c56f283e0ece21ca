#pragma once
// The byte pipe between two connected streams, used by tcp listeners and by WebSocket (any
// 101 upgrade) tunnels. Backpressure: a side stops reading while the other side's write queue
// is above a high watermark, so memory per pump is bounded whatever the peers' speeds.
// Half-close: EOF from one side becomes a shutdown(SHUT_WR) on the other once its queued
// writes are flushed; the pump ends when both directions are done (or on error / idle
// timeout / close()). Worker-local.

#include <uv.h>

#include <chrono>
#include <cstdint>

#include "fulcrum/core/buffer_pool.h"
#include "fulcrum/core/splice_pipe.h"

namespace fulcrum::core {
class Worker;
}

namespace fulcrum::l4 {

enum class CloseReason {
  kDone,  // both directions finished cleanly
  kDownstreamError,
  kUpstreamError,
  kIdleTimeout,
  kClosed,  // close() was called (drain deadline, shutdown)
};
const char* closeReasonName(CloseReason reason);

class PumpObserver {
 public:
  virtual ~PumpObserver() = default;
  // Bytes moved (for metrics): those from the client as they are read, those to the client as
  // they are written to its socket (what a cut connection drops is not counted as sent).
  virtual void onPumpBytes(bool downstream_to_upstream, size_t bytes) {
    (void)downstream_to_upstream;
    (void)bytes;
  }
  // Both handles are closed and freed; the observer may delete the pump (and itself) here.
  virtual void onPumpClosed(CloseReason reason) = 0;
};

class BytePump {
 public:
  // Takes ownership of both connected, heap-allocated handles (`downstream` = the client).
  BytePump(core::Worker& worker, uv_tcp_t* downstream, uv_tcp_t* upstream,
           std::chrono::milliseconds idle_timeout, PumpObserver* observer);
  ~BytePump();
  BytePump(const BytePump&) = delete;
  BytePump& operator=(const BytePump&) = delete;

  // Bytes already read from one side that must reach the other first (the rest of a buffer
  // after an HTTP upgrade). Copied. Call before start().
  void pushToUpstream(const char* data, size_t length);
  void pushToDownstream(const char* data, size_t length);
  void start();
  // Closes both sides now; onPumpClosed(kClosed) follows asynchronously.
  void close(CloseReason reason = CloseReason::kClosed);
  // Read from the client (pushed bytes included), and written to the client's socket.
  uint64_t bytesToUpstream() const { return dirs_[0].bytes; }
  uint64_t bytesToDownstream() const { return dirs_[1].delivered; }

 private:
  struct Direction {
    uv_tcp_t* from = nullptr;
    uv_tcp_t* to = nullptr;
    bool reading = false;
    bool eof = false;   // `from` sent EOF
    bool shut = false;  // shutdown(to) issued/done
    bool shut_done = false;
    // A bulk transfer: the last read filled its buffer. Then, with nothing queued, the next
    // bytes are spliced (splice_pipe.h) instead of read; a splice that moves less than a
    // buffer ends it. Small exchanges (a WebSocket chat, a database protocol) keep plain
    // reads, which cost the same syscalls and no pipe.
    bool bulk = false;
    bool no_splice = false;  // the source ended or failed: a plain read reports it
    uint64_t bytes = 0;      // read from `from` (or pushed)
    uint64_t delivered = 0;  // written to `to`'s socket
    size_t queued = 0;       // bytes written to `to` and not yet completed
  };
  static constexpr size_t kHighWatermark = 256 * 1024;
  static constexpr size_t kLowWatermark = 64 * 1024;

  void push(Direction& dir, const char* data, size_t length);
  // uv_write of `b` (bufs[0..n), b->length bytes in all) to dir.to, counted in dir.queued;
  // false when it could not be queued (the pump failed, `b` released).
  bool queueWrite(Direction& dir, core::Buffer* b, uv_buf_t* bufs, unsigned n);
  void holdIfBacklogged(Direction& dir);     // stops reading dir.from above the high watermark
  void received(Direction& dir, size_t n);   // read from dir.from
  void delivered(Direction& dir, size_t n);  // written to dir.to's socket
  void startReading(Direction& dir);
  void onRead(Direction& dir, ssize_t nread, const uv_buf_t* buf);
  // `from` is readable and the direction splices: moves what it has to `to` (onRead's
  // UV_ENOBUFS, which the allocator asked for by giving no buffer).
  void onSpliceable(Direction& dir);
  bool splices(const Direction& dir) const { return dir.bulk && dir.queued == 0 && !dir.no_splice; }
  // What `to` did not take of a splice, out of the pipe into pool buffers and uv_write.
  void queueFromPipe(Direction& dir, core::SplicePipe& pipe);
  // The side a failure of `dir` is on: its source when reading, its destination when writing.
  CloseReason errorOf(const Direction& dir, bool writing) const;
  void onWriteDone(Direction& dir, core::Buffer* buffer, int status);
  void maybeShutdown(Direction& dir);
  void maybeFinish();
  void fail(CloseReason reason);
  void touch();
  static void onIdleTimer(uv_timer_t* timer);
  static void onWriteCb(uv_write_t* req, int status);
  Direction& dirFor(uv_stream_t* from);

  core::Worker& worker_;
  PumpObserver* observer_;
  Direction dirs_[2];  // [0] downstream -> upstream, [1] upstream -> downstream
  uv_timer_t* idle_timer_ = nullptr;
  std::chrono::milliseconds idle_timeout_;
  uint64_t last_activity_ = 0;
  int open_handles_ = 0;
  bool closing_ = false;
  CloseReason reason_ = CloseReason::kDone;
};

}  // namespace fulcrum::l4
