#pragma once
// The /status document: the configuration in force and each backend's runtime state.

#include <cstddef>
#include <string>

#include "fulcrum/core/snapshot.h"

namespace fulcrum::control {

// JSON (one object, no trailing newline). `snapshot` may be null (nothing loaded yet).
// Control thread: it reads BackendState atomics, which any thread may do.
// `workers`: the workers running (a reload cannot change them); 0: the config's count.
std::string renderStatus(const core::Snapshot* snapshot, bool ready, bool draining,
                         size_t workers = 0);

}  // namespace fulcrum::control
