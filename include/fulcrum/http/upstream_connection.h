#pragma once
// One TCP connection to a backend, either lent to an HttpSession for one exchange or idle in
// this worker's keep-alive pool (UpstreamPool). While idle it keeps reading: any byte or EOF
// means the backend closed or broke it, and it is dropped, never reused; `timeouts.idle`
// closes it too. It is a core::Session so that a draining worker closes idle ones and the
// loop can end. Worker-local; frees itself after its handles close.

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "fulcrum/core/session.h"
#include "fulcrum/http/stream_writer.h"

namespace fulcrum::config {
struct Config;
}  // namespace fulcrum::config

namespace fulcrum::http {

class UpstreamConnection;
class IdleList;

// The borrower's view of the connection.
class UpstreamUser {
 public:
  virtual ~UpstreamUser() = default;
  // Bytes read from the backend. The buffer is only valid during the call.
  // `length` bytes at read.data; `read` is released after this returns (retain it to keep it).
  virtual void onUpstreamData(UpstreamConnection& c, core::Buffer& read, size_t length) = 0;
  // EOF (UV_EOF) or an error. The connection is closing; the user lets go of it.
  virtual void onUpstreamClosed(UpstreamConnection& c, int status) = 0;
  // The write queue drained (see StreamWriter) or failed.
  virtual void onUpstreamDrained(UpstreamConnection& c) = 0;
  virtual void onUpstreamWriteError(UpstreamConnection& c, int status) = 0;
  // In splice mode (setSplice): the socket has bytes (or EOF) to read, none read yet.
  virtual void onUpstreamReadable(UpstreamConnection& c) = 0;
};

class UpstreamConnection final : public core::Session, private WriterObserver {
 public:
  // Takes ownership of a connected handle.
  UpstreamConnection(core::Worker& worker, uv_tcp_t* handle);

  // ---- while lent ----
  void setUser(UpstreamUser* user) { user_ = user; }
  StreamWriter& writer() { return writer_; }
  void startReading();
  void stopReading();
  // Splice mode: while reading, readiness is reported (onUpstreamReadable) and nothing is read,
  // so that the user can splice(2) the bytes on. Off again when the connection is parked.
  void setSplice(bool on) { splice_ = on; }
  bool splicing() const { return splice_; }
  // Reads take at most `bytes` (0: a whole pool buffer). While a response head is awaited: the
  // first read of a large body then copies little of it before splicing takes over.
  void limitReads(uint32_t bytes) { read_limit_ = bytes; }
  int fd() const;
  // The socket has bytes to read or its EOF now (a peek, nothing consumed): after a response
  // whose last bytes were spliced, the connection is then unfit for another request.
  bool hasPendingInput() const;
  // Reading failed with `status` (UV_EOF or an error), here or in the user's splice: closes
  // and tells the user (onUpstreamClosed).
  void readFailed(int status);
  // Writing failed with `status`, in the writer or in the user's splice into the socket:
  // closes and tells the user (onUpstreamWriteError).
  void writeFailed(int status);
  // Hands the handle over (to a tunnel's byte pump): reading stops, nothing more is written
  // here; the object stays until pending writes have called back, then frees itself.
  uv_tcp_t* release();
  // Closes now; no more callbacks to the user.
  void close();
  // Exchanges served on this connection (> 0: it came from the pool).
  uint32_t uses() const { return uses_; }
  void countUse() { ++uses_; }
  bool closing() const { return closing_; }
  // Bytes in the kernel's send queue not yet taken by the backend (SIOCOUTQ); 0 if unknown.
  size_t unsentBytes() const;

  // ---- the pool (UpstreamPool only) ----
  void parkIdle(IdleList* list, std::chrono::milliseconds idle_timeout);
  void unparkIdle();
  // Parked for at least this long, a connection is probed before reuse (stillOpen).
  static constexpr uint64_t kProbeAfterMs = 10;
  // False when the backend closed the connection (or sent bytes) while it was parked. `always`:
  // probe however briefly it was parked (a request that cannot be sent again).
  bool stillOpen(bool always);
  UpstreamConnection* idle_prev = nullptr;
  UpstreamConnection* idle_next = nullptr;

  // core::Session: idle ones close at once; a lent one is its user's business.
  void drain() override;
  void forceClose() override;

 private:
  ~UpstreamConnection() override;
  void onWriterDrained(StreamWriter&) override;
  void onWriterError(StreamWriter&, int status) override;
  void onRead(ssize_t nread, const uv_buf_t* buf);
  void maybeDelete();
  static void onIdleTimer(uv_timer_t* timer);

  uv_tcp_t* handle_;
  uv_timer_t timer_storage_{};   // embedded: no allocation per connection
  uv_timer_t* timer_ = nullptr;  // &timer_storage_ until it is closed
  uint64_t parked_at_ = 0;       // uv_now when parked
  uint64_t idle_ms_ = 0;
  StreamWriter writer_;
  UpstreamUser* user_ = nullptr;
  IdleList* idle_list_ = nullptr;  // non-null while parked
  uint32_t uses_ = 0;
  int open_handles_ = 0;  // handle_ and timer_ not yet closed
  uint32_t read_limit_ = 0;
  bool reading_ = false;
  bool splice_ = false;
  bool closing_ = false;
  bool released_ = false;
};

// This worker's idle connections to one backend (most recently used first).
class IdleList {
 public:
  UpstreamConnection* head = nullptr;
  size_t count = 0;
  // The backend is not in the worker's current config (a reload removed it): nothing is
  // parked here, a connection released to it closes. A reload that brings it back clears it.
  bool retired = false;
};

// Per-worker keep-alive pools keyed by backend identity (pool name + address). A worker is
// one thread, so the table is thread_local: no lock, and no change to core::Worker.
class UpstreamPool {
 public:
  // The list of `key`, created on first use. Lists are never erased: a caller may keep the
  // pointer instead of looking the key up per request.
  static IdleList* list(const std::string& key);
  // An idle connection to `key`, unparked, or null. `final_attempt`: the request will not be
  // sent again on a fresh connection if this one turns out closed (it has a body, or its
  // method is not idempotent), so every candidate is probed (stillOpen(true)); any other
  // request is sent again instead.
  static UpstreamConnection* take(const std::string& key, bool final_attempt = false);
  static UpstreamConnection* take(IdleList* list, bool final_attempt = false);
  // Parks `c` (reading for EOF, idle timer running) unless the list is full or the worker is
  // draining: then it is closed.
  static void put(const std::string& key, UpstreamConnection* c, size_t max_idle,
                  std::chrono::milliseconds idle_timeout);
  static void put(IdleList* list, UpstreamConnection* c, size_t max_idle,
                  std::chrono::milliseconds idle_timeout);
  static size_t idleCount(const std::string& key);
  // The key of a backend: pool name + "|" + address. keyInto writes it into `out` (cleared),
  // so that a caller with a reused string allocates nothing.
  static void keyInto(std::string& out, std::string_view pool, std::string_view address);
  static std::string key(std::string_view pool, std::string_view address);
  // A reload: only the backends of `config` (pool name + address, the identity under which
  // the snapshot builder carries backend state over) keep their lists. Idle connections to
  // any other close now and its list is retired; lists of backends that stay are untouched.
  // Until the first call (unit tests) every list is live.
  static void retainOnly(const config::Config& config);
  // Back to before the first retainOnly on this thread: every list is live. For a thread that
  // runs one worker after another (the unit tests'): a later worker's backends are not
  // retired for missing from an earlier worker's config.
  static void forgetConfig();
};

}  // namespace fulcrum::http
