// pools: policy, hash key, backends, sticky sessions, timeouts, keep-alive, websocket, tls.
// Health checks, outlier detection and retries are in pool_checks_parser.cpp.
#include <fmt/format.h>

#include <limits>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/config/did_you_mean.h"
#include "fulcrum/config/section_parsers.h"
#include "fulcrum/config/value_parsers.h"

namespace fulcrum::config {
namespace {

constexpr int64_t kMaxStickyEntries = 10'000'000;

constexpr int64_t kMaxWeight = 1000;
constexpr int64_t kMinBalanceFactor = 100;  // below the mean load nothing could be placed
constexpr int64_t kMaxBalanceFactor = 100000;
constexpr int64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr std::string_view kConsistentHash = "consistent_hash";

// The names come from the policy registry (builtin_policies.cpp), so adding a policy there is
// all it takes for the config to accept it.
// A function-local static: no dependence on the order of static initialisation across files.
const std::vector<std::string_view>& policies() {
  static const std::vector<std::string_view> names = balancer::policyNames();
  return names;
}

// "source_ip" | "path" | "header:NAME" | "cookie:NAME" | "query:NAME".
void readHashKey(Diagnostics& diag, const Field& field, HashKey& out) {
  std::string text;
  if (!readString(diag, field, text)) return;
  auto bad = [&](const std::string& why) {
    diag.error(field.mark, field.path,
               "invalid hash key \"" + text + "\": " + why +
                   " (use source_ip, path, header:NAME, cookie:NAME or query:NAME)");
  };
  size_t colon = text.find(':');
  std::string kind = text.substr(0, colon);
  std::string name = colon == std::string::npos ? "" : text.substr(colon + 1);
  if ((kind == "source_ip" || kind == "path") && colon == std::string::npos) {
    out.kind = kind == "path" ? HashKeyKind::kPath : HashKeyKind::kSourceIp;
    return;
  }
  if (kind != "header" && kind != "cookie" && kind != "query") {
    bad("unknown kind" + didYouMean(kind, {"source_ip", "path", "header", "cookie", "query"}));
    return;
  }
  if (name.empty()) return bad("a name is required after \"" + kind + ":\"");
  // Query parameter names are matched as they appear (percent-encoded or not), so any
  // non-empty text will do; header and cookie names are tokens.
  if (kind != "query" && !isToken(name)) {
    return bad("\"" + name + "\" is not a valid " + kind + " name");
  }
  if (kind == "header") {
    out.kind = HashKeyKind::kHeader;
    out.name = toLower(name);  // header names are case-insensitive; lookups use lowercase
  } else {
    out.kind = kind == "cookie" ? HashKeyKind::kCookie : HashKeyKind::kQuery;
    out.name = name;
  }
}

void parseBackend(Diagnostics& diag, const Field& field, BackendConfig& out) {
  MapReader m(diag, field, {"address", "weight", "backup", "max_connections"});
  if (!m.valid()) return;
  if (auto f = m.require("address")) {
    std::string text, error;
    // Names resolve now (blocking, control thread): a name that does not resolve is a typo
    // better reported by --check than by a pool that never connects.
    if (readString(diag, *f, text) && !parseAddress(text, true, out.address, error)) {
      diag.error(f->mark, f->path, error);
    }
  }
  if (auto f = m.get("weight")) readInt(diag, *f, 0, kMaxWeight, out.weight);
  if (auto f = m.get("backup")) readBool(diag, *f, out.backup);
  if (auto f = m.get("max_connections")) readInt(diag, *f, 0, kMaxU32, out.max_connections);
}

void parseBackends(Diagnostics& diag, const Field& field, std::vector<BackendConfig>& out) {
  std::vector<Field> elements = readList(diag, field, 1, "must list at least one backend");
  for (const Field& element : elements) {
    out.emplace_back();
    parseBackend(diag, element, out.back());
  }
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (sameEndpoint(out[i].address, out[j].address)) {
        diag.error(childPath(elements[i].path, "address"),
                   fmt::format("same address as backends[{}] ({})", j, out[j].address.text));
        break;
      }
    }
  }
}

void parseSticky(Diagnostics& diag, const Field& field, StickyConfig& out) {
  MapReader m(diag, field, {"mode", "cookie", "secret", "ttl", "table_size"});
  if (!m.valid()) return;
  out.mode = StickyMode::kCookie;  // the block alone turns cookie affinity on
  size_t index = 0;
  if (auto f = m.get("mode"); f && readChoice(diag, *f, {"cookie", "source_ip"}, index)) {
    out.mode = index == 0 ? StickyMode::kCookie : StickyMode::kSourceIp;
  }
  if (auto f = m.get("cookie")) {
    std::string name;
    if (readString(diag, *f, name)) {
      if (isToken(name)) {
        out.cookie = name;
      } else {
        diag.error(f->mark, f->path,
                   "\"" + name +
                       "\" is not a valid cookie name (no spaces, controls or "
                       "()<>@,;:\\\"/[]?={})");
      }
    }
  }
  if (auto f = m.get("secret")) readString(diag, *f, out.secret, /*allow_empty=*/true);
  if (auto f = m.get("ttl")) readDuration(diag, *f, false, out.ttl);
  // Allocated whole at start (about 120 bytes per entry): ten million is 1.2 GB.
  if (auto f = m.get("table_size")) readInt(diag, *f, 1, kMaxStickyEntries, out.table_size);
}

