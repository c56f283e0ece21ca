// A pool's health_check, outlier_detection and retries blocks.
#include <fmt/format.h>

#include <limits>

#include "fulcrum/config/section_parsers.h"
#include "fulcrum/config/value_parsers.h"

namespace fulcrum::config {
namespace {

constexpr int64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxRetryAttempts = 10;

void parseExpectStatus(Diagnostics& diag, const Field& field, std::vector<int>& out) {
  std::vector<int> statuses;
  bool ok = field.value.IsSequence();
  for (const Field& element : readList(diag, field, 1, "must list at least one status")) {
    int status = 0;
    if (readInt(diag, element, 100, 599, status)) {
      statuses.push_back(status);
    } else {
      ok = false;
    }
  }
  if (ok && !statuses.empty()) out = std::move(statuses);
}

}  // namespace

void parseHealthCheck(Diagnostics& diag, const Field& field, HealthCheckConfig& out) {
  MapReader m(diag, field,
              {"type", "path", "expect_status", "interval", "timeout", "healthy_threshold",
               "unhealthy_threshold"});
  if (!m.valid()) return;
  size_t index = 0;
  if (auto f = m.get("type"); f && readChoice(diag, *f, {"http", "tcp"}, index)) {
    out.type = index == 0 ? HealthCheckType::kHttp : HealthCheckType::kTcp;
  }
  if (auto f = m.get("path")) {
    std::string path;
    if (readString(diag, *f, path)) {
      if (path.front() != '/') {
        diag.error(f->mark, f->path, "must start with '/', got \"" + path + "\"");
      } else if (path.find_first_of(" \t\r\n") != std::string::npos) {
        diag.error(f->mark, f->path, "must not contain spaces, got \"" + path + "\"");
      } else {
        out.path = path;
      }
    }
  }
  if (auto f = m.get("expect_status")) parseExpectStatus(diag, *f, out.expect_status);
  bool interval_ok = true, timeout_ok = true;
  if (auto f = m.get("interval")) interval_ok = readDuration(diag, *f, false, out.interval);
  auto timeout = m.get("timeout");
  if (timeout) timeout_ok = readDuration(diag, *timeout, false, out.timeout);
  // A check that may outlast its interval would overlap the next one.
  if (interval_ok && timeout_ok && out.timeout > out.interval) {
    std::string path = timeout ? timeout->path : childPath(field.path, "interval");
    diag.error(path, "the timeout (" + formatDuration(out.timeout) +
                         ") must not be longer than the interval (" + formatDuration(out.interval) +
                         ")");
  }
  if (auto f = m.get("healthy_threshold")) readInt(diag, *f, 1, kMaxU32, out.healthy_threshold);
  if (auto f = m.get("unhealthy_threshold")) {
    readInt(diag, *f, 1, kMaxU32, out.unhealthy_threshold);
  }
}

void parseOutlierDetection(Diagnostics& diag, const Field& field, OutlierDetectionConfig& out) {
  MapReader m(diag, field, {"consecutive_failures", "base_ejection_time", "max_ejection_percent"});
  if (auto f = m.get("consecutive_failures")) {
    readInt(diag, *f, 1, kMaxU32, out.consecutive_failures);
  }
  if (auto f = m.get("base_ejection_time")) {
    readDuration(diag, *f, false, out.base_ejection_time);
  }
  if (auto f = m.get("max_ejection_percent")) readInt(diag, *f, 0, 100, out.max_ejection_percent);
}

void parseRetries(Diagnostics& diag, const Field& field, RetryConfig& out) {
  MapReader m(diag, field, {"attempts", "on", "backoff"});
  if (auto f = m.get("attempts")) readInt(diag, *f, 0, kMaxRetryAttempts, out.attempts);
  if (auto f = m.get("on")) {
    // The statuses may come as numbers (502) or strings ("502"): both read as text "502".
    static const std::vector<std::string_view> kConditions{"connect_failure", "reset", "502", "503",
                                                           "504"};
    RetryOn on{false, false, false, false, false};
    bool* flags[] = {&on.connect_failure, &on.reset, &on.status_502, &on.status_503,
                     &on.status_504};
    bool ok = f->value.IsSequence();
    for (const Field& element : readList(diag, *f)) {
      size_t index = 0;
      if (readChoice(diag, element, kConditions, index)) {
        *flags[index] = true;
      } else {
        ok = false;
      }
    }
    if (ok) out.on = on;
  }
  if (auto f = m.get("backoff")) {
    MapReader b(diag, *f, {"base", "max"});
    bool base_ok = true, max_ok = true;
    auto base = b.get("base");
    if (base) base_ok = readDuration(diag, *base, false, out.backoff_base);
    if (auto g = b.get("max")) max_ok = readDuration(diag, *g, false, out.backoff_max);
    if (base_ok && max_ok && out.backoff_base > out.backoff_max) {
      std::string path = base ? base->path : childPath(f->path, "max");
      diag.error(path, "the base (" + formatDuration(out.backoff_base) +
                           ") must not be longer than the max (" + formatDuration(out.backoff_max) +
                           ")");
    }
  }
}

}  // namespace fulcrum::config
