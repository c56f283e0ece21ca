#include "fulcrum/core/log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

namespace fulcrum::log {
namespace {
std::atomic<int> g_level{static_cast<int>(config::LogLevel::kInfo)};

const char* levelName(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::kError:
      return "error";
    case config::LogLevel::kWarn:
      return "warn";
    case config::LogLevel::kInfo:
      return "info";
    case config::LogLevel::kDebug:
      return "debug";
  }
  return "?";
}
}  // namespace

void setLevel(config::LogLevel level) { g_level.store(static_cast<int>(level)); }

bool enabled(config::LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void write(config::LogLevel level, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line = fmt::format("{}.{:03d}Z {} {}\n", stamp, millis, levelName(level), message);
  // One write per line so lines from several threads never interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace fulcrum::log
