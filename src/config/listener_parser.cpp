// listeners: name, address, protocol, routes, tls, limits, timeouts, headers.
#include <algorithm>

#include "fulcrum/config/section_parsers.h"
#include "fulcrum/config/value_parsers.h"

namespace fulcrum::config {
namespace {

constexpr uint64_t kMaxHeaderBytesLimit = uint64_t{16} << 20;

// An http route host: matched exactly (case-insensitively, port and a trailing dot ignored), so
// it is stored lowercased without a trailing dot and must not carry a port of its own.
void readRouteHost(Diagnostics& diag, const Field& field, std::string& out) {
  std::string host;
  if (!readString(diag, field, host)) return;
  host = toLower(host);
  if (host.size() > 1 && host.back() == '.') host.pop_back();  // "a.com." names "a.com"
  bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  // An IPv6 literal written bare ("::1") is matched in the form a Host header carries it.
  Address literal;
  std::string error;
  if (!bracketed && std::count(host.begin(), host.end(), ':') >= 2 &&
      parseAddress("[" + host + "]:1", false, literal, error) && literal.length != 0) {
    host = "[" + host + "]";
    bracketed = true;
  }
  if (!bracketed && host.find(':') != std::string::npos) {
    diag.error(field.mark, field.path,
               "\"" + host +
                   "\" must be a host name without a port (ports are ignored when "
                   "matching)");
    return;
  }
  bool is_ip = parseAddress(host + ":1", false, literal, error) && literal.length != 0;
  if (!is_ip && !isValidHostName(host)) {
    diag.error(field.mark, field.path, "\"" + host + "\" is not a valid host name");
    return;
  }
  out = host;
}

// A tcp route SNI: an exact name or "*.suffix".
void readSni(Diagnostics& diag, const Field& field, std::string& out) {
  std::string sni;
  if (!readString(diag, field, sni)) return;
  sni = toLower(sni);
  std::string_view name = sni;
  if (name.rfind("*.", 0) == 0) name.remove_prefix(2);
  if (!isValidHostName(name)) {
    diag.error(field.mark, field.path,
               "\"" + sni + "\" is not a valid server name (an exact name or *.example.com)");
    return;
  }
  out = sni;
}

void parseMatch(Diagnostics& diag, const Field& field, Protocol protocol, RouteMatch& out) {
  MapReader m(diag, field, {"host", "path_prefix", "sni"});
  const bool http = protocol == Protocol::kHttp;
  if (auto f = m.get("host")) {
    if (http) {
      readRouteHost(diag, *f, out.host);
    } else {
      diag.error(f->mark, f->path, "only http listeners match on host (tcp routes match on sni)");
    }
  }
  if (auto f = m.get("path_prefix")) {
    if (!http) {
      diag.error(f->mark, f->path,
                 "only http listeners match on path_prefix (tcp routes match on sni)");
    } else if (readString(diag, *f, out.path_prefix) && out.path_prefix.front() != '/') {
      diag.error(f->mark, f->path, "must start with '/', got \"" + out.path_prefix + "\"");
    }
  }
  if (auto f = m.get("sni")) {
    if (http) {
      diag.error(f->mark, f->path,
                 "only tcp listeners match on sni (http routes match on host and path_prefix)");
    } else {
      readSni(diag, *f, out.sni);
    }
  }
}

void parseRoutes(Diagnostics& diag, const Field& field, Protocol protocol,
                 std::vector<Route>& out) {
  for (const Field& element : readList(diag, field)) {
    Route route;
    MapReader m(diag, element, {"match", "pool"},
                {{"host", "match"}, {"path_prefix", "match"}, {"sni", "match"}});
    if (m.valid()) {
      // No match block matches everything, as an empty one does.
      if (auto f = m.get("match")) parseMatch(diag, *f, protocol, route.match);
      if (auto f = m.require("pool")) readName(diag, *f, route.pool);
    }
    out.push_back(std::move(route));
  }
}

void parseCertificates(Diagnostics& diag, const Field& field, std::vector<TlsCertificate>& out) {
  for (const Field& element :
       readList(diag, field, 1, "must list at least one certificate (with cert and key)")) {
    TlsCertificate cert;
    MapReader m(diag, element, {"cert", "key"});
    if (auto f = m.require("cert")) readString(diag, *f, cert.cert);
    if (auto f = m.require("key")) readString(diag, *f, cert.key);
    out.push_back(std::move(cert));
  }
}

void parseListenerTls(Diagnostics& diag, const Field& field, ListenerTls& out) {
  MapReader m(diag, field, {"certificates", "min_version", "alpn"});
  if (!m.valid()) return;
  if (auto f = m.require("certificates")) parseCertificates(diag, *f, out.certificates);
  if (auto f = m.get("min_version")) {
    // Unquoted, YAML reads 1.2 as a number; its text is still "1.2".
    size_t index = 0;
    if (readChoice(diag, *f, {"1.2", "1.3"}, index)) out.min_version = index == 0 ? "1.2" : "1.3";
  }
  if (auto f = m.get("alpn")) {
    std::vector<std::string> alpn;
    if (readStringList(diag, *f, alpn)) {
      bool ok = true;
      for (size_t i = 0; i < alpn.size(); ++i) {
        if (alpn[i].size() > 255) {  // one length byte on the wire
          diag.error(indexPath(f->path, i), "a protocol name is at most 255 bytes");
          ok = false;
        }
      }
      if (ok) out.alpn = std::move(alpn);
    }
  }
}

// A key that only the HTTP path reads, set on a tcp listener: still checked, and a warning says
// it does nothing there (as HAProxy warns about http rules in a tcp proxy).
void warnHttpOnly(Diagnostics& diag, const Field& f, bool tcp, const char* instead = "") {
  if (tcp) {
    diag.warning(
        f.mark, f.path,
        std::string("ignored: only http listeners use it (this listener is tcp") + instead + ")");
  }
}

void parseLimits(Diagnostics& diag, const Field& field, bool tcp, ListenerLimits& out) {
  MapReader m(diag, field, {"max_connections", "max_header_bytes", "max_body_bytes"});
  if (auto f = m.get("max_connections")) {
    readInt(diag, *f, 1, std::numeric_limits<uint32_t>::max(), out.max_connections);
  }
  if (auto f = m.get("max_header_bytes")) {
    readSize(diag, *f, 1, kMaxHeaderBytesLimit, out.max_header_bytes);
    warnHttpOnly(diag, *f, tcp);
  }
  if (auto f = m.get("max_body_bytes")) {
    readSize(diag, *f, 0, std::numeric_limits<uint64_t>::max(), out.max_body_bytes);
    warnHttpOnly(diag, *f, tcp);
  }
}

void parseTimeouts(Diagnostics& diag, const Field& field, bool tcp, ListenerTimeouts& out) {
  MapReader m(diag, field, {"client_header", "client_idle"});
  constexpr const char* kTcpIdle = "; a tcp session's idle limit is its pool's timeouts.idle";
  if (auto f = m.get("client_header")) {
    readDuration(diag, *f, false, out.client_header);
    warnHttpOnly(diag, *f, tcp);
  }
  if (auto f = m.get("client_idle")) {
    readDuration(diag, *f, false, out.client_idle);
    warnHttpOnly(diag, *f, tcp, kTcpIdle);
  }
}

void parseHeaders(Diagnostics& diag, const Field& field, HeaderRules& out) {
  MapReader m(diag, field, {"forwarded", "request_id"});
  if (auto f = m.get("forwarded")) readBool(diag, *f, out.forwarded);
  if (auto f = m.get("request_id")) readBool(diag, *f, out.request_id);
}

void parseListener(Diagnostics& diag, const Field& field, ListenerConfig& out) {
  MapReader m(
      diag, field,
      {"name", "listen", "protocol", "pool", "routes", "tls", "limits", "timeouts", "headers"});
  if (!m.valid()) return;
  if (auto f = m.require("name")) readName(diag, *f, out.name);
  if (auto f = m.require("listen")) {
    std::string text, error;
    if (readString(diag, *f, text) && !parseListenAddress(text, out.listen, error)) {
      diag.error(f->mark, f->path, error);
    }
    out.listen.where = diag.position(f->mark, f->path);
  }
  if (auto f = m.get("protocol")) {
    size_t index = 0;
    if (readChoice(diag, *f, {"http", "tcp"}, index)) {
      out.protocol = index == 0 ? Protocol::kHttp : Protocol::kTcp;
    }
  }
  if (auto f = m.get("pool")) readName(diag, *f, out.pool);
  if (auto f = m.get("routes")) parseRoutes(diag, *f, out.protocol, out.routes);
  if (!m.has("pool") && out.protocol == Protocol::kTcp) {
    m.require("pool", "for a tcp listener");
  } else if (!m.has("pool")) {
    // The pool is where a request that no route matches goes. Without it, a route that
    // matches everything must take that role.
    bool catch_all = std::any_of(out.routes.begin(), out.routes.end(), [](const Route& r) {
      return r.match.host.empty() && r.match.path_prefix.empty() && r.match.sni.empty();
    });
    if (!catch_all) {
      m.require("pool",
                "(the pool for requests that no route matches; or add a route with an empty "
                "match)");
    }
  }
  if (auto f = m.get("tls")) {
    out.tls.emplace();
    parseListenerTls(diag, *f, *out.tls);
  }
  const bool tcp = out.protocol == Protocol::kTcp;
  if (auto f = m.get("limits")) parseLimits(diag, *f, tcp, out.limits);
  if (auto f = m.get("timeouts")) parseTimeouts(diag, *f, tcp, out.timeouts);
  if (auto f = m.get("headers")) {
    parseHeaders(diag, *f, out.headers);
    warnHttpOnly(diag, *f, tcp);
  }
}

}  // namespace

void parseListeners(Diagnostics& diag, const Field& field, std::vector<ListenerConfig>& out) {
  for (const Field& element : readList(diag, field, 1, "must list at least one listener")) {
    out.emplace_back();
    parseListener(diag, element, out.back());
  }
}

}  // namespace fulcrum::config
