#include "fulcrum/core/worker.h"

#include <malloc.h>

#include <atomic>
#include <thread>
#include <utility>

#include "fulcrum/core/listener.h"
#include "fulcrum/core/log.h"
#include "fulcrum/core/session.h"
#include "fulcrum/core/uv_util.h"
#include "fulcrum/http/upstream_connection.h"

namespace fulcrum::core {

namespace {
constexpr uint64_t kTrimEveryMs = 2000;
constexpr size_t kTrimAfterBytes = 4 << 20;  // freed by the buffer pool since the last look
}  // namespace

Worker::Worker(size_t id)
    : id_(id),
      rng_(std::random_device{}() ^ (id * 0x9E3779B97F4A7C15ull)),
      access_log_(AccessLog::open(config::LogConfig{})) {
  uv_loop_init(&loop_);
  async_ = new uv_async_t{};
  uv_async_init(&loop_, async_, &Worker::onAsync);
  async_->data = this;
  // Unreferenced: they never keep the loop alive on their own.
  prepare_ = new uv_prepare_t{};
  uv_prepare_init(&loop_, prepare_);
  prepare_->data = this;
  uv_prepare_start(prepare_, [](uv_prepare_t* h) { static_cast<Worker*>(h->data)->loop_us_ = 0; });
  uv_unref(reinterpret_cast<uv_handle_t*>(prepare_));
  check_ = new uv_check_t{};
  uv_check_init(&loop_, check_);
  check_->data = this;
  uv_check_start(check_, [](uv_check_t* h) { static_cast<Worker*>(h->data)->loop_us_ = 0; });
  uv_unref(reinterpret_cast<uv_handle_t*>(check_));
  trim_ = new uv_timer_t{};
  uv_timer_init(&loop_, trim_);
  trim_->data = this;
  uv_timer_start(trim_, &Worker::onTrim, kTrimEveryMs, kTrimEveryMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(trim_));
}

// After a spike (many clients reading slower than their backends send fill every writer to its
// high watermark, hundreds of KiB each), the buffers go back to malloc beyond the pool's cache.
// malloc keeps most of that memory: it lies between chunks still in use, where the heap's top
// cannot shrink past it. So the process would stay at its peak size for good, which looks like
// a leak to whoever watches its RSS. malloc_trim hands the free pages back (HAProxy trims its
// pools the same way). Only once a spike is over (the buffers in use fit the pool's cache
// again): while it lasts, the pages would only be faulted in again. It takes milliseconds (16
// ms after a 170 MiB spike here), so it runs on a thread of its own, not on the loop: the
// data path does not malloc in steady state, so the arena locks malloc_trim takes in turn
// cost the workers nothing.
void Worker::onTrim(uv_timer_t* timer) {
  auto* self = static_cast<Worker*>(timer->data);
  if (self->buffers_.outstanding() > self->buffers_.maxCached()) return;  // not over yet
  // Counted until a trim: a spike that drains slowly frees its memory over many ticks.
  if (self->buffers_.freedBytes() < kTrimAfterBytes) return;
  static std::atomic<bool> trimming{false};
  if (trimming.exchange(true)) return;  // one at a time, for every worker
  self->buffers_.takeFreedBytes();
  std::thread([id = self->id_] {
    uint64_t start = uv_hrtime();
    malloc_trim(0);
    log::debug("worker {}: freed memory given back to the system in {} us", id,
               (uv_hrtime() - start) / 1000);
    trimming = false;
  }).detach();
}

Worker::~Worker() {
  // The loop ran to completion in run(); closing it here frees its internal resources.
  uv_loop_close(&loop_);
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Everything is closed; let pending close callbacks run.
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Worker::post(Message message) {
  // Send under the lock so it cannot race stop() closing the handle.
  std::lock_guard<std::mutex> lock(mailbox_mutex_);
  if (async_ == nullptr) return;  // stopped
  mailbox_.push_back(std::move(message));
  uv_async_send(async_);
}

void Worker::onAsync(uv_async_t* handle) {
  auto* self = static_cast<Worker*>(handle->data);
  if (self != nullptr) self->drainMailbox();
}

void Worker::drainMailbox() {
  std::vector<Message> batch;
  {
    std::lock_guard<std::mutex> lock(mailbox_mutex_);
    batch.swap(mailbox_);
  }
  for (auto& m : batch) m(*this);
}

void Worker::applySnapshot(SnapshotConstSharedPtr snapshot, std::vector<ListenFd> new_fds) {
  auto next = std::make_shared<WorkerSnapshot>();
  next->snapshot = snapshot;
  next->pickers.reserve(snapshot->pools.size());
  for (const auto& pool : snapshot->pools) {
    // Hand the previous picker of the same pool over so a cursor survives the reload.
    const balancer::Picker* previous = nullptr;
    if (current_) {
      const auto& old = *current_->snapshot;
      for (size_t i = 0; i < old.pools.size(); ++i)
        if (old.pools[i].pool().name() == pool.pool().name()) previous = current_->pickers[i].get();
    }
    next->pickers.push_back(balancer::createPoolPicker(*pool.balancer, previous, rng_()));
  }
  current_ = std::move(next);
  openAccessLog(snapshot->config->log);
  // Idle keep-alive connections to a backend the new config dropped would otherwise stay open
  // until timeouts.idle, and ones released later would be parked again.
  http::UpstreamPool::retainOnly(*snapshot->config);

  // Reconcile listeners by address.
  std::vector<std::unique_ptr<WorkerListener>> kept;
  for (const auto& lr : snapshot->listeners) {
    const std::string& address = lr.config->listen.socketKey();  // one socket, however spelt
    std::unique_ptr<WorkerListener> found;
    for (auto& l : listeners_)
      if (l && l->address() == address) found = std::move(l);
    if (!found && !draining_) {
      for (auto& fd : new_fds) {
        if (fd.address != address || fd.fd < 0) continue;
        found = std::make_unique<WorkerListener>(*this, address, lr.index);
        if (int rc = found->open(fd.fd); rc != 0) {
          log::error("worker {}: cannot listen on {}: {}", id_, address, uv_strerror(rc));
          found.reset();
        }
        fd.fd = -1;
      }
    }
    if (found) {
      found->setIndex(lr.index);
      found->setAcceptDeferral(lr.config->protocol == config::Protocol::kHttp &&
                               deferHttpAccept(lr.config->timeouts.client_header));
      kept.push_back(std::move(found));
    }
  }
  listeners_.swap(kept);  // what is left in `kept` are removed listeners: they close here
  drainSessionsOf(kept);
  kept.clear();
  // Sessions between requests let go of the old snapshot now (one walk per reload).
  for (Session* s = sessions_; s != nullptr; s = s->next_) s->snapshotChanged();
  for (auto& fd : new_fds)
    if (fd.fd >= 0) ::close(fd.fd);
}

void Worker::drainSessionsOf(const std::vector<std::unique_ptr<WorkerListener>>& removed) {
  // A removed listener's connections drain as on SIGTERM (its keep-alive clients would
  // otherwise be served indefinitely by a listener the config no longer has). Matched by
  // listener id: a listener kept across the reload keeps its sessions untouched, and one
  // removed and re-added on the same address is a new listener. While the worker drains,
  // every session already has been.
  if (draining_) return;
  std::vector<Session*> matched;
  for (Session* s = sessions_; s != nullptr; s = s->next_) {
    if (s->listener_id_ == 0) continue;
    for (const auto& l : removed)  // null: a listener the reload kept (moved out)
      if (l && l->id() == s->listener_id_) matched.push_back(s);
  }
  // drain() may end a session synchronously (closing is async, but be safe): walk a copy.
  for (Session* s : matched) s->drain();
  if (matched.empty() || !current_) return;
  // What is still open at shutdown.drain_timeout (tunnels, tcp sessions, a slow upload) is
  // closed then, as on SIGTERM: without a deadline a websocket would outlive its listener for
  // its whole idle timeout, and keep the old configuration alive with it.
  auto* d = new RemovalDeadline{};
  d->worker = this;
  for (const auto& l : removed)
    if (l) d->listener_ids.push_back(l->id());
  uv_timer_init(&loop_, &d->timer);
  d->timer.data = d;
  uv_timer_start(&d->timer, &Worker::onRemovalDeadline,
                 static_cast<uint64_t>(current_->snapshot->config->shutdown.drain_timeout.count()),
                 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&d->timer));  // never holds the loop open
  removal_deadlines_.push_back(d);
}

void Worker::onRemovalDeadline(uv_timer_t* timer) {
  auto* d = static_cast<RemovalDeadline*>(timer->data);
  Worker* self = d->worker;
  std::vector<Session*> late;
  for (Session* s = self->sessions_; s != nullptr; s = s->next_)
    for (uint64_t id : d->listener_ids)
      if (s->listener_id_ == id) late.push_back(s);
  self->closeRemovalDeadline(d);
  for (Session* s : late) s->forceClose();
}

void Worker::closeRemovalDeadline(RemovalDeadline* d) {
  std::erase(removal_deadlines_, d);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
           [](uv_handle_t* h) { delete static_cast<RemovalDeadline*>(h->data); });
}

