#pragma once
// The control thread: owns the workers, publishes config snapshots (start and SIGHUP),
// handles signals and graceful shutdown, serves the admin endpoint. Control thread only,
// except post().

#include <uv.h>

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fulcrum/config/config.h"
#include "fulcrum/control/snapshot_builder.h"
#include "fulcrum/core/snapshot.h"
#include "fulcrum/core/worker.h"
#include "fulcrum/metrics/stats.h"

namespace fulcrum::control {

class AdminServer;
// The signals the control thread handles (Control::run). Blocked from before main until their
// handlers are in place: a SIGHUP that came while the config was still being read (DNS lookups
// included) killed the process (SIGHUP's default action). Once unblocked, one that came
// meanwhile is handled as usual.
void blockControlSignals();
void unblockControlSignals();

class ControlAdminContext;

class Control {
 public:
  Control(std::string config_path, config::ConfigConstSharedPtr config);
  ~Control();

  // Opens every socket, starts the workers and runs until shutdown. Returns the exit code
  // (0 clean shutdown, 1 startup failure: already said in one line on stderr).
  int run();

  // Any thread: runs `fn` on the control loop.
  void post(std::function<void()> fn);

  core::SnapshotConstSharedPtr currentSnapshot() const { return snapshot_; }
  bool ready() const { return ready_; }
  size_t workerCount() const { return worker_count_; }
  bool draining() const { return draining_; }
  metrics::StatsRegistry& stats() { return stats_; }

 private:
  // Whether log.access_log can be opened (as the workers will); else `error` says why.
  bool accessLogOpens(const config::LogConfig& log, std::string& error);
  // builder_.build, with an allocation failure turned into `error` (the caller fails the
  // start or the reload rather than the process).
  bool buildSnapshot(const config::ConfigConstSharedPtr& config, uint64_t generation,
                     core::SnapshotConstSharedPtr& out, std::string& error);
  bool openListenSockets(const config::Config& config, std::map<std::string, std::vector<int>>& fds,
                         std::string& error);
  void publish(core::SnapshotConstSharedPtr snapshot, std::map<std::string, std::vector<int>> fds,
               std::function<void()> on_applied);
  void reload();
  void beginShutdown(const char* why);
  void onWorkerIdle();
  void finishShutdown();
  void logStartup() const;
  static void onSignal(uv_signal_t* handle, int signum);
  static void onAsync(uv_async_t* handle);

  std::string config_path_;
  config::ConfigConstSharedPtr config_;
  core::SnapshotConstSharedPtr snapshot_;
  uint64_t generation_ = 0;
  size_t worker_count_;
  metrics::StatsRegistry stats_;
  SnapshotBuilder builder_;
  std::vector<std::unique_ptr<core::Worker>> workers_;
  uv_loop_t loop_{};
  std::vector<uv_signal_t*> signals_;
  uv_async_t* async_ = nullptr;
  uv_timer_t* drain_timer_ = nullptr;
  uv_timer_t* sticky_timer_ = nullptr;
  static constexpr uint64_t kStickySweepMs = 5000;
  std::mutex mailbox_mutex_;
  std::vector<std::function<void()>> mailbox_;
  std::unique_ptr<ControlAdminContext> admin_context_;
  std::unique_ptr<AdminServer> admin_;
  std::string admin_address_;  // as written, for the logs; empty without an admin endpoint
  std::string admin_key_;      // its socket address (config::Address::socketKey)
  // Admin servers a reload replaced, until their connections have closed.
  std::list<std::unique_ptr<AdminServer>> retired_admins_;
  void retireAdmin(std::unique_ptr<AdminServer> admin);
  bool ready_ = false;
  bool draining_ = false;
  bool reloading_ = false;
  bool reload_again_ = false;
  size_t idle_workers_ = 0;
};

}  // namespace fulcrum::control
