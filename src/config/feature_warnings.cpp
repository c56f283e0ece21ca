// The features a config can turn on that this build parses but does not act on yet. When one
// lands, delete its check here (and its line in conf/README.md).
#include "fulcrum/config/feature_warnings.h"

namespace fulcrum::config {
namespace {

bool retriesAreDefault(const RetryConfig& r) {
  const RetryConfig d;
  return r.attempts == d.attempts && r.on.connect_failure == d.on.connect_failure &&
         r.on.reset == d.on.reset && r.on.status_502 == d.on.status_502 &&
         r.on.status_503 == d.on.status_503 && r.on.status_504 == d.on.status_504 &&
         r.backoff_base == d.backoff_base && r.backoff_max == d.backoff_max;
}

std::string notYet(const std::string& where, const std::string& what) {
  return where + ": " + what + " is not implemented yet in this build and is ignored";
}

}  // namespace

std::vector<std::string> collectNotYetImplementedWarnings(const Config& config) {
  std::vector<std::string> out;
  for (const ListenerConfig& l : config.listeners) {
    const std::string where = "listener \"" + l.name + "\"";
    if (l.tls) out.push_back(notYet(where, "tls (TLS termination)"));
    for (const Route& r : l.routes) {
      if (!r.match.sni.empty()) {
        out.push_back(notYet(where, "routing by sni (match: { sni: " + r.match.sni + " })"));
      }
    }
  }
  for (const PoolConfig& p : config.pools) {
    const std::string where = "pool \"" + p.name + "\"";
    if (p.tls) out.push_back(notYet(where, "tls (TLS to the backends)"));
    if (p.health_check) out.push_back(notYet(where, "health_check"));
    if (p.outlier_detection) out.push_back(notYet(where, "outlier_detection"));
    if (p.slow_start.count() > 0) out.push_back(notYet(where, "slow_start"));
    if (!retriesAreDefault(p.retries)) out.push_back(notYet(where, "retries"));
  }
  return out;
}

}  // namespace fulcrum::config
