#pragma once
// One accepted downstream connection counted against its listener's `limits.max_connections`
// and the `fulcrum_downstream_connections_active` gauge. Releasing (destruction) gives the
// slot back. Worker-local object; the shared count is an atomic (one RMW per connection).

#include <atomic>
#include <cstdint>
#include <memory>

#include "fulcrum/metrics/stats.h"

namespace fulcrum::core {

using ConnectionCounter = std::shared_ptr<std::atomic<int64_t>>;

class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionCounter counter, metrics::ListenerCell* cell)
      : counter_(std::move(counter)), cell_(cell) {}
  ConnectionSlot(ConnectionSlot&& o) noexcept : counter_(std::move(o.counter_)), cell_(o.cell_) {
    o.cell_ = nullptr;
  }
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      release();
      counter_ = std::move(o.counter_);
      cell_ = o.cell_;
      o.cell_ = nullptr;
    }
    return *this;
  }
  ~ConnectionSlot() { release(); }

  // The listener's per-worker metric cell (bytes, tunnels), or null.
  metrics::ListenerCell* cell() const { return cell_; }

  void release() {
    if (counter_) counter_->fetch_sub(1, std::memory_order_relaxed);
    if (cell_ != nullptr) cell_->connections_active.add(-1);
    counter_.reset();
    cell_ = nullptr;
  }

 private:
  ConnectionCounter counter_;
  metrics::ListenerCell* cell_ = nullptr;
};

}  // namespace fulcrum::core