void Worker::openAccessLog(const config::LogConfig& config) {
  std::string key =
      config.access_log + (config.format == config::LogFormat::kJson ? "|json" : "|text");
  if (access_log_ && key == access_log_key_) return;
  std::string error;
  AccessLogPtr log = AccessLog::open(config, &error);
  if (!log) {
    // Keep the old log (or a disabled one) rather than lose the worker.
    log::error("worker {}: access log: {}", id_, error);
    if (!access_log_) access_log_ = AccessLog::open(config::LogConfig{});
    return;
  }
  access_log_ = std::move(log);
  access_log_key_ = std::move(key);
}

void Worker::startDrain(std::function<void()> on_idle) {
  draining_ = true;
  on_idle_ = std::move(on_idle);
  listeners_.clear();
  // drain() may end a session synchronously (closing is async, but be safe): walk a copy.
  std::vector<Session*> all;
  for (Session* s = sessions_; s != nullptr; s = s->next_) all.push_back(s);
  for (Session* s : all) s->drain();
  checkIdle();
}

void Worker::forceCloseAll() {
  std::vector<Session*> all;
  for (Session* s = sessions_; s != nullptr; s = s->next_) all.push_back(s);
  for (Session* s : all) s->forceClose();
}

void Worker::stop() {
  listeners_.clear();
  current_.reset();
  uv_async_t* async = nullptr;
  {
    std::lock_guard<std::mutex> lock(mailbox_mutex_);
    std::swap(async, async_);
  }
  closeAndDelete(async);
  closeAndDelete(std::exchange(prepare_, nullptr));
  closeAndDelete(std::exchange(check_, nullptr));
  closeAndDelete(std::exchange(trim_, nullptr));
  while (!removal_deadlines_.empty()) closeRemovalDeadline(removal_deadlines_.back());
}

void Worker::addSession(Session* s) {
  s->next_ = sessions_;
  if (sessions_ != nullptr) sessions_->prev_ = s;
  sessions_ = s;
  ++session_count_;
}

void Worker::removeSession(Session* s) {
  if (s->prev_ != nullptr) s->prev_->next_ = s->next_;
  if (s->next_ != nullptr) s->next_->prev_ = s->prev_;
  if (sessions_ == s) sessions_ = s->next_;
  s->prev_ = s->next_ = nullptr;
  --session_count_;
  if (draining_) checkIdle();
}

void Worker::checkIdle() {
  if (draining_ && session_count_ == 0 && on_idle_) {
    auto cb = std::move(on_idle_);
    on_idle_ = nullptr;
    cb();
  }
}

}  // namespace fulcrum::core
