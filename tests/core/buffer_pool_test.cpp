#include "fulcrum/core/buffer_pool.h"

#include <gtest/gtest.h>

namespace fulcrum::core {
namespace {

TEST(CoreBufferPool, ReusesReleasedBuffers) {
  BufferPool pool(4);
  Buffer* a = pool.acquire();
  EXPECT_EQ(pool.outstanding(), 1u);
  pool.release(a);
  EXPECT_EQ(pool.cached(), 1u);
  Buffer* b = pool.acquire();
  EXPECT_EQ(a, b);  // the same block comes back: no malloc per read
  EXPECT_EQ(b->length, 0u);
  pool.release(b);
}

TEST(CoreBufferPool, CapsTheCache) {
  BufferPool pool(2);
  Buffer* bufs[5];
  for (auto*& b : bufs) b = pool.acquire();
  EXPECT_EQ(pool.outstanding(), 5u);
  for (auto* b : bufs) pool.release(b);
  EXPECT_EQ(pool.cached(), 2u);
  EXPECT_EQ(pool.outstanding(), 0u);
}

TEST(CoreBufferPool, AllocHandsOutTheWholeBlockAndMapsBack) {
  BufferPool pool;
  uv_buf_t buf;
  pool.alloc(&buf);
  EXPECT_EQ(buf.len, Buffer::kCapacity);
  Buffer* b = BufferPool::fromBase(buf.base);
  EXPECT_EQ(b->data, buf.base);
  pool.release(b);
  uv_write_t* req = &b->write_req;
  EXPECT_EQ(Buffer::fromWrite(req), b);
}

// A read buffer lent to a writer has two holders: it returns to the pool (and can be handed
// out again) only when both have released it, in either order.
TEST(CoreBufferPool, RetainedBufferReturnsAfterTheLastRelease) {
  BufferPool pool;
  Buffer* b = pool.acquire();
  BufferPool::retain(b);
  pool.release(b);
  EXPECT_EQ(pool.outstanding(), 1u);
  EXPECT_EQ(pool.cached(), 0u);
  pool.release(b);
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(pool.cached(), 1u);
  Buffer* again = pool.acquire();
  EXPECT_EQ(again, b);
  EXPECT_EQ(again->refs, 1u);  // a reused buffer starts with one holder
  EXPECT_EQ(again->chained, nullptr);
  pool.release(again);
}

}  // namespace
}  // namespace fulcrum::core
