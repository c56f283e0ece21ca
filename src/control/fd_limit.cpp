#include "fulcrum/control/fd_limit.h"

#include <fmt/format.h>

#include <fstream>

namespace fulcrum::control {

namespace {

// Descriptors beyond connections: per worker its loop's epoll, wake-up and timer handles and
// the access log; for the process the control loop, the admin endpoint and stdio.
constexpr uint64_t kPerWorker = 8;
constexpr uint64_t kFixed = 32;

uint64_t kernelMaxOpen() {
  uint64_t value = 1 << 20;  // the kernel's default fs.nr_open
  std::ifstream in("/proc/sys/fs/nr_open");
  in >> value;
  return value;
}

}  // namespace

uint64_t currentFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  return limit.rlim_cur;
}

FdLimit raiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
  FdLimit result{limit.rlim_cur, limit.rlim_cur};
  rlim_t target = limit.rlim_max == RLIM_INFINITY ? kernelMaxOpen() : limit.rlim_max;
  if (target <= limit.rlim_cur) return result;
  limit.rlim_cur = target;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) result.now = target;
  return result;
}

uint64_t descriptorsNeeded(const config::Config& config) {
  const uint64_t workers = config.workers == 0 ? 1 : config.workers;
  uint64_t need = kFixed + workers * kPerWorker;
  for (const auto& listener : config.listeners) {
    need += 2 * static_cast<uint64_t>(listener.limits.max_connections);
    need += workers;  // a listening socket per worker (SO_REUSEPORT)
  }
  for (const auto& pool : config.pools) {
    need += workers * pool.max_idle_per_backend * static_cast<uint64_t>(pool.backends.size());
  }
  return need;
}

std::optional<std::string> fdLimitWarning(const config::Config& config, uint64_t soft_limit) {
  const uint64_t need = descriptorsNeeded(config);
  if (soft_limit == 0 || soft_limit >= need) return std::nullopt;
  return fmt::format(
      "open file limit {} is below the {} descriptors this config can use (two per connection "
      "under the listeners' max_connections, plus idle backend connections): connections "
      "past it fail (EMFILE). Raise the hard limit (ulimit -Hn, LimitNOFILE= in a systemd unit, "
      "--ulimit nofile= for docker) or lower max_connections",
      soft_limit, need);
}

}  // namespace fulcrum::control