void parsePoolTimeouts(Diagnostics& diag, const Field& field, PoolTimeouts& out) {
  MapReader m(diag, field, {"connect", "response", "idle"});
  if (auto f = m.get("connect")) readDuration(diag, *f, false, out.connect);
  if (auto f = m.get("response")) readDuration(diag, *f, false, out.response);
  if (auto f = m.get("idle")) readDuration(diag, *f, false, out.idle);
}

void parseUpstreamTls(Diagnostics& diag, const Field& field, UpstreamTls& out) {
  MapReader m(diag, field, {"sni", "ca_file", "verify", "cert", "key"});
  if (!m.valid()) return;
  if (auto f = m.get("sni")) {
    std::string sni;
    if (readString(diag, *f, sni)) {
      if (isValidHostName(sni)) {
        out.sni = toLower(sni);
      } else {
        diag.error(f->mark, f->path, "\"" + sni + "\" is not a valid server name");
      }
    }
  }
  if (auto f = m.get("ca_file")) readString(diag, *f, out.ca_file);
  if (auto f = m.get("verify")) readBool(diag, *f, out.verify);
  if (auto f = m.get("cert")) readString(diag, *f, out.cert);
  if (auto f = m.get("key")) readString(diag, *f, out.key);
  // A client certificate needs its key, and a key alone is useless.
  if (m.has("cert") && !m.has("key")) m.require("key", "when cert is set");
  if (m.has("key") && !m.has("cert")) m.require("cert", "when key is set");
}

void parsePool(Diagnostics& diag, const Field& field, PoolConfig& out) {
  MapReader m(diag, field,
              {"name", "policy", "hash_key", "hash_balance_factor", "slow_start", "backends",
               "sticky", "health_check", "outlier_detection", "retries", "timeouts", "keepalive",
               "websocket", "tls"});
  if (!m.valid()) return;
  if (auto f = m.require("name")) readName(diag, *f, out.name);
  size_t index = 0;
  if (auto f = m.get("policy"); f && readChoice(diag, *f, policies(), index)) {
    out.policy = std::string(policies()[index]);
  }
  const bool hashing = out.policy == kConsistentHash;
  if (auto f = m.get("hash_key")) {
    readHashKey(diag, *f, out.hash_key);
    if (!hashing) {
      diag.warning(
          f->mark, f->path,
          "ignored: only policy consistent_hash uses it (this pool uses " + out.policy + ")");
      out.hash_key = HashKey{};
    }
  } else if (hashing) {
    out.hash_key.kind = HashKeyKind::kSourceIp;  // CONFIG.md's default
  }
  if (auto f = m.get("hash_balance_factor")) {
    int64_t factor = 0;
    if (!readInt(diag, *f, 0, kMaxBalanceFactor, factor)) {
      // reported
    } else if (factor != 0 && factor < kMinBalanceFactor) {
      diag.error(f->mark, f->path,
                 fmt::format("must be 0 (off) or at least {}, got {}", kMinBalanceFactor, factor));
    } else if (factor != 0 && !hashing) {
      diag.warning(
          f->mark, f->path,
          "ignored: only policy consistent_hash uses it (this pool uses " + out.policy + ")");
    } else {
      out.hash_balance_factor = static_cast<uint32_t>(factor);
    }
  }
  if (auto f = m.get("slow_start")) readDuration(diag, *f, true, out.slow_start);
  if (auto f = m.require("backends", "(at least one backend)")) {
    parseBackends(diag, *f, out.backends);
  }
  if (auto f = m.get("sticky")) parseSticky(diag, *f, out.sticky);
  if (auto f = m.get("health_check")) {
    out.health_check.emplace();
    parseHealthCheck(diag, *f, *out.health_check);
  }
  if (auto f = m.get("outlier_detection")) {
    out.outlier_detection.emplace();
    parseOutlierDetection(diag, *f, *out.outlier_detection);
  }
  if (auto f = m.get("retries")) parseRetries(diag, *f, out.retries);
  if (auto f = m.get("timeouts")) parsePoolTimeouts(diag, *f, out.timeouts);
  if (auto f = m.get("keepalive")) {
    MapReader k(diag, *f, {"max_idle_per_backend"});
    if (auto g = k.get("max_idle_per_backend")) {
      readInt(diag, *g, 0, kMaxU32, out.max_idle_per_backend);
    }
  }
  if (auto f = m.get("websocket")) {
    MapReader w(diag, *f, {"idle_timeout"});
    if (auto g = w.get("idle_timeout")) readDuration(diag, *g, false, out.websocket_idle_timeout);
  }
  if (auto f = m.get("tls")) {
    out.tls.emplace();
    parseUpstreamTls(diag, *f, *out.tls);
  }
}

}  // namespace

void parsePools(Diagnostics& diag, const Field& field, std::vector<PoolConfig>& out) {
  for (const Field& element : readList(diag, field, 1, "must list at least one pool")) {
    out.emplace_back();
    parsePool(diag, element, out.back());
  }
}

}  // namespace fulcrum::config
