#pragma once
// The open-file limit (RLIMIT_NOFILE). Each proxied connection takes two descriptors, and a
// shell's default soft limit (1024) would cap a proxy at about 500 of them however high the
// listeners' max_connections are. So the process raises its soft limit to the hard one at start,
// as HAProxy and Go programs do (nginx needs worker_rlimit_nofile), and warns when even the hard
// limit is below what the config can use.

#include <sys/resource.h>

#include <cstdint>
#include <optional>
#include <string>

#include "fulcrum/config/config.h"

namespace fulcrum::control {

struct FdLimit {
  uint64_t before = 0;  // soft limit found at start
  uint64_t now = 0;     // soft limit in force
};

// Raises the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the hard one is
// unlimited). Never lowers it.
FdLimit raiseFdLimit();

// Descriptors the config can hold at once: two per connection the listeners' max_connections
// allow, every idle backend connection the keep-alive pools may keep, and the sockets the workers
// and the admin endpoint listen on. Listeners with no limit (0) count nothing: then the config
// has no bound to compare with.
uint64_t descriptorsNeeded(const config::Config& config);

// The warning for a soft limit below descriptorsNeeded(config), if it is.
std::optional<std::string> fdLimitWarning(const config::Config& config, uint64_t soft_limit);

// The soft limit in force now.
uint64_t currentFdLimit();

}  // namespace fulcrum::control
