#pragma once
// Process log to stderr: one line per event, "2026-11-23T10:00:00.123Z level message".
// Thread-safe (one write(2) per line); the level is set once at start and on reload.

#include <fmt/format.h>

#include <atomic>
#include <string>
#include <string_view>

#include "fulcrum/config/config.h"

namespace fulcrum::log {

void setLevel(config::LogLevel level);
bool enabled(config::LogLevel level);
void write(config::LogLevel level, std::string_view message);

template <class... Args>
void error(fmt::format_string<Args...> fmt, Args&&... args) {
  write(config::LogLevel::kError, fmt::format(fmt, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> fmt, Args&&... args) {
  if (enabled(config::LogLevel::kWarn))
    write(config::LogLevel::kWarn, fmt::format(fmt, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> fmt, Args&&... args) {
  if (enabled(config::LogLevel::kInfo))
    write(config::LogLevel::kInfo, fmt::format(fmt, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> fmt, Args&&... args) {
  if (enabled(config::LogLevel::kDebug))
    write(config::LogLevel::kDebug, fmt::format(fmt, std::forward<Args>(args)...));
}

}  // namespace fulcrum::log
