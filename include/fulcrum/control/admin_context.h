#pragma once
// What the admin endpoint reads from the process. Control thread only: the admin server runs
// on the control loop and calls these between events, never concurrently.

#include <cstddef>

#include "fulcrum/core/snapshot.h"
#include "fulcrum/metrics/stats.h"

namespace fulcrum::control {

class AdminContext {
 public:
  virtual ~AdminContext() = default;
  virtual core::SnapshotConstSharedPtr currentSnapshot() const = 0;
  virtual bool ready() const = 0;  // listeners open and not draining
  // Graceful shutdown started: /readyz says "draining" rather than "not ready".
  virtual bool draining() const { return false; }
  virtual metrics::StatsRegistry& stats() = 0;
  // Workers running (a reload cannot change it); 0: the config's count.
  virtual size_t workers() const { return 0; }
};

}  // namespace fulcrum::control
