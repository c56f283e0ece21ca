#include "fulcrum/core/buffer_pool.h"

namespace fulcrum::core {

BufferPool::~BufferPool() {
  while (free_ != nullptr) {
    Buffer* next = free_->next_free;
    delete free_;
    free_ = next;
  }
}

Buffer* BufferPool::acquire() {
  ++outstanding_;
  if (free_ != nullptr) {
    Buffer* b = free_;
    free_ = b->next_free;
    --cached_;
    b->next_free = nullptr;
    b->length = 0;
    b->owner = nullptr;
    b->chained = nullptr;
    b->refs = 1;
    return b;
  }
  // Not value-initialised: the 32 KiB payload needs no zeroing.
  Buffer* b = new Buffer;
  b->next_free = nullptr;
  b->length = 0;
  b->owner = nullptr;
  b->chained = nullptr;
  b->refs = 1;
  return b;
}

void BufferPool::release(Buffer* buffer) {
  if (buffer == nullptr || --buffer->refs != 0) return;
  --outstanding_;
  if (cached_ >= max_cached_) {
    delete buffer;
    freed_bytes_ += sizeof(Buffer);
    return;
  }
  buffer->next_free = free_;
  free_ = buffer;
  ++cached_;
}

void BufferPool::alloc(uv_buf_t* out) {
  Buffer* b = acquire();
  *out = uv_buf_init(b->data, Buffer::kCapacity);
}

}  // namespace fulcrum::core
