#pragma once
// Worker-local pool of fixed-size I/O buffers, so the data path never mallocs per read.
// A Buffer embeds its uv_write_t: a chunk read from one socket is written to the other
// without a copy and returns to the pool from the write callback.

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace fulcrum::core {

struct Buffer {
  static constexpr size_t kCapacity = 32 * 1024;
  uv_write_t write_req;  // first: a uv_write_t* casts back to its Buffer
  Buffer* next_free = nullptr;
  void* owner = nullptr;  // who gets the write callback
  // A second buffer written by the same uv_write (head bytes before an adopted body buffer);
  // whoever completes the write releases it too.
  Buffer* chained = nullptr;
  // Holders: a read buffer whose body bytes are being written on (StreamWriter::appendFrom)
  // while the reader still parses the rest of it. release() returns it at zero.
  uint32_t refs = 1;
  size_t length = 0;  // bytes of data in use
  char data[kCapacity];

  static Buffer* fromWrite(uv_write_t* req) { return reinterpret_cast<Buffer*>(req); }
};

class BufferPool {  // worker-local
 public:
  explicit BufferPool(size_t max_cached = 512) : max_cached_(max_cached) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  Buffer* acquire();
  // One more holder of `buffer` (each calls release()).
  static void retain(Buffer* buffer) { ++buffer->refs; }
  void release(Buffer* buffer);
  size_t cached() const { return cached_; }
  size_t outstanding() const { return outstanding_; }
  size_t maxCached() const { return max_cached_; }
  // Bytes of buffers given back to malloc (beyond the cache) since the last take.
  size_t freedBytes() const { return freed_bytes_; }
  size_t takeFreedBytes() { return std::exchange(freed_bytes_, 0); }

  // A libuv alloc callback body: hands out a pooled buffer (uv_buf_t base = data).
  void alloc(uv_buf_t* out);
  // The Buffer behind a uv_buf_t from alloc().
  static Buffer* fromBase(const char* base) {
    return reinterpret_cast<Buffer*>(const_cast<char*>(base) - offsetof(Buffer, data));
  }

 private:
  Buffer* free_ = nullptr;
  size_t cached_ = 0;
  size_t outstanding_ = 0;
  size_t max_cached_;
  size_t freed_bytes_ = 0;
};

}  // namespace fulcrum::core
