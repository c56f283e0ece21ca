// StreamWriter watermarks and the per-worker upstream keep-alive pool, over socketpairs on
// a real worker loop (run by hand, no thread).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "fulcrum/core/uv_util.h"
#include "fulcrum/core/worker.h"
#include "fulcrum/http/stream_writer.h"
#include "fulcrum/http/upstream_connection.h"
#include "worker_loop_fixture.h"

namespace fulcrum::http {
namespace {

using namespace std::chrono_literals;

struct Observer : WriterObserver {
  int drained = 0, errors = 0;
  void onWriterDrained(StreamWriter&) override { ++drained; }
  void onWriterError(StreamWriter&, int) override { ++errors; }
};

class HttpLoop : public fulcrum::testing::WorkerLoopTest {
 protected:
  // Runs the loop while reading the peer, until `want` bytes arrived and the writer has
  // nothing queued (a partial writev needs the loop to go on while the peer reads).
  std::string drainPeer(int peer, size_t want, const StreamWriter& w) {
    std::string got;
    char buf[65536];
    EXPECT_TRUE(runUntil([&] {
      ssize_t n = recv(peer, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      return got.size() >= want && w.queued() == 0;
    }));
    return got;
  }
  // Appends numbered pieces ("piece 0;piece 1;...") until `size` bytes; returns them.
  static std::string appendPieces(StreamWriter& w, size_t size) {
    std::string all;
    for (int i = 0; all.size() < size; ++i) {
      std::string piece = "piece " + std::to_string(i) + ";";
      w.append(piece.data(), piece.size());
      all += piece;
    }
    return all;
  }
  // Two connections parked under `key` (the newer is handed out first); their peers'
  // descriptors go to *older_peer and *newer_peer.
  std::pair<UpstreamConnection*, UpstreamConnection*> parkTwo(const std::string& key,
                                                              int* older_peer, int* newer_peer) {
    auto* older = new UpstreamConnection(worker_, pair(older_peer));
    auto* newer = new UpstreamConnection(worker_, pair(newer_peer));
    UpstreamPool::put(key, older, 8, 60s);
    UpstreamPool::put(key, newer, 8, 60s);
    return {older, newer};
  }
  // close(2) happens in uv_close; the loop then runs the close callback (which frees `h`).
  void closeStream(uv_tcp_t* h) {
    core::closeAndDelete(h);
    uv_run(worker_.loop(), UV_RUN_NOWAIT);
  }
};

TEST_F(HttpLoop, StreamWriterCoalescesAndKeepsOrder) {
  int peer;
  uv_tcp_t* h = pair(&peer);
  Observer obs;
  {
    StreamWriter w(worker_.buffers(), &obs);
    w.attach(reinterpret_cast<uv_stream_t*>(h));
    std::string expected = appendPieces(w, 800);
    EXPECT_EQ(w.queued(), expected.size());
    EXPECT_EQ(w.bytesOnWire(), 0u);  // all in the open buffer
    w.flush();
    EXPECT_EQ(drainPeer(peer, expected.size(), w), expected);
    EXPECT_EQ(w.bytesWritten(), expected.size());
    EXPECT_EQ(w.bytesOnWire(), expected.size());
    closeStream(h);
  }
  close(peer);
  EXPECT_EQ(obs.errors, 0);
}

TEST_F(HttpLoop, StreamWriterRetractsOnlyWhatHasNotLeft) {
  int peer;
  uv_tcp_t* h = pair(&peer);
  Observer obs;
  {
    StreamWriter w(worker_.buffers(), &obs);
    w.attach(reinterpret_cast<uv_stream_t*>(h));
    w.append("first;");
    uint64_t mark = w.bytesAppended();
    w.append("spoiled head;");
    EXPECT_TRUE(w.retract(mark));  // still all in the open buffer
    EXPECT_EQ(w.bytesAppended(), mark);
    EXPECT_EQ(w.queued(), mark);
    EXPECT_TRUE(w.retract(mark));  // nothing after the mark: nothing to take back
    w.append("answer;");
    w.flush();
    EXPECT_EQ(drainPeer(peer, 13, w), "first;answer;");
    mark = w.bytesAppended();
    w.append("sent;");
    w.flush();
    w.append("more;");
    EXPECT_FALSE(w.retract(mark));  // "sent;" has left: nothing is taken back
    EXPECT_EQ(w.queued(), 5u);
    w.flush();
    EXPECT_EQ(drainPeer(peer, 10, w), "sent;more;");
    // More than a buffer after the mark: the full buffers were submitted as they filled.
    mark = w.bytesAppended();
    std::string big = appendPieces(w, core::Buffer::kCapacity + 100);
    EXPECT_FALSE(w.retract(mark));
    w.flush();
    EXPECT_EQ(drainPeer(peer, big.size(), w), big);
    closeStream(h);
  }
  close(peer);
  EXPECT_EQ(obs.errors, 0);
}

// Large pieces of read buffers go out without a copy (the writer holds the buffer: it marks it
// as its own), after what was appended before them and in order, also when the socket takes
// only part of a writev (the peer reads nothing at first); small ones are copied. Every buffer
// returns to the pool once both the reader and the writer are done with it.
TEST_F(HttpLoop, StreamWriterWritesLargePiecesFromTheReadBuffer) {
  int peer;
  uv_tcp_t* h = pair(&peer);
  Observer obs;
  core::BufferPool& pool = worker_.buffers();
  size_t outstanding_before = pool.outstanding();
  std::string expected;
  {
    StreamWriter w(pool, &obs);
    w.attach(reinterpret_cast<uv_stream_t*>(h));
    for (int i = 0; i < 40; ++i) {
      std::string head = "head " + std::to_string(i) + ";";
      w.append(head.data(), head.size());
      expected += head;
      core::Buffer* b = pool.acquire();
      size_t offset = static_cast<size_t>(i % 7) * 10;  // the piece need not start the buffer
      size_t length = core::Buffer::kCapacity - offset - static_cast<size_t>(i);
      for (size_t k = 0; k < length; ++k)
        b->data[offset + k] = static_cast<char>('a' + (i + k) % 26);
      w.appendFrom(b, b->data + offset, length);
      expected.append(b->data + offset, length);
      EXPECT_EQ(b->owner, static_cast<void*>(&w)) << "piece " << i << " was copied";
      pool.release(b);  // the reader is done with it; the writer still holds it
      core::Buffer* small = pool.acquire();
      std::memset(small->data, 'S', StreamWriter::kAdoptMin - 1);
      w.appendFrom(small, small->data, StreamWriter::kAdoptMin - 1);
      expected.append(small->data, StreamWriter::kAdoptMin - 1);
      EXPECT_EQ(small->owner, nullptr) << "a small piece was not copied";
      pool.release(small);
    }
    w.append("tail", 4);
    expected += "tail";
    w.flush();
    EXPECT_EQ(w.bytesAppended(), expected.size());
    EXPECT_TRUE(drainPeer(peer, expected.size(), w) == expected) << "bytes reordered or altered";
    EXPECT_EQ(w.bytesWritten(), expected.size());
    EXPECT_EQ(pool.outstanding(), outstanding_before);
    closeStream(h);
  }
  close(peer);
  EXPECT_EQ(obs.errors, 0);
}

// A writer that has failed (or is detached) lets go of a large piece's buffer at once.
// Segments the peer's socket has received: tcpi_segs_in, at this offset of the kernel's
// struct tcp_info (<linux/tcp.h>, Linux 4.2+; glibc's copy of the struct stops before it).
uint32_t segmentsIn(int fd) {
  constexpr size_t kTcpiSegsInOffset = 140;
  unsigned char info[256] = {};
  socklen_t len = sizeof info;
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len), 0);
  EXPECT_GE(len, kTcpiSegsInOffset + 4);
  uint32_t segs;
  std::memcpy(&segs, info + kTcpiSegsInOffset, sizeof segs);
  return segs;
}

// A response followed by a close: flushBeforeFin's bytes and the FIN reach the peer in one
// segment, where flush() and a close take two (the peer is woken twice). Both are measured, so
// the test shows the difference, not just a count.
TEST_F(HttpLoop, StreamWriterLastBytesLeaveWithTheFin) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  for (bool before_fin : {true, false}) {
    SCOPED_TRACE(before_fin ? "flushBeforeFin" : "flush");
    int peer;
    uv_tcp_t* h = tcpPair(&peer);
    Observer obs;
    StreamWriter w(worker_.buffers(), &obs);
    w.attach(reinterpret_cast<uv_stream_t*>(h));
    uint32_t before = segmentsIn(peer);
    w.append(response.data(), response.size());
    if (before_fin) {
      w.flushBeforeFin();
    } else {
      w.flush();
    }
    EXPECT_EQ(w.queued(), 0u);
    w.detach();
    closeStream(h);  // the FIN
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = recv(peer, buf, sizeof buf, 0)) > 0;)
      got.append(buf, static_cast<size_t>(n));
    EXPECT_EQ(got, response);
    EXPECT_EQ(segmentsIn(peer) - before, before_fin ? 1u : 2u);
    EXPECT_EQ(w.bytesWritten(), response.size());
    close(peer);
    EXPECT_EQ(obs.errors, 0);
  }
}

