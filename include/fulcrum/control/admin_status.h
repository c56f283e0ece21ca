#pragma once
// The /status document: the configuration in force and each backend's runtime state.

#include <string>

#include "fulcrum/core/snapshot.h"

namespace fulcrum::control {

// JSON (one object, no trailing newline). `snapshot` may be null (nothing loaded yet).
// Control thread: it reads BackendState atomics, which any thread may do.
std::string renderStatus(const core::Snapshot* snapshot, bool ready, bool draining);

}  // namespace fulcrum::control
