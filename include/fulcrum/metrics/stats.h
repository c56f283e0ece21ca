#pragma once
// Lock-free per-worker metric cells. Each stats object holds one cache-line-aligned cell per
// worker; a worker only ever writes its own cell (relaxed load + store, no read-modify-write
// contention, no lock), and the control thread sums the cells at scrape time.
// Objects are owned by StatsRegistry (control thread) by label identity and handed to workers
// through the Snapshot, so counters survive reloads for unchanged listeners/pools/backends.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fulcrum::metrics {

constexpr size_t kMaxWorkers = 256;
// Histogram bucket upper bounds in seconds (Prometheus `le`), plus +Inf.
constexpr std::array<double, 14> kLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

// A counter written by exactly one thread.
class Counter {
 public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// A gauge contribution written by exactly one thread (summed over workers at scrape).
class Gauge {
 public:
  void add(int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  int64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class Histogram {
 public:
  void observe(double seconds);
  std::array<Counter, kLatencyBuckets.size() + 1> buckets;  // non-cumulative; last = +Inf
  Counter count;
  std::atomic<uint64_t> sum_ns{0};  // single writer
};

// Status codes 100..599 by index code-100; index 0 also collects anything out of range.
struct CodeCounters {
  std::array<Counter, 500> by_code;
  void add(int code) { by_code[(code >= 100 && code < 600) ? code - 100 : 0].add(); }
};

struct alignas(64) ListenerCell {
  Counter connections_total;
  Gauge connections_active;
  Counter bytes_received;
  Counter bytes_sent;
  Gauge websocket_tunnels_active;
};

struct alignas(64) RouteCell {  // (listener, pool)
  CodeCounters requests;
  Histogram duration;
};

struct alignas(64) BackendCell {  // (pool, backend)
  CodeCounters upstream_requests;
  Counter connect_failures;
  Counter outlier_ejections;
  Histogram response;
};

struct alignas(64) PoolCell {
  Counter retries;
};

// One cell per worker, sized once (the worker count is fixed for the process lifetime).
template <class Cell>
class PerWorker {
 public:
  explicit PerWorker(size_t workers) : cells_(new Cell[workers]), size_(workers) {}
  Cell& cell(size_t worker) { return cells_[worker]; }
  const Cell& cell(size_t worker) const { return cells_[worker]; }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<Cell[]> cells_;
  size_t size_;
};

struct ListenerStats : PerWorker<ListenerCell> {
  using PerWorker::PerWorker;
  std::string listener;
};
struct RouteStats : PerWorker<RouteCell> {
  using PerWorker::PerWorker;
  std::string listener, pool;
};
struct BackendStats : PerWorker<BackendCell> {
  using PerWorker::PerWorker;
  std::string pool, backend;
};
struct PoolStats : PerWorker<PoolCell> {
  using PerWorker::PerWorker;
  std::string pool;
};

using ListenerStatsSharedPtr = std::shared_ptr<ListenerStats>;
using RouteStatsSharedPtr = std::shared_ptr<RouteStats>;
using BackendStatsSharedPtr = std::shared_ptr<BackendStats>;
using PoolStatsSharedPtr = std::shared_ptr<PoolStats>;

// Control-thread counters (health checks, reloads) live in ControlStats: one writer.
struct ControlStats {
  // (pool, backend) -> [0] passes, [1] failures; exposed as result="success" / "failure".
  std::map<std::pair<std::string, std::string>, std::array<Counter, 2>> health_checks;
  Counter reloads_success;
  Counter reloads_failure;
  std::atomic<uint64_t> generation{0};
};

// Control thread only: owns every stats object by label identity.
class StatsRegistry {
 public:
  explicit StatsRegistry(size_t workers) : workers_(workers) {}
  size_t workers() const { return workers_; }
  ListenerStatsSharedPtr listener(const std::string& name);
  RouteStatsSharedPtr route(const std::string& listener, const std::string& pool);
  BackendStatsSharedPtr backend(const std::string& pool, const std::string& address);
  PoolStatsSharedPtr pool(const std::string& name);

  // Snapshots of what exists, for the collector (control thread).
  std::vector<ListenerStatsSharedPtr> listeners() const;
  std::vector<RouteStatsSharedPtr> routes() const;
  std::vector<BackendStatsSharedPtr> backends() const;
  std::vector<PoolStatsSharedPtr> pools() const;
  ControlStats& control() { return control_; }
  const ControlStats& control() const { return control_; }
  // Drops stats objects that nothing but the registry references any more (no snapshot,
  // request or tunnel): call after a reload has retired the old snapshot. Their series
  // then leave /metrics; a name that comes back later starts again from zero.
  size_t pruneUnused();

 private:
  std::map<std::string, ListenerStatsSharedPtr> listeners_;
  std::map<std::pair<std::string, std::string>, RouteStatsSharedPtr> routes_;
  std::map<std::pair<std::string, std::string>, BackendStatsSharedPtr> backends_;
  std::map<std::string, PoolStatsSharedPtr> pools_;
  ControlStats control_;
  size_t workers_;
};

}  // namespace fulcrum::metrics
