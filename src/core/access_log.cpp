#include "fulcrum/core/access_log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iterator>

#include "fulcrum/core/json_string.h"
#include "fulcrum/core/log.h"

namespace fulcrum::core {
namespace {

std::atomic<uint64_t> g_reopen_generation{0};

constexpr size_t kAddrBuf = INET6_ADDRSTRLEN + 8;

// Writes the address into `buf` (at least kAddrBuf bytes) and returns its view.
std::string_view sockAddrText(const sockaddr* addr, char* buf) {
  char ip[INET6_ADDRSTRLEN];
  if (addr != nullptr && addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    const int n = std::snprintf(buf, kAddrBuf, "%s:%u", ip, ntohs(in->sin_port));
    return {buf, static_cast<size_t>(n)};
  }
  if (addr != nullptr && addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    const int n = std::snprintf(buf, kAddrBuf, "[%s]:%u", ip, ntohs(in6->sin6_port));
    return {buf, static_cast<size_t>(n)};
  }
  return "-";
}

using Out = std::back_insert_iterator<std::string>;

void jsonString(std::string& out, std::string_view s) { core::appendJsonString(out, s); }

// Text values: bare when safe, otherwise quoted with \" \\ and \xHH escapes; empty is "-".
void textValue(std::string& out, std::string_view s, bool always_quote = false) {
  if (s.empty()) {
    out.push_back('-');
    return;
  }
  bool plain = !always_quote;
  for (const unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=') plain = false;
  if (plain) {
    out.append(s);
    return;
  }
  out.push_back('"');
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      fmt::format_to(Out(out), "\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

double toMs(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1000.0; }

int openFile(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

}  // namespace

AccessLogPtr AccessLog::open(const config::LogConfig& config, std::string* error) {
  const std::string& target = config.access_log;
  if (target.empty() || target == "off")
    return AccessLogPtr(new AccessLog(target, config.format, -1, false));
  if (target == "stdout")
    return AccessLogPtr(new AccessLog(target, config.format, STDOUT_FILENO, false));
  if (target == "stderr")
    return AccessLogPtr(new AccessLog(target, config.format, STDERR_FILENO, false));
  const int fd = openFile(target);
  if (fd < 0) {
    if (error) *error = fmt::format("access log {}: {}", target, std::strerror(errno));
    return nullptr;
  }
  return AccessLogPtr(new AccessLog(target, config.format, fd, true));
}

AccessLog::AccessLog(std::string target, config::LogFormat format, int fd, bool owns_fd)
    : target_(std::move(target)),
      format_(format),
      fd_(fd),
      owns_fd_(owns_fd),
      reopen_generation_(g_reopen_generation.load(std::memory_order_relaxed)) {
  line_.reserve(512);
}

AccessLog::~AccessLog() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

void AccessLog::requestReopen() { g_reopen_generation.fetch_add(1, std::memory_order_relaxed); }

void AccessLog::reopenIfRequested() {
  if (reopen_generation_ != g_reopen_generation.load(std::memory_order_relaxed)) reopen();
}

bool AccessLog::reopen(std::string* error) {
  reopen_generation_ = g_reopen_generation.load(std::memory_order_relaxed);
  if (!owns_fd_) return true;
  const int fd = openFile(target_);
  if (fd < 0) {
    const std::string message =
        fmt::format("access log {}: cannot reopen: {}", target_, std::strerror(errno));
    if (error) *error = message;
    log::error("{}", message);
    return false;  // keep writing to the old file rather than lose lines
  }
  ::close(fd_);
  fd_ = fd;
  return true;
}

void AccessLog::format(const AccessLogEntry& e, std::string& out) {
  using namespace std::chrono;
  const int64_t ms = duration_cast<milliseconds>(e.time.time_since_epoch()).count();
  const int64_t second = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  if (second != cached_second_) {
    const time_t secs = static_cast<time_t>(second);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::strftime(cached_stamp_, sizeof cached_stamp_, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second_ = second;
  }
  const int millis = static_cast<int>(ms - second * 1000);
  char addr_buf[kAddrBuf];
  const std::string_view client = sockAddrText(e.client, addr_buf);
  const bool has_upstream = e.upstream_time.count() >= 0;

  if (format_ == config::LogFormat::kJson) {
    fmt::format_to(Out(out), "{{\"time\":\"{}.{:03d}Z\",\"listener\":", cached_stamp_, millis);
    jsonString(out, e.listener);
    out.append(",\"client\":");
    jsonString(out, client);
    out.append(",\"method\":");
    jsonString(out, e.method);
    out.append(",\"path\":");
    jsonString(out, e.path);
    fmt::format_to(Out(out),
                   ",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{:.3f}",
                   e.status, e.bytes_in, e.bytes_out, toMs(e.duration));
    out.append(",\"pool\":");
    jsonString(out, e.pool);
    out.append(",\"backend\":");
    jsonString(out, e.backend);
    out.append(",\"request_id\":");
    jsonString(out, e.request_id);
    if (has_upstream)
      fmt::format_to(Out(out), ",\"upstream_ms\":{:.3f}}}\n", toMs(e.upstream_time));
    else
      out.append(",\"upstream_ms\":null}\n");
    return;
  }

  fmt::format_to(Out(out), "time={}.{:03d}Z listener=", cached_stamp_, millis);
  textValue(out, e.listener);
  out.append(" client=");
  textValue(out, client);
  out.append(" method=");
  textValue(out, e.method);
  out.append(" path=");
  textValue(out, e.path, /*always_quote=*/!e.path.empty());
  fmt::format_to(Out(out), " status={} bytes_in={} bytes_out={} duration_ms={:.3f} pool=", e.status,
                 e.bytes_in, e.bytes_out, toMs(e.duration));
  textValue(out, e.pool);
  out.append(" backend=");
  textValue(out, e.backend);
  out.append(" request_id=");
  textValue(out, e.request_id);
  if (has_upstream)
    fmt::format_to(Out(out), " upstream_ms={:.3f}\n", toMs(e.upstream_time));
  else
    out.append(" upstream_ms=-\n");
}

void AccessLog::write(const AccessLogEntry& entry) {
  if (fd_ < 0) return;
  reopenIfRequested();
  line_.clear();
  format(entry, line_);
  // One write(2) per line: O_APPEND makes it atomic against the other workers' lines. A
  // short write (a full pipe on stdout) is finished rather than leaving half a line.
  const char* p = line_.data();
  size_t left = line_.size();
  for (int attempts = 0; left > 0 && attempts < 8; ++attempts) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

std::string formatIsoTime(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const int64_t ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
  const int64_t second = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const time_t secs = static_cast<time_t>(second);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[24];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", stamp, static_cast<int>(ms - second * 1000));
}

std::string formatSockAddr(const sockaddr* addr) {
  char buf[kAddrBuf];
  return std::string(sockAddrText(addr, buf));
}

}  // namespace fulcrum::core
