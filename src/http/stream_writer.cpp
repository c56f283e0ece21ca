#include "fulcrum/http/stream_writer.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "fulcrum/core/uv_util.h"

namespace fulcrum::http {

StreamWriter::~StreamWriter() {
  // Submitted buffers come back through onWrite (their callbacks run before the stream's
  // close callback, and the owner lives past that); only the open one is ours to free.
  if (open_ != nullptr) pool_.release(open_);
}

void StreamWriter::detach() {
  if (open_ != nullptr) {
    queued_ -= open_->length;
    release(open_);
    open_ = nullptr;
  }
  stream_ = nullptr;
}

void StreamWriter::append(const char* data, size_t length) {
  if (failed_ || stream_ == nullptr) return;
  queued_ += length;
  bytes_appended_ += length;
  while (length > 0) {
    if (open_ == nullptr) {
      open_ = pool_.acquire();
      open_->owner = this;
      ++buffers_;
    }
    size_t n = std::min(length, core::Buffer::kCapacity - open_->length);
    std::memcpy(open_->data + open_->length, data, n);
    open_->length += n;
    data += n;
    length -= n;
    if (open_->length == core::Buffer::kCapacity) {
      core::Buffer* full = open_;
      open_ = nullptr;
      submit(full);
      if (failed_) return;
    }
  }
  if (aboveHighWatermark()) above_ = true;
}

bool StreamWriter::retract(uint64_t mark) {
  uint64_t since = bytes_appended_ - mark;
  if (since == 0) return true;
  // The open buffer always holds the most recently appended bytes (appendAdopted and submit
  // empty it), so they are all still here exactly when it holds at least `since` bytes.
  if (failed_ || open_ == nullptr || open_->length < since) return false;
  open_->length -= since;
  queued_ -= since;
  bytes_appended_ = mark;
  return true;
}

void StreamWriter::appendPipeRest(core::SplicePipe& pipe) {
  char chunk[16 * 1024];
  while (size_t n = pipe.readBack(chunk, sizeof chunk)) append(chunk, n);
  flush();
}

void StreamWriter::flush() { submitOpen(false); }

void StreamWriter::flushBeforeFin() { submitOpen(true); }

void StreamWriter::submitOpen(bool fin_follows) {
  if (open_ == nullptr || open_->length == 0) return;
  core::Buffer* b = open_;
  open_ = nullptr;
  submit(b, fin_follows);
}

void StreamWriter::appendFrom(core::Buffer* source, const char* data, size_t length) {
  if (length < kAdoptMin || source == nullptr || source->owner != nullptr || data < source->data ||
      data + length > source->data + core::Buffer::kCapacity) {
    append(data, length);
    return;
  }
  core::BufferPool::retain(source);
  ++buffers_;
  appendAdopted(source, data, length);
}

void StreamWriter::appendAdopted(core::Buffer* buffer, const char* data, size_t length) {
  if (failed_ || stream_ == nullptr) {
    release(buffer);
    return;
  }
  queued_ += length;
  bytes_appended_ += length;
  uv_buf_t bufs[2];
  unsigned n = 0;
  size_t total = length;
  core::Buffer* head = open_;  // what was appended before goes out first
  open_ = nullptr;
  if (head != nullptr && head->length > 0) {
    bufs[n++] = uv_buf_init(head->data, static_cast<unsigned>(head->length));
    total += head->length;
    buffer->chained = head;
  } else {
    release(head);
  }
  bufs[n++] = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(length));
  submitPieces(buffer, bufs, n, total);
  if (aboveHighWatermark()) above_ = true;
}

void StreamWriter::submit(core::Buffer* buffer, bool fin_follows) {
  if (failed_ || stream_ == nullptr) {
    queued_ -= buffer->length;
    release(buffer);
    return;
  }
  uv_buf_t buf = uv_buf_init(buffer->data, static_cast<unsigned>(buffer->length));
  submitPieces(buffer, &buf, 1, buffer->length, fin_follows);
}

// uv_try_write of one piece, with MSG_MORE: the kernel holds the bytes (up to a full segment)
// until the caller's close or shutdown adds the FIN, and both leave in one segment. Never ahead
// of writes libuv still queues; errors (EAGAIN, EPIPE) are left to uv_write, which sees them
// again and reports them asynchronously. A rest it did not take goes through uv_write,
// without MSG_MORE, which pushes what the kernel holds.
int StreamWriter::trySendBeforeFin(const uv_buf_t& buf) {
  uv_os_fd_t fd;
  if (uv_stream_get_write_queue_size(stream_) != 0 ||
      uv_fileno(reinterpret_cast<uv_handle_t*>(stream_), &fd) != 0)
    return UV_EAGAIN;
  ssize_t w = ::send(fd, buf.base, buf.len, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
  return w >= 0 ? static_cast<int>(w) : UV_EAGAIN;
}

void StreamWriter::submitPieces(core::Buffer* buffer, uv_buf_t* bufs, unsigned n, size_t total,
                                bool fin_follows) {
  buffer->owner = this;
  if (!above_ && !wait_empty_) {
    // Written at once when the socket takes it: no write request, no callback, and no
    // epoll_ctl (libuv re-registers the fd after every completed uv_write). Errors and
    // drain reports stay asynchronous: they go through uv_write below, which sees the same
    // error, so the owner is never called back from inside append()/flush().
    int w = fin_follows && n == 1 ? trySendBeforeFin(bufs[0]) : uv_try_write(stream_, bufs, n);
    if (w > 0) {
      size_t written = static_cast<size_t>(w);
      queued_ -= written;
      bytes_written_ += written;
      if (written == total) {
        releaseWritten(buffer);
        return;
      }
      total -= written;
      core::skipWritten(bufs, n, written);
    }
  }
  buffer->length = total;  // what onWrite accounts for
  int rc = uv_write(&buffer->write_req, stream_, bufs, n, &StreamWriter::onWrite);
  if (rc != 0) {
    queued_ -= total;
    releaseWritten(buffer);
    if (!failed_) {
      failed_ = true;
      observer_->onWriterError(*this, rc);
    }
  }
}

void StreamWriter::releaseWritten(core::Buffer* buffer) {
  core::Buffer* chained = buffer->chained;
  buffer->chained = nullptr;
  release(chained);
  release(buffer);
}

void StreamWriter::release(core::Buffer* buffer) {
  if (buffer == nullptr) return;
  --buffers_;
  pool_.release(buffer);
}

void StreamWriter::onWrite(uv_write_t* req, int status) {
  core::Buffer* buffer = core::Buffer::fromWrite(req);
  auto* self = static_cast<StreamWriter*>(buffer->owner);
  size_t length = buffer->length;
  self->queued_ -= length;
  self->releaseWritten(buffer);
  bool drained = false;
  if (status != 0) {
    if (!self->failed_) {
      self->failed_ = true;
      self->observer_->onWriterError(*self, status);
    }
  } else {
    self->bytes_written_ += length;
    if (!self->failed_ && self->above_ && self->atOrBelowLowWatermark()) {
      self->above_ = false;
      drained = true;
    }
  }
  if (self->wait_empty_ && self->queued_ == 0) {
    self->wait_empty_ = false;
    drained = true;
  }
  // Last statement: the observer may free the writer's owner here.
  if (drained) self->observer_->onWriterDrained(*self);
}

}  // namespace fulcrum::http
