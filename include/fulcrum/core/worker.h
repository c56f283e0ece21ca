#pragma once
// One worker thread: its own uv loop, listening sockets (SO_REUSEPORT), sessions, buffer
// pool and pickers. Everything here is worker-local except post(), which any thread may call.

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/core/access_log.h"
#include "fulcrum/core/buffer_pool.h"
#include "fulcrum/core/snapshot.h"

namespace fulcrum::core {

class Session;
class WorkerListener;

// Worker-local view of one snapshot: the snapshot plus this worker's pickers for its pools.
// A session holds the shared_ptr it started with, so an old generation (and its pickers)
// lives until its last session ends.
struct WorkerSnapshot {
  SnapshotConstSharedPtr snapshot;
  std::vector<balancer::PickerPtr> pickers;  // by pool index
  balancer::Picker& picker(uint32_t pool) const { return *pickers[pool]; }
};
using WorkerSnapshotSharedPtr = std::shared_ptr<WorkerSnapshot>;

// A listening socket the control thread bound for this worker (ownership of fd moves).
struct ListenFd {
  std::string address;  // Address::text of the listener
  int fd = -1;
};

class Worker {
 public:
  using Message = std::function<void(Worker&)>;

  explicit Worker(size_t id);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();  // spawns the thread
  void join();
  // Any thread: runs `message` on this worker's loop.
  void post(Message message);

  // ---- worker thread only ----
  size_t id() const { return id_; }
  uv_loop_t* loop() { return &loop_; }
  BufferPool& buffers() { return buffers_; }
  const WorkerSnapshotSharedPtr& current() const { return current_; }
  bool draining() const { return draining_; }
  uint64_t randomSeed() { return rng_(); }
  // Monotonic microseconds (uv_hrtime's clock), read at most once per phase of a loop
  // iteration and shared by every event handled in it, as HAProxy updates its `now` once per
  // poll: a request then costs no clock read of its own. The reading is dropped before each
  // poll (prepare) and after its callbacks (check), so neither the time spent waiting nor the
  // timer phase of the next iteration sees a stale one.
  uint64_t loopTimeUs() {
    if (loop_us_ == 0) loop_us_ = uv_hrtime() / 1000;
    return loop_us_;
  }
  // This worker's access log (disabled when `log.access_log: off`); never null.
  AccessLog& accessLog() { return *access_log_; }

  // Installs a new snapshot: builds pickers, reconciles listeners by address (unchanged ones
  // keep their sockets and sessions, `new_fds` open, missing ones close and their sessions
  // drain as on SIGTERM), and closes idle upstream connections to backends it no longer has.
  void applySnapshot(SnapshotConstSharedPtr snapshot, std::vector<ListenFd> new_fds);
  // Graceful shutdown: close listeners, ask every session to drain. `on_idle` runs (on this
  // worker) once no session is left.
  void startDrain(std::function<void()> on_idle);
  // Drain deadline: close every session now.
  void forceCloseAll();
  // Close the mailbox and everything else so the loop ends.
  void stop();

  size_t sessionCount() const { return session_count_; }

  // ---- WorkerListener ----
  // A new listener's id, unique on this worker for its lifetime (Session::listenerId).
  uint64_t newListenerId() { return ++last_listener_id_; }

 private:
  friend class Session;
  void addSession(Session* s);
  void removeSession(Session* s);
  void run();
  static void onAsync(uv_async_t* handle);
  static void onTrim(uv_timer_t* timer);
  void drainMailbox();
  void checkIdle();
  void drainSessionsOf(const std::vector<std::unique_ptr<WorkerListener>>& removed);
  void openAccessLog(const config::LogConfig& config);

  size_t id_;
  uv_loop_t loop_{};
  uv_async_t* async_ = nullptr;
  uv_prepare_t* prepare_ = nullptr;  // both drop loop_us_ (loopTimeUs)
  uv_check_t* check_ = nullptr;
  uv_timer_t* trim_ = nullptr;  // gives freed memory back to the system (onTrim)
  // Sessions of listeners a reload removed, closed at their drain deadline (as on SIGTERM):
  // one timer per such reload, with the listener ids it covers.
  struct RemovalDeadline {
    uv_timer_t timer;  // first: the callback casts back
    Worker* worker;
    std::vector<uint64_t> listener_ids;
  };
  std::vector<RemovalDeadline*> removal_deadlines_;
  static void onRemovalDeadline(uv_timer_t* timer);
  void closeRemovalDeadline(RemovalDeadline* d);
  uint64_t loop_us_ = 0;
  std::thread thread_;
  std::mutex mailbox_mutex_;  // control <-> worker handoff only, never on the data path
  std::vector<Message> mailbox_;
  BufferPool buffers_;
  WorkerSnapshotSharedPtr current_;
  std::vector<std::unique_ptr<WorkerListener>> listeners_;
  Session* sessions_ = nullptr;
  size_t session_count_ = 0;
  uint64_t last_listener_id_ = 0;
  bool draining_ = false;
  std::function<void()> on_idle_;
  std::mt19937_64 rng_;
  AccessLogPtr access_log_;
  std::string access_log_key_;  // target + format it was opened with
};

}  // namespace fulcrum::core
