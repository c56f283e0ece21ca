#pragma once
// Buffered writes to one libuv stream from the worker's buffer pool. Small pieces (a head, a
// chunk-size line, body bytes) are copied into the open buffer and sent together by flush(),
// so a response costs one write(2), not one per piece. queued() is what the owner uses for
// backpressure: stop reading the other side above kHighWatermark, resume below kLowWatermark
// (onWriterDrained). Worker-local. The owner must outlive the stream's close callback: a
// write still pending when the stream closes calls back (with UV_ECANCELED) before it.

#include <uv.h>

#include <cstddef>
#include <cstdint>

#include "fulcrum/core/buffer_pool.h"
#include "fulcrum/core/splice_pipe.h"

namespace fulcrum::http {

class StreamWriter;

class WriterObserver {
 public:
  virtual ~WriterObserver() = default;
  // queued() fell to kLowWatermark or below after having been above it, or to 0 while
  // waitForEmpty() was set.
  virtual void onWriterDrained(StreamWriter& writer) = 0;
  // A write failed (peer reset, or the stream was closed). Reported once.
  virtual void onWriterError(StreamWriter& writer, int status) = 0;
};

class StreamWriter {
 public:
  static constexpr size_t kHighWatermark = 256 * 1024;
  static constexpr size_t kLowWatermark = 64 * 1024;
  // Smaller pieces are cheaper to copy next to what precedes them than to send as a writev
  // piece of their own.
  static constexpr size_t kAdoptMin = 8 * 1024;

  StreamWriter(core::BufferPool& pool, WriterObserver* observer)
      : pool_(pool), observer_(observer) {}
  ~StreamWriter();
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;

  void attach(uv_stream_t* stream) { stream_ = stream; }
  // The stream is being handed over or closed: nothing more is written.
  void detach();
  uv_stream_t* stream() const { return stream_; }

  // Copies `data` into the open buffer (sending full buffers as it goes).
  void append(const char* data, size_t length);
  void append(const char* s) { append(s, __builtin_strlen(s)); }
  // `data` lies inside `source`, a pooled read buffer the caller holds (a body piece read from
  // the other side). A piece of kAdoptMin bytes or more is written from `source` itself, which
  // the writer holds too (BufferPool::retain) until written, with whatever was appended before
  // in the same writev; a smaller one (or any piece when `source` is null) is copied like
  // append(). A buffer carries one write request, so it is written from at most once in its
  // life (its `owner` marks it).
  void appendFrom(core::Buffer* source, const char* data, size_t length);
  // Appends the bytes a splice left in `pipe` (SplicePipe::move: the destination took less
  // than was moved), emptying it, and sends them.
  void appendPipeRest(core::SplicePipe& pipe);
  // Sends the open buffer.
  void flush();
  // Sends the open buffer as the stream's last bytes: the caller closes or shuts down the
  // stream before it returns to the loop. When nothing else is queued they go out with
  // MSG_MORE, so the kernel holds them for the FIN that follows and data and FIN leave in one
  // segment (a Connection: close response then costs the peer one wakeup, not two).
  // Otherwise (or on any error) it is flush().
  void flushBeforeFin();
  // Takes back everything appended after bytesAppended() was `mark`, if none of it has been
  // handed to the socket yet (it is all in the open buffer); false, changing nothing, if some
  // of it has. A response the backend spoiled in the same read as its head can so still be
  // answered with an error of the proxy's own instead of a cut connection.
  bool retract(uint64_t mark);
  // Bytes appended and not yet written to the socket.
  size_t queued() const { return queued_; }
  // Pool buffers the writer holds: the open one, submitted ones and adopted read buffers.
  size_t buffersHeld() const { return buffers_; }
  // Above kHighWatermark in bytes, or in the memory that holds them: a re-chunked body holds
  // a read buffer for each piece and a second buffer for the few bytes of its chunk-size
  // line, so the bytes alone would let a client that does not read hold twice the memory.
  bool aboveHighWatermark() const {
    return queued_ > kHighWatermark || buffers_ > kHighWatermark / core::Buffer::kCapacity;
  }
  // Report onWriterDrained once everything has been written.
  void waitForEmpty() { wait_empty_ = true; }
  bool failed() const { return failed_; }
  uint64_t bytesWritten() const { return bytes_written_; }
  // `n` bytes went to the stream's socket beside the writer (spliced), while nothing was
  // queued: counted as written, for the owner's byte counters.
  void countWrittenBeside(uint64_t n) {
    bytes_written_ += n;
    bytes_appended_ += n;
  }
  uint64_t bytesAppended() const { return bytes_appended_; }
  // Bytes handed to the socket so far: the completed writes, and the part libuv has done of
  // those still queued (its write queue counts what is left of each). What the peer can have
  // been sent, also when the stream closes now and the rest is dropped. A failed write counts
  // for nothing: it has left queued_ and libuv's queue both.
  uint64_t bytesOnWire() const {
    size_t in_flight = queued_ - (open_ != nullptr ? open_->length : 0);
    size_t left = stream_ != nullptr ? uv_stream_get_write_queue_size(stream_) : in_flight;
    return bytes_written_ + (in_flight > left ? in_flight - left : 0);
  }

 private:
  static void onWrite(uv_write_t* req, int status);
  // `fin_follows`: flushBeforeFin's bytes (trySendBeforeFin).
  void submitOpen(bool fin_follows);
  void submit(core::Buffer* buffer, bool fin_follows = false);
  // Writes `data` (inside `buffer`, which the writer now holds once) without copying it.
  void appendAdopted(core::Buffer* buffer, const char* data, size_t length);
  // Writes bufs[0..n) (the bytes of `buffer`, and of buffer->chained) as one writev; `total`
  // is their size. Releases both once written.
  void submitPieces(core::Buffer* buffer, uv_buf_t* bufs, unsigned n, size_t total,
                    bool fin_follows = false);
  int trySendBeforeFin(const uv_buf_t& buf);
  void releaseWritten(core::Buffer* buffer);
  void release(core::Buffer* buffer);  // one the writer held (null: none)
  // Back at or below kLowWatermark, in bytes and in buffers.
  bool atOrBelowLowWatermark() const {
    return queued_ <= kLowWatermark && buffers_ <= kLowWatermark / core::Buffer::kCapacity;
  }

  core::BufferPool& pool_;
  WriterObserver* observer_;
  uv_stream_t* stream_ = nullptr;
  core::Buffer* open_ = nullptr;  // being filled, not yet submitted
  size_t queued_ = 0;
  size_t buffers_ = 0;  // buffersHeld()
  uint64_t bytes_written_ = 0;
  uint64_t bytes_appended_ = 0;
  bool above_ = false;  // went above the high watermark: report the drain
  bool wait_empty_ = false;
  bool failed_ = false;
};

}  // namespace fulcrum::http
