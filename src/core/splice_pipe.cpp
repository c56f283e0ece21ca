#include "fulcrum/core/splice_pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace fulcrum::core {

namespace {
thread_local std::unique_ptr<SplicePipe> t_pipe;
thread_local bool t_failed = false;  // do not retry pipe2 on every large response
constexpr unsigned kFlags = SPLICE_F_NONBLOCK | SPLICE_F_MOVE;
// 64 pages: a 64 KiB body in fragments of loopback segments fits whole (the default 16 slots
// hold 16 fragments, however small). Within fs.pipe-max-size's default (1 MiB).
constexpr int kPipeBytes = 256 * 1024;
}  // namespace

SplicePipe* SplicePipe::local() {
  if (t_pipe && t_pipe->broken_) t_pipe.reset();
  if (t_pipe) return t_pipe.get();
  if (t_failed) return nullptr;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    t_failed = true;
    return nullptr;
  }
  fcntl(fds[1], F_SETPIPE_SZ, kPipeBytes);  // a smaller pipe still works
  const int size = fcntl(fds[1], F_GETPIPE_SZ);
  t_pipe.reset(new SplicePipe(fds[0], fds[1], size > 0 ? static_cast<size_t>(size) : 65536));
  return t_pipe.get();
}

SplicePipe::~SplicePipe() {
  close(read_end_);
  close(write_end_);
}

SplicePipe::Moved SplicePipe::move(int from, int to, size_t max) {
  Moved m;
  if (max > capacity_ - pending_) max = capacity_ - pending_;
  if (max == 0) return m;
  ssize_t in = splice(from, nullptr, write_end_, nullptr, max, kFlags);
  if (in <= 0) {
    // A socket splice(2) does not work with (EINVAL) makes this thread copy from now on.
    if (in == 0) {
      m.source_done = true;
    } else if (errno == EINVAL || errno == ENOSYS) {
      broken_ = t_failed = true;
      m.source_done = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      m.source_done = true;
      m.source_error = -errno;
    }
    return m;
  }
  m.in = static_cast<size_t>(in);
  pending_ += m.in;
  ++moves_;
  while (pending_ > 0) {
    ssize_t out = splice(read_end_, nullptr, to, nullptr, pending_, kFlags);
    if (out > 0) {
      m.out += static_cast<size_t>(out);
      pending_ -= static_cast<size_t>(out);
      continue;
    }
    if (out < 0 && errno == EINTR) continue;
    if (out < 0 && errno != EAGAIN) {
      m.dest_error = -errno;
      discardPending();
    }
    break;  // EAGAIN: the destination is full; the rest stays for readBack
  }
  return m;
}

size_t SplicePipe::readBack(char* out, size_t length) {
  size_t got = 0;
  while (got < length && pending_ > 0) {
    ssize_t n = read(read_end_, out + got, std::min(length - got, pending_));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    got += static_cast<size_t>(n);
    pending_ -= static_cast<size_t>(n);
  }
  return got;
}

void SplicePipe::discardPending() {
  char sink[4096];
  while (pending_ > 0 && readBack(sink, sizeof sink) > 0) {
  }
  if (pending_ > 0) broken_ = true;
}

}  // namespace fulcrum::core
