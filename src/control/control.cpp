#include "fulcrum/control/control.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <new>

#include "fulcrum/balancer/eligibility.h"
#include "fulcrum/config/config_loader.h"
#include "fulcrum/config/value_parsers.h"
#include "fulcrum/control/admin_context.h"
#include "fulcrum/control/admin_server.h"
#include "fulcrum/control/fd_limit.h"
#include "fulcrum/core/access_log.h"
#include "fulcrum/core/listener.h"
#include "fulcrum/core/log.h"
#include "fulcrum/core/uv_util.h"

namespace fulcrum::control {
namespace {

// Listening sockets opened for a config that will not run (a failed start or reload).
void closeListenSockets(std::map<std::string, std::vector<int>>& fds) {
  for (auto& [address, list] : fds)
    for (int f : list) ::close(f);
  fds.clear();
}

// Whether `address` can be listened on without sharing it with another process: 0, or
// -errno (-EADDRINUSE when someone listens there). Listeners bind with SO_REUSEPORT (one
// socket per worker), so their own bind succeeds next to any other SO_REUSEPORT socket of
// the same user, such as a second fulcrum's, and the two would split the connections
// silently. A socket without SO_REUSEPORT cannot bind where anyone listens, while
// SO_REUSEADDR still lets it past connections left in TIME_WAIT, as the real sockets do.
int probeAddressFree(const config::Address& address) {
  int fd = ::socket(address.sockAddr()->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1, zero = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // As createListenSocket: "[::]:PORT" is dual-stack, so an IPv4 listener of another process
  // on that port takes it too.
  if (address.sockAddr()->sa_family == AF_INET6)
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  int rc = ::bind(fd, address.sockAddr(), address.length) == 0 ? 0 : -errno;
  ::close(fd);
  return rc;
}

}  // namespace

class ControlAdminContext final : public AdminContext {
 public:
  explicit ControlAdminContext(Control& control) : control_(control) {}
  core::SnapshotConstSharedPtr currentSnapshot() const override {
    return control_.currentSnapshot();
  }
  bool ready() const override { return control_.ready(); }
  bool draining() const override { return control_.draining(); }
  metrics::StatsRegistry& stats() override { return control_.stats(); }
  size_t workers() const override { return control_.workerCount(); }