// When the socket cannot take everything now, the rest goes through libuv, in order: both
// when earlier writes are still queued in libuv (no MSG_MORE send then, even though the peer
// has read some meanwhile and the socket has room: it would overtake them) and when the
// MSG_MORE send itself is partial. A small socket buffer makes both happen; everything stays
// under the high watermark, where the writer tries direct writes at all.
TEST_F(HttpLoop, StreamWriterFlushBeforeFinWithQueuedBytesFallsBackToWrites) {
  for (bool queued_first : {true, false}) {
    SCOPED_TRACE(queued_first ? "writes already queued" : "partial MSG_MORE send");
    int peer;
    uv_tcp_t* h = pair(&peer);
    uv_os_fd_t fd;
    ASSERT_EQ(uv_fileno(reinterpret_cast<uv_handle_t*>(h), &fd), 0);
    int sndbuf = 4096;
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    Observer obs;
    {
      StreamWriter w(worker_.buffers(), &obs);
      w.attach(reinterpret_cast<uv_stream_t*>(h));
      // Queued first: three full pool buffers go out (mostly into libuv's queue), and a
      // partial fourth stays open. Otherwise: half a pool buffer, all of it open.
      size_t size = queued_first ? 3 * core::Buffer::kCapacity + 100 : core::Buffer::kCapacity / 2;
      std::string expected = appendPieces(w, size);
      std::string got;
      if (queued_first) {
        ASSERT_GT(uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(h)), 0u);
        char buf[65536];
        for (ssize_t n; (n = recv(peer, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
          got.append(buf, static_cast<size_t>(n));
        ASSERT_GT(got.size(), 0u);
      }
      w.flushBeforeFin();
      EXPECT_GT(w.queued(), 0u);
      if (!queued_first) {
        EXPECT_LT(w.queued(), expected.size());  // the send took a part
      }
      got += drainPeer(peer, expected.size() - got.size(), w);
      EXPECT_TRUE(got == expected) << "bytes reordered or altered";
      EXPECT_EQ(w.bytesWritten(), expected.size());
      closeStream(h);
    }
    close(peer);
    EXPECT_EQ(obs.errors, 0);
  }
}

TEST_F(HttpLoop, StreamWriterLargePieceAfterFailureHoldsNothing) {
  int peer;
  uv_tcp_t* h = pair(&peer);
  close(peer);
  Observer obs;
  core::BufferPool& pool = worker_.buffers();
  StreamWriter w(pool, &obs);
  w.attach(reinterpret_cast<uv_stream_t*>(h));
  w.append("x", 1);
  w.flush();
  EXPECT_TRUE(runUntil([&] { return obs.errors > 0; }));
  size_t outstanding_before = pool.outstanding();
  core::Buffer* b = pool.acquire();
  w.appendFrom(b, b->data, StreamWriter::kAdoptMin);
  pool.release(b);
  EXPECT_EQ(pool.outstanding(), outstanding_before);
  closeStream(h);
}

TEST_F(HttpLoop, StreamWriterWatermarks) {
  int peer;
  uv_tcp_t* h = pair(&peer);
  Observer obs;
  StreamWriter w(worker_.buffers(), &obs);
  w.attach(reinterpret_cast<uv_stream_t*>(h));
  std::string chunk(64 * 1024, 'x');
  // The peer does not read: the queue grows past the high watermark.
  for (int i = 0; i < 40; ++i) w.append(chunk.data(), chunk.size());
  w.flush();
  uv_run(worker_.loop(), UV_RUN_NOWAIT);
  EXPECT_TRUE(w.aboveHighWatermark());
  EXPECT_EQ(obs.drained, 0);
  // The peer reads everything: drained is reported once the queue is low again.
  size_t total = 40 * chunk.size(), got = 0;
  char buf[65536];
  EXPECT_TRUE(runUntil([&] {
    ssize_t n = recv(peer, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got += static_cast<size_t>(n);
    return got == total && w.queued() == 0;
  }));
  EXPECT_GE(obs.drained, 1);
  EXPECT_EQ(obs.errors, 0);
  closeStream(h);
  close(peer);
}

TEST_F(HttpLoop, StreamWriterReportsErrorOnce) {
  int peer;
  uv_tcp_t* h = pair(&peer);
  close(peer);
  Observer obs;
  StreamWriter w(worker_.buffers(), &obs);
  w.attach(reinterpret_cast<uv_stream_t*>(h));
  for (int i = 0; i < 3; ++i) {
    w.append("data", 4);
    w.flush();
    uv_run(worker_.loop(), UV_RUN_NOWAIT);
  }
  EXPECT_TRUE(runUntil([&] { return obs.errors > 0; }));
  EXPECT_EQ(obs.errors, 1);
  EXPECT_TRUE(w.failed());
  closeStream(h);
}

TEST_F(HttpLoop, UpstreamPoolReuseAndLimits) {
  const std::string key = "pool-a|127.0.0.1:1";
  int peers[3];
  UpstreamConnection* c[3];
  for (int i = 0; i < 3; ++i) c[i] = new UpstreamConnection(worker_, pair(&peers[i]));
  EXPECT_EQ(UpstreamPool::take(key), nullptr);
  UpstreamPool::put(key, c[0], 2, 60s);
  UpstreamPool::put(key, c[1], 2, 60s);
  UpstreamPool::put(key, c[2], 2, 60s);  // over max_idle_per_backend: closed
  EXPECT_EQ(UpstreamPool::idleCount(key), 2u);
  // Most recently parked first.
  EXPECT_EQ(UpstreamPool::take(key), c[1]);
  EXPECT_EQ(UpstreamPool::idleCount(key), 1u);
  UpstreamPool::put(key, c[1], 2, 60s);
  // The backend closes an idle connection: it leaves the pool and is never handed out.
  close(peers[1]);
  EXPECT_TRUE(runUntil([&] { return UpstreamPool::idleCount(key) == 1; }));
  EXPECT_EQ(UpstreamPool::take(key), c[0]);
  EXPECT_EQ(UpstreamPool::take(key), nullptr);
  c[0]->close();
  close(peers[0]);
  close(peers[2]);
  runUntil([&] { return worker_.sessionCount() == 0; });
  EXPECT_EQ(worker_.sessionCount(), 0u);
}

TEST_F(HttpLoop, UpstreamPoolIdleTimeoutAndStrayBytes) {
  const std::string key = "pool-b|127.0.0.1:2";
  int p1, p2;
  auto* a = new UpstreamConnection(worker_, pair(&p1));
  auto* b = new UpstreamConnection(worker_, pair(&p2));
  UpstreamPool::put(key, a, 8, 50ms);
  UpstreamPool::put(key, b, 8, 60s);
  // Bytes nobody asked for on an idle connection: it is broken, drop it.
  ASSERT_EQ(write(p2, "junk", 4), 4);
  EXPECT_TRUE(runUntil([&] { return UpstreamPool::idleCount(key) == 1; }));
  // The other one times out.
  EXPECT_TRUE(runUntil([&] { return UpstreamPool::idleCount(key) == 0; }));
  EXPECT_TRUE(runUntil([&] { return worker_.sessionCount() == 0; }));
  close(p1);
  close(p2);
}

TEST_F(HttpLoop, UpstreamPoolProbesALongIdleConnectionBeforeReuse) {
  // The backend's FIN is in the socket but the loop has not run its EOF event yet (it waits
  // behind the client read being handled): a connection parked for a while is asked
  // directly and not handed out.
  const std::string key = "pool-c|127.0.0.1:3";
  int p1, p2;
  UpstreamConnection* older = parkTwo(key, &p1, &p2).first;
  close(p2);
  std::this_thread::sleep_for(std::chrono::milliseconds(UpstreamConnection::kProbeAfterMs + 5));
  uv_update_time(worker_.loop());  // the clock moves on; no I/O event has been handled
  EXPECT_EQ(UpstreamPool::take(key), older);
  EXPECT_EQ(UpstreamPool::idleCount(key), 0u);
  older->close();
  close(p1);
  EXPECT_TRUE(runUntil([&] { return worker_.sessionCount() == 0; }));
}

TEST_F(HttpLoop, UpstreamPoolProbesEveryConnectionForARequestWithABody) {
  // A backend that closes right after its response: the FIN is in the socket at once, and the
  // next request can be handled before its EOF event. A request without a body takes the
  // connection unprobed (it is sent again on a fresh one if that fails); one with a body
  // cannot be sent again, so the connection is probed however briefly it was parked.
  const std::string key = "pool-d|127.0.0.1:4";
  int p1, p2;
  UpstreamConnection* older = parkTwo(key, &p1, &p2).first;
  close(p2);
  EXPECT_EQ(UpstreamPool::take(key, /*final_attempt=*/true), older);
  EXPECT_EQ(UpstreamPool::idleCount(key), 0u);
  UpstreamPool::put(key, older, 8, 60s);
  close(p1);
  EXPECT_EQ(UpstreamPool::take(key, /*final_attempt=*/false), older);  // the cheap path
  older->close();
  EXPECT_TRUE(runUntil([&] { return worker_.sessionCount() == 0; }));
}

}  // namespace
}  // namespace fulcrum::http
