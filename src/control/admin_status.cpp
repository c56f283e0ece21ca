#include "fulcrum/control/admin_status.h"

#include <fmt/format.h>

#include <chrono>
#include <iterator>
#include <string_view>

#include "fulcrum/core/access_log.h"
#include "fulcrum/core/json_string.h"

namespace fulcrum::control {
namespace {

using Out = std::back_insert_iterator<std::string>;

void jsonString(std::string& out, std::string_view s) { core::appendJsonString(out, s); }

void key(std::string& out, std::string_view name) {
  jsonString(out, name);
  out.push_back(':');
}

const char* protocolName(config::Protocol p) {
  return p == config::Protocol::kTcp ? "tcp" : "http";
}

const char* stickyName(config::StickyMode mode) {
  switch (mode) {
    case config::StickyMode::kCookie:
      return "cookie";
    case config::StickyMode::kSourceIp:
      return "source_ip";
    case config::StickyMode::kNone:
      break;
  }
  return "none";
}

// A weight-0 backend that is still healthy is "drained": an operator's choice, not a fault.
const char* healthName(const upstream::PoolMember& member, int64_t now_ms) {
  if (!member.state) return "up";
  if (!member.state->isUp()) return "down";
  if (member.state->isEjected(now_ms)) return "ejected";
  if (member.weight == 0) return "drained";
  return "up";
}

void writeListener(std::string& out, const config::ListenerConfig& l) {
  out.append("{");
  key(out, "name");
  jsonString(out, l.name);
  out.append(",");
  key(out, "address");
  jsonString(out, l.listen.text);
  fmt::format_to(Out(out), ",\"protocol\":\"{}\",\"tls\":{},", protocolName(l.protocol),
                 l.tls.has_value());
  key(out, "pool");
  jsonString(out, l.pool);
  out.append(",\"routes\":[");
  for (size_t i = 0; i < l.routes.size(); ++i) {
    const auto& r = l.routes[i];
    out.append(i ? ",{" : "{");
    const bool tcp = l.protocol == config::Protocol::kTcp;
    if (tcp) {
      key(out, "sni");
      jsonString(out, r.match.sni);
    } else {
      key(out, "host");
      jsonString(out, r.match.host);
      out.append(",");
      key(out, "path_prefix");
      jsonString(out, r.match.path_prefix);
    }
    out.append(",");
    key(out, "pool");
    jsonString(out, r.pool);
    out.append("}");
  }
  out.append("]}");
}

void writePool(std::string& out, const core::PoolRuntime& pool, int64_t now_ms) {
  const config::PoolConfig& cfg = pool.config();
  out.append("{");
  key(out, "name");
  jsonString(out, cfg.name);
  out.append(",");
  key(out, "policy");
  jsonString(out, cfg.policy);
  // Whether health checks run: not yet in this build, whatever the config says (it starts with
  // a warning), so every backend's health stays "up".
  fmt::format_to(Out(out), ",\"sticky\":\"{}\",\"health_check\":false,\"backends\":[",
                 stickyName(cfg.sticky.mode));
  bool first = true;
  for (const auto& m : pool.pool().members) {
    out.append(first ? "{" : ",{");
    first = false;
    key(out, "address");
    jsonString(out, m.address());
    const int32_t active = m.state ? m.state->active.load(std::memory_order_relaxed) : 0;
    const uint64_t answer_us =
        m.state ? m.state->answer_ewma_us.load(std::memory_order_relaxed) : 0;
    fmt::format_to(Out(out),
                   ",\"weight\":{},\"backup\":{},\"health\":\"{}\",\"active_connections\":{},"
                   "\"response_time_ms\":{:.3f}}}",
                   m.weight, m.backup, healthName(m, now_ms), active,
                   static_cast<double>(answer_us) / 1000.0);
  }
  out.append("]}");
}

}  // namespace

std::string renderStatus(const core::Snapshot* snapshot, bool ready, bool draining,
                         size_t workers) {
  std::string out;
  out.reserve(1024);
  fmt::format_to(Out(out), "{{\"version\":\"{}\",\"ready\":{},\"draining\":{}", FULCRUM_VERSION,
                 ready, draining);
  if (snapshot == nullptr || !snapshot->config) {
    out.append(",\"generation\":0,\"loaded_at\":null,\"listeners\":[],\"pools\":[]}\n");
    return out;
  }
  const config::Config& config = *snapshot->config;
  fmt::format_to(Out(out), ",\"generation\":{},\"loaded_at\":\"{}\",\"workers\":{},",
                 snapshot->generation, core::formatIsoTime(snapshot->loaded_at),
                 workers != 0 ? workers : config.workers);
  key(out, "config_file");
  jsonString(out, config.source_path);
  out.append(",\"listeners\":[");
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    if (i) out.push_back(',');
    writeListener(out, config.listeners[i]);
  }
  out.append("],\"pools\":[");
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  bool first = true;
  for (const auto& pool : snapshot->pools) {
    if (!pool.balancer || !pool.balancer->pool || !pool.balancer->pool->config) continue;
    if (!first) out.push_back(',');
    first = false;
    writePool(out, pool, now_ms);
  }
  out.append("]}\n");
  return out;
}

}  // namespace fulcrum::control