 private:
  Control& control_;
};

Control::Control(std::string config_path, config::ConfigConstSharedPtr config)
    : config_path_(std::move(config_path)),
      config_(std::move(config)),
      worker_count_(config_->workers),
      stats_(worker_count_),
      builder_(stats_) {
  uv_loop_init(&loop_);
}

Control::~Control() { uv_loop_close(&loop_); }

void Control::post(std::function<void()> fn) {
  // The send happens under the lock so it cannot race finishShutdown() closing the handle: a
  // worker may still be inside post() when the control thread has already run its message.
  std::lock_guard<std::mutex> lock(mailbox_mutex_);
  if (async_ == nullptr) return;  // shutting down: nobody is listening any more
  mailbox_.push_back(std::move(fn));
  uv_async_send(async_);
}

void Control::onAsync(uv_async_t* handle) {
  auto* self = static_cast<Control*>(handle->data);
  if (self == nullptr) return;
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(self->mailbox_mutex_);
    batch.swap(self->mailbox_);
  }
  for (auto& fn : batch) fn();
}

bool Control::openListenSockets(const config::Config& config,
                                std::map<std::string, std::vector<int>>& fds, std::string& error) {
  auto is_open = [&](const std::string& address) {
    if (!snapshot_) return false;
    for (const auto& l : snapshot_->config->listeners)
      if (l.listen.socketKey() == address) return true;
    return false;
  };
  // Our own listening sockets on an address that overlaps (one a reload replaces, such as
  // 0.0.0.0:80 by 127.0.0.1:80, or localhost:80 by 127.0.0.1:80; they close only once the
  // new config is applied) would make the probe fail: there it is skipped.
  auto overlaps_open = [&](const config::Address& address) {
    if (!snapshot_) return false;
    for (const auto& l : snapshot_->config->listeners)
      if (config::addressesOverlap(l.listen, address)) return true;
    return false;
  };
  auto fail = [&](const config::ListenerConfig& l, int rc) {
    error = fmt::format("{}cannot listen on {} (listener {}): {}",
                        l.listen.where.empty() ? "" : l.listen.where + ": ", l.listen.text, l.name,
                        std::strerror(-rc));
    closeListenSockets(fds);
    return false;
  };
  for (const auto& l : config.listeners) {
    if (is_open(l.listen.socketKey())) continue;
    if (!overlaps_open(l.listen)) {
      if (int rc = probeAddressFree(l.listen); rc < 0) return fail(l, rc);
    }
    std::vector<int>& list = fds[l.listen.socketKey()];
    for (size_t w = 0; w < worker_count_; ++w) {
      int fd = core::createListenSocket(l.listen.sockAddr(), l.listen.length);
      if (fd < 0) return fail(l, fd);
      list.push_back(fd);
    }
  }
  return true;
}

void Control::publish(core::SnapshotConstSharedPtr snapshot,
                      std::map<std::string, std::vector<int>> fds,
                      std::function<void()> on_applied) {
  snapshot_ = snapshot;
  stats_.control().generation.store(snapshot->generation);
  auto remaining = std::make_shared<size_t>(workers_.size());
  auto done = std::make_shared<std::function<void()>>(std::move(on_applied));
  for (size_t w = 0; w < workers_.size(); ++w) {
    std::vector<core::ListenFd> mine;
    for (auto& [address, list] : fds) mine.push_back({address, list[w]});
    // The closure captures only the immutable snapshot and shared counters, never `this`
    // beyond post(), which outlives every worker.
    workers_[w]->post(
        [this, snapshot, mine = std::move(mine), remaining, done](core::Worker& wk) mutable {
          wk.applySnapshot(snapshot, std::move(mine));
          post([remaining, done] {
            if (--*remaining == 0 && *done) (*done)();
          });
        });
  }
}

bool Control::accessLogOpens(const config::LogConfig& log, std::string& error) {
  // Each worker opens the file for itself; one that cannot be opened is found out here, so
  // that it fails the start or the reload like any other error instead of leaving the
  // workers without a log.
  std::string why;
  if (core::AccessLog::open(log, &why)) return true;
  error = why;  // names the file
  return false;
}

bool Control::buildSnapshot(const config::ConfigConstSharedPtr& config, uint64_t generation,
                            core::SnapshotConstSharedPtr& out, std::string& error) {
  try {
    out = builder_.build(config, generation);
    return true;
  } catch (const std::bad_alloc&) {
    // A source-IP sticky table is allocated whole, at its table_size; the rest is small.
    error =
        "out of memory building the configuration (sticky.table_size too large for this "
        "machine?)";
    return false;
  }
}

namespace {
// SIGQUIT is nginx's graceful stop and SIGUSR2 HAProxy's reload: an operator's habit must not
// kill the process with every connection in it (their default actions).
constexpr int kControlSignals[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGQUIT, SIGUSR2};

sigset_t controlSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int signum : kControlSignals) sigaddset(&set, signum);
  return set;
}
}  // namespace

