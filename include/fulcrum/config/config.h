#pragma once
// The validated, immutable configuration model (CONFIG.md). Plain structs, no libuv.
// Immutable after build: a Config is shared read-only by every thread through a Snapshot.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fulcrum::config {

using Duration = std::chrono::milliseconds;

// A configured address. `text` is what the user wrote (used as the metric label and the
// backend identity); `storage` is the address it resolved to at load time.
struct Address {
  std::string text;  // "127.0.0.1:9001", "[::1]:80", "db.internal:5432"
  std::string host;  // without brackets
  uint16_t port = 0;
  sockaddr_storage storage{};
  socklen_t length = 0;
  // The resolved address as text ("127.0.0.1:80", "[::1]:80"), empty while unresolved.
  std::string socket;
  // Where it is written ("conf/app.yaml:7:13: listeners[0].listen"), for an error that only
  // opening the socket finds (address in use at a reload); empty when not from a file.
  std::string where;

  const sockaddr* sockAddr() const { return reinterpret_cast<const sockaddr*>(&storage); }
  // What identifies a listening socket across reloads: two spellings of one address
  // (localhost:80 and 127.0.0.1:80) are one socket, which a reload must keep, not re-bind.
  const std::string& socketKey() const { return socket.empty() ? text : socket; }
  bool operator==(const Address& o) const { return text == o.text; }
};

enum class LogLevel { kError, kWarn, kInfo, kDebug };
enum class LogFormat { kJson, kText };
enum class Protocol { kHttp, kTcp };

struct AdminConfig {
  bool enabled = false;
  Address listen;
};

struct ShutdownConfig {
  Duration drain_timeout{30'000};
};

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  std::string access_log = "off";  // off | stdout | stderr | a file path
  LogFormat format = LogFormat::kJson;
};

struct RouteMatch {
  std::string host;         // http: exact, lowercased, no port; empty = any
  std::string path_prefix;  // http: empty = any
  std::string sni;          // tcp: "*.example.com" or exact; empty = any
};

struct Route {
  RouteMatch match;
  std::string pool;
};

struct TlsCertificate {
  std::string cert;
  std::string key;
};

struct ListenerTls {
  std::vector<TlsCertificate> certificates;  // first is the default
  std::string min_version = "1.2";
  std::vector<std::string> alpn{"http/1.1"};
};

struct ListenerLimits {
  uint32_t max_connections = 10000;
  uint64_t max_header_bytes = 32 * 1024;
  uint64_t max_body_bytes = 0;  // 0 = unlimited
};

struct ListenerTimeouts {
  Duration client_header{10'000};
  Duration client_idle{60'000};
};

struct HeaderRules {
  bool forwarded = true;
  bool request_id = true;
};

struct ListenerConfig {
  std::string name;
  Address listen;
  Protocol protocol = Protocol::kHttp;
  std::string pool;  // tcp: required; http: default pool when no route matches
  std::vector<Route> routes;
  std::optional<ListenerTls> tls;
  ListenerLimits limits;
  ListenerTimeouts timeouts;
  HeaderRules headers;
};

struct BackendConfig {
  Address address;
  uint32_t weight = 1;  // 0 = drained
  bool backup = false;
  uint32_t max_connections = 0;  // 0 = unlimited
};

enum class HashKeyKind { kNone, kSourceIp, kHeader, kCookie, kPath, kQuery };

struct HashKey {
  HashKeyKind kind = HashKeyKind::kNone;
  std::string name;  // header name (lowercased), cookie name or query parameter
};

enum class StickyMode { kNone, kCookie, kSourceIp };

struct StickyConfig {
  StickyMode mode = StickyMode::kNone;
  std::string cookie = "FULCRUM_STICKY";
  std::string secret;
  Duration ttl{30 * 60'000};
  uint32_t table_size = 100000;
};

enum class HealthCheckType { kHttp, kTcp };

struct HealthCheckConfig {
  HealthCheckType type = HealthCheckType::kHttp;
  std::string path = "/healthz";
  std::vector<int> expect_status{200};
  Duration interval{2'000};
  Duration timeout{1'000};
  uint32_t healthy_threshold = 2;
  uint32_t unhealthy_threshold = 3;
};

struct OutlierDetectionConfig {
  uint32_t consecutive_failures = 5;
  Duration base_ejection_time{30'000};
  uint32_t max_ejection_percent = 50;
};

struct RetryOn {
  bool connect_failure = true;
  bool reset = true;
  bool status_502 = true;
  bool status_503 = true;
  bool status_504 = true;
};

struct RetryConfig {
  uint32_t attempts = 1;
  RetryOn on;
  Duration backoff_base{25};
  Duration backoff_max{250};
};

struct PoolTimeouts {
  Duration connect{2'000};
  Duration response{30'000};
  Duration idle{60'000};
};

struct UpstreamTls {
  std::string sni;
  std::string ca_file;  // empty: system store
  bool verify = true;
  std::string cert;
  std::string key;
};

struct PoolConfig {
  std::string name;
  std::string policy = "round_robin";
  HashKey hash_key;  // consistent_hash only
  uint32_t hash_balance_factor = 0;
  Duration slow_start{0};
  std::vector<BackendConfig> backends;
  StickyConfig sticky;
  std::optional<HealthCheckConfig> health_check;
  std::optional<OutlierDetectionConfig> outlier_detection;
  RetryConfig retries;
  PoolTimeouts timeouts;
  uint32_t max_idle_per_backend = 64;
  Duration websocket_idle_timeout{60 * 60'000};
  std::optional<UpstreamTls> tls;
};

struct Config {
  std::string source_path;  // the file it was loaded from
  uint32_t workers = 0;     // resolved: `auto` becomes the CPU count
  AdminConfig admin;
  ShutdownConfig shutdown;
  LogConfig log;
  std::vector<ListenerConfig> listeners;
  std::vector<PoolConfig> pools;

  const PoolConfig* findPool(const std::string& name) const;
};

using ConfigConstSharedPtr = std::shared_ptr<const Config>;

}  // namespace fulcrum::config
