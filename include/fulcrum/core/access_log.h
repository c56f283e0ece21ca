#pragma once
// The access log (CONFIG.md `log.access_log`, `log.format`): one line per HTTP request or
// TCP session, as JSON or key=value text.
// Worker-local: every worker owns its own AccessLog. Each line is one write(2) on an
// O_APPEND descriptor, so lines from several workers never interleave and no lock is needed.

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fulcrum/config/config.h"

namespace fulcrum::core {

// What one line says. Views only: the caller's buffers must live through write().
struct AccessLogEntry {
  std::chrono::system_clock::time_point time;  // when the request (or session) started
  std::string_view listener;
  const sockaddr* client = nullptr;  // client address (IP and port); null: "-"
  std::string_view method;           // empty for tcp sessions
  std::string_view path;             // request target as received
  int status = 0;                    // tcp sessions: 200 connected, 502/503 not (nginx stream)
  uint64_t bytes_in = 0;             // from the client
  uint64_t bytes_out = 0;            // to the client
  std::chrono::microseconds duration{0};
  std::string_view pool;
  std::string_view backend;     // the backend's configured address; empty: none
  std::string_view request_id;  // X-Request-Id; empty for tcp sessions
  // Until the backend's response head; negative: no upstream response (logged as null / -).
  std::chrono::microseconds upstream_time{-1};
};

class AccessLog;
using AccessLogPtr = std::unique_ptr<AccessLog>;

class AccessLog {
 public:
  // `access_log: off` gives a disabled log (write() does nothing). A file that cannot be
  // opened gives nullptr and a message in `error` naming it.
  static AccessLogPtr open(const config::LogConfig& config, std::string* error = nullptr);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return fd_ >= 0; }
  const std::string& target() const { return target_; }
  config::LogFormat format() const { return format_; }

  // Formats and writes one line. Never throws, never allocates once warm (the line buffer
  // is reused). A failed write drops the line.
  void write(const AccessLogEntry& entry);
  // Appends the line (with its '\n') to `out`: what write() would write.
  void format(const AccessLogEntry& entry, std::string& out);

  // Re-opens a file target (after log rotation). On the owning thread. Keeps the old
  // descriptor if the new open fails. stdout/stderr/off: nothing to do.
  bool reopen(std::string* error = nullptr);
  // Any thread (the SIGUSR1 handler): every AccessLog re-opens itself at its next
  // reopenIfRequested() (which the control thread has each worker run at once, so that an idle
  // worker lets go of a rotated file too), and before its next line in any case.
  static void requestReopen();
  // On the owning thread: reopen() if requestReopen() was called since the last one.
  void reopenIfRequested();

 private:
  AccessLog(std::string target, config::LogFormat format, int fd, bool owns_fd);

  std::string target_;
  config::LogFormat format_;
  int fd_;
  bool owns_fd_;
  uint64_t reopen_generation_;
  std::string line_;
  // The formatted second of the last line: most lines share it, so strftime runs once a
  // second at most.
  int64_t cached_second_ = -1;
  char cached_stamp_[24] = {};
};

// "2026-11-23T10:00:00.123Z" (UTC, milliseconds).
std::string formatIsoTime(std::chrono::system_clock::time_point time);
// "127.0.0.1:5555", "[::1]:5555"; "-" for null or an unknown family.
std::string formatSockAddr(const sockaddr* addr);

}  // namespace fulcrum::core