void blockControlSignals() {
  sigset_t set = controlSignalSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void unblockControlSignals() {
  sigset_t set = controlSignalSet();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void Control::retireAdmin(std::unique_ptr<AdminServer> admin) {
  AdminServer* raw = admin.get();
  retired_admins_.push_back(std::move(admin));
  raw->close([this, raw] {
    retired_admins_.remove_if(
        [raw](const std::unique_ptr<AdminServer>& a) { return a.get() == raw; });
  });
}

int Control::run() {
  // Signal handlers first: a SIGHUP/SIGTERM that arrives while sockets open must not kill us
  // (it is handled once the loop runs). Until now they were blocked (main).
  for (int signum : kControlSignals) {
    auto* sig = new uv_signal_t{};
    uv_signal_init(&loop_, sig);
    sig->data = this;
    uv_signal_start(sig, &Control::onSignal, signum);
    signals_.push_back(sig);
  }
  unblockControlSignals();
  std::signal(SIGPIPE, SIG_IGN);
  auto close_signals = [this] {
    for (auto* s : signals_) core::closeAndDelete(s);
    signals_.clear();
    uv_run(&loop_, UV_RUN_DEFAULT);
  };

  // The first snapshot before any socket opens: what it allocates up front (source-IP sticky
  // tables) may not fit, and that is a startup failure like any other.
  core::SnapshotConstSharedPtr first;
  std::string error;
  if (!accessLogOpens(config_->log, error) || !buildSnapshot(config_, 1, first, error)) {
    std::fprintf(stderr, "fulcrum: %s\n", error.c_str());
    close_signals();
    return 1;
  }
  std::map<std::string, std::vector<int>> fds;
  if (!openListenSockets(*config_, fds, error)) {
    std::fprintf(stderr, "fulcrum: %s\n", error.c_str());
    close_signals();
    return 1;
  }
  async_ = new uv_async_t{};
  uv_async_init(&loop_, async_, &Control::onAsync);
  async_->data = this;

  if (config_->admin.enabled) {
    admin_context_ = std::make_unique<ControlAdminContext>(*this);
    admin_ = std::make_unique<AdminServer>(&loop_, *admin_context_);
    if (int rc = admin_->listen(config_->admin.listen); rc != 0) {
      std::fprintf(stderr, "fulcrum: cannot listen on %s (admin): %s\n",
                   config_->admin.listen.text.c_str(), uv_strerror(rc));
      closeListenSockets(fds);
      admin_->close();
      core::closeAndDelete(async_);
      async_ = nullptr;
      close_signals();
      admin_.reset();
      return 1;
    }
    admin_address_ = config_->admin.listen.text;
    admin_key_ = config_->admin.listen.socketKey();
  }
  // Once every socket is open: a start that fails says one thing, its reason.
  if (auto w = fdLimitWarning(*config_, currentFdLimit())) log::warn("{}", *w);

  for (size_t w = 0; w < worker_count_; ++w) {
    workers_.push_back(std::make_unique<core::Worker>(w));
    workers_.back()->start();
  }
  // Sweep expired source-IP sticky entries so fulcrum_sticky_entries counts live clients only.
  sticky_timer_ = new uv_timer_t{};
  uv_timer_init(&loop_, sticky_timer_);
  sticky_timer_->data = this;
  uv_timer_start(
      sticky_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Control*>(t->data);
        if (self == nullptr) return;
        self->builder_.expireSticky(balancer::steadyMs(std::chrono::steady_clock::now()));
      },
      kStickySweepMs, kStickySweepMs);

  generation_ = 1;
  publish(std::move(first), std::move(fds), [this] {
    ready_ = true;
    logStartup();
  });
  uv_run(&loop_, UV_RUN_DEFAULT);
  for (auto& w : workers_) w->join();
  workers_.clear();
  snapshot_.reset();
  log::info("fulcrum stopped");
  return 0;
}

void Control::logStartup() const {
  std::string listeners, pools;
  for (const auto& l : config_->listeners)
    listeners +=
        fmt::format("{}{} {} {} -> {}", listeners.empty() ? "" : ", ", l.name,
                    l.protocol == config::Protocol::kTcp ? "tcp" : "http", l.listen.text, l.pool);
  for (const auto& p : config_->pools)
    pools += fmt::format("{}{} ({}, {} backends)", pools.empty() ? "" : ", ", p.name, p.policy,
                         p.backends.size());
  log::info("fulcrum {} started: {} workers; listeners: {}; pools: {}{}", FULCRUM_VERSION,
            worker_count_, listeners, pools,
            admin_address_.empty() ? "" : fmt::format("; admin: {}", admin_address_));
}

void Control::onSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Control*>(handle->data);
  if (self == nullptr) return;
  switch (signum) {
    case SIGHUP:
      self->reload();
      break;
    case SIGTERM:
      self->beginShutdown("SIGTERM");
      break;
    case SIGINT:
      self->beginShutdown("SIGINT");
      break;
    case SIGQUIT:  // nginx's graceful stop
      self->beginShutdown("SIGQUIT");
      break;
    case SIGUSR2:
      log::warn("SIGUSR2 ignored: reload is SIGHUP, graceful shutdown SIGTERM");
      break;
    case SIGUSR1:
      log::info("SIGUSR1: reopening access logs");
      core::AccessLog::requestReopen();
      // At once, as nginx does: a worker that writes no line for a while would otherwise keep
      // the rotated file open (its disk space is not freed when it is deleted) and leave the
      // new one uncreated.
      for (auto& w : self->workers_)
        w->post([](core::Worker& wk) { wk.accessLog().reopenIfRequested(); });
      break;
    default:
      break;
  }
}

