#pragma once
// Moving bytes from one socket to another without copying them through user space: splice(2)
// from the source into a pipe, then from the pipe into the destination. The kernel passes page
// references along instead of copying the bytes out and back in, so a large response body
// costs the proxy no copy of its own (HAProxy's `option splice-response`). One pipe per worker
// thread, empty between uses: bytes the destination did not take are read back out by the
// caller (readBack) before anything else uses the pipe.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace fulcrum::core {

class SplicePipe {
 public:
  // What one move() did.
  struct Moved {
    size_t in = 0;   // taken from the source (all in the pipe, then some in the destination)
    size_t out = 0;  // taken by the destination; in - out is left in the pipe
    bool source_done = false;  // the source ended (EOF: let a plain read report it) or failed
    // The source failed (negative errno, e.g. -ECONNRESET): report it, do not read again. A
    // failed splice(2) clears the socket's pending error, and a read after it finds an EOF.
    int source_error = 0;
    int dest_error = 0;  // the destination failed (negative errno); the pipe is emptied
  };

  // This thread's pipe, made on first use; null if it cannot be made (out of descriptors):
  // the caller copies as usual.
  static SplicePipe* local();

  // Up to `max` bytes (at most capacity()) from `from` to `to`, both non-blocking sockets.
  Moved move(int from, int to, size_t max);
  // Reads up to `length` of the bytes move() left in the pipe into `out`; returns how many.
  size_t readBack(char* out, size_t length);
  size_t pending() const { return pending_; }
  // move() calls that took bytes from their source, on this thread's pipe (for tests).
  uint64_t moves() const { return moves_; }
  size_t capacity() const { return capacity_; }

  ~SplicePipe();

 private:
  SplicePipe(int read_end, int write_end, size_t capacity)
      : read_end_(read_end), write_end_(write_end), capacity_(capacity) {}
  void discardPending();

  int read_end_;
  int write_end_;
  size_t capacity_;
  size_t pending_ = 0;
  uint64_t moves_ = 0;
  bool broken_ = false;  // bytes could not be read back: the next local() makes a new pipe
};

}  // namespace fulcrum::core