void Control::reload() {
  if (draining_) {  // said, so that an operator's reload during a drain is not a silent no-op
    log::warn("reload ignored: shutting down (draining connections)");
    return;
  }
  if (reloading_) {  // a SIGHUP during a reload: run once more when this one is applied
    reload_again_ = true;
    return;
  }
  config::LoadResult result = config::loadConfigFile(config_path_);
  if (!result.ok()) {
    for (const auto& e : result.errors) log::error("{}", e.toString());
    log::error("reload failed: {} error(s) in {}; the running config (generation {}) stays",
               result.errors.size(), config_path_, generation_);
    stats_.control().reloads_failure.add();
    return;
  }
  for (const auto& w : result.warnings) log::warn("{}", w);
  if (auto w = fdLimitWarning(*result.config, currentFdLimit())) log::warn("{}", *w);
  config::ConfigConstSharedPtr next = result.config;
  if (next->workers != worker_count_) {
    log::warn("workers changed from {} to {}: takes effect on restart only", worker_count_,
              next->workers);
  }
  std::string error;
  core::SnapshotConstSharedPtr snapshot;
  std::map<std::string, std::vector<int>> fds;
  // The admin endpoint follows its address, and comes and goes with its block. Its new socket
  // opens with the listeners' (a taken address fails the reload the same way); the old one
  // closes once the new config is in force.
  const std::string next_admin_key = next->admin.enabled ? next->admin.listen.socketKey() : "";
  const bool admin_moves = next_admin_key != admin_key_;
  std::unique_ptr<AdminServer> next_admin;
  bool ok = true;
  if (admin_moves && next->admin.enabled) {
    if (!admin_context_) admin_context_ = std::make_unique<ControlAdminContext>(*this);
    next_admin = std::make_unique<AdminServer>(&loop_, *admin_context_);
    if (int rc = next_admin->listen(next->admin.listen); rc != 0) {
      error = fmt::format("{}cannot listen on {} (admin): {}",
                          next->admin.listen.where.empty() ? "" : next->admin.listen.where + ": ",
                          next->admin.listen.text, uv_strerror(rc));
      ok = false;
    }
  }
  // Sockets first: the build forgets state the new config does not name (a failure after it
  // would leave the running config without it).
  ok = ok && accessLogOpens(next->log, error) && openListenSockets(*next, fds, error);
  if (ok && !buildSnapshot(next, generation_ + 1, snapshot, error)) {
    closeListenSockets(fds);
    ok = false;
  }
  if (!ok) {
    if (next_admin) retireAdmin(std::move(next_admin));
    log::error("reload failed: {}; the running config (generation {}) stays", error, generation_);
    stats_.control().reloads_failure.add();
    return;
  }
  log::setLevel(next->log.level);
  if (admin_moves) {
    if (admin_) retireAdmin(std::move(admin_));
    admin_ = std::move(next_admin);
    admin_address_ = next->admin.enabled ? next->admin.listen.text : "";
    admin_key_ = next_admin_key;
    log::info("admin endpoint: {}", admin_address_.empty() ? "off" : admin_address_);
  }
  config_ = next;
  ++generation_;
  reloading_ = true;
  uint64_t generation = generation_;
  publish(std::move(snapshot), std::move(fds), [this, generation] {
    reloading_ = false;
    stats_.control().reloads_success.add();
    stats_.pruneUnused();  // drop metric series of listeners/pools/backends no snapshot uses
    log::info("config reloaded: generation {}, {} listeners, {} pools", generation,
              config_->listeners.size(), config_->pools.size());
    if (reload_again_) {
      reload_again_ = false;
      reload();
    }
  });
}

void Control::beginShutdown(const char* why) {
  if (draining_) {
    log::warn("{} again: closing every connection now", why);
    for (auto& w : workers_) w->post([](core::Worker& wk) { wk.forceCloseAll(); });
    return;
  }
  draining_ = true;
  ready_ = false;
  log::info("{}: draining (up to {} ms)", why, config_->shutdown.drain_timeout.count());
  drain_timer_ = new uv_timer_t{};
  uv_timer_init(&loop_, drain_timer_);
  drain_timer_->data = this;
  uv_timer_start(
      drain_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Control*>(t->data);
        if (self == nullptr) return;
        log::info("drain timeout: closing remaining connections");
        for (auto& w : self->workers_) w->post([](core::Worker& wk) { wk.forceCloseAll(); });
      },
      static_cast<uint64_t>(config_->shutdown.drain_timeout.count()), 0);
  for (auto& w : workers_) {
    w->post(
        [this](core::Worker& wk) { wk.startDrain([this] { post([this] { onWorkerIdle(); }); }); });
  }
}

void Control::onWorkerIdle() {
  if (++idle_workers_ == workers_.size()) finishShutdown();
}

void Control::finishShutdown() {
  for (auto& w : workers_) w->post([](core::Worker& wk) { wk.stop(); });
  core::closeAndDelete(drain_timer_);
  drain_timer_ = nullptr;
  core::closeAndDelete(sticky_timer_);
  sticky_timer_ = nullptr;
  for (auto* s : signals_) core::closeAndDelete(s);
  signals_.clear();
  if (admin_) admin_->close();
  uv_async_t* async = nullptr;
  {
    std::lock_guard<std::mutex> lock(mailbox_mutex_);
    std::swap(async, async_);
  }
  core::closeAndDelete(async);
}

}  // namespace fulcrum::control
