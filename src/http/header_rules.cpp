#include "fulcrum/http/header_rules.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

namespace fulcrum::http {

namespace {

constexpr std::string_view kAlwaysHopByHop[] = {
    "connection", "keep-alive",        "proxy-connection", "te",
    "trailer",    "transfer-encoding", "content-length",
};

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

}  // namespace

RequestIdGenerator::RequestIdGenerator(uint64_t seed) {
  for (uint64_t& s : s_) s = splitmix(seed);
}

uint64_t RequestIdGenerator::nextWord() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void RequestIdGenerator::next(char out[kLength]) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int w = 0; w < 2; ++w) {
    uint64_t v = nextWord();
    for (int i = 0; i < 16; ++i) out[w * 16 + i] = kHex[(v >> (60 - 4 * i)) & 0xf];
  }
}

ConnectionOptions ConnectionOptions::from(const std::vector<Header>& headers) {
  ConnectionOptions o;
  for (const Header& h : headers) {
    if (!equalsIgnoreCase(h.name, "connection")) continue;
    forEachListElement(h.value, [&](std::string_view token) {
      if (o.count == kMax) {
        o.overflow = true;
        return false;
      }
      o.tokens[o.count++] = token;
      if (equalsIgnoreCase(token, "close")) o.close = true;
      if (equalsIgnoreCase(token, "keep-alive")) o.keep_alive = true;
      if (equalsIgnoreCase(token, "upgrade")) o.upgrade = true;
      return true;
    });
  }
  return o;
}

bool ConnectionOptions::names(std::string_view header) const {
  for (size_t i = 0; i < count; ++i) {
    if (equalsIgnoreCase(tokens[i], header)) return true;
  }
  return false;
}

bool isHopByHop(std::string_view name, const ConnectionOptions& options, bool keep_upgrade) {
  for (std::string_view h : kAlwaysHopByHop) {
    if (equalsIgnoreCase(name, h)) return true;
  }
  if (equalsIgnoreCase(name, "upgrade")) return !keep_upgrade;
  return options.names(name);
}

std::string_view effectiveRequestId(const RequestHead& head, std::string_view generated) {
  // A request id the client sent but also named in Connection is dropped (hop-by-hop), so
  // it is replaced like a missing one.
  const Header* id = head.find("x-request-id");
  if (id == nullptr || id->value.empty()) return generated;
  return ConnectionOptions::from(head.headers).names("x-request-id") ? generated : id->value;
}

void writeRequestHead(const RequestHead& head, const RequestForwarding& fwd, std::string& out) {
  out.append(head.method);
  out.push_back(' ');
  out.append(head.target);
  out.append(" HTTP/1.1\r\n");
  appendHeader(out, "Host", head.host.empty() ? fwd.fallback_host : head.host);

  ConnectionOptions options = ConnectionOptions::from(head.headers);
  bool has_request_id = false;
  for (const Header& h : head.headers) {
    if (isHopByHop(h.name, options, head.upgrade)) continue;
    if (equalsIgnoreCase(h.name, "host") || equalsIgnoreCase(h.name, "expect")) continue;
    if (fwd.forwarded && (equalsIgnoreCase(h.name, "x-forwarded-for") ||
                          equalsIgnoreCase(h.name, "x-forwarded-proto") ||
                          equalsIgnoreCase(h.name, "x-forwarded-host")))
      continue;  // rewritten below
    if (equalsIgnoreCase(h.name, "x-request-id")) has_request_id = true;
    appendHeader(out, h.name, h.value);
  }
  if (fwd.forwarded) {
    // Several X-Forwarded-For headers form one list (RFC 9110 5.3): keep their order and
    // append the client.
    out.append("X-Forwarded-For: ");
    for (const Header& h : head.headers) {
      if (!equalsIgnoreCase(h.name, "x-forwarded-for") || h.value.empty() ||
          isHopByHop(h.name, options, head.upgrade))
        continue;
      out.append(h.value);
      out.append(", ");
    }
    out.append(fwd.client_ip);
    out.append("\r\n");
    appendHeader(out, "X-Forwarded-Proto", fwd.tls ? "https" : "http");
    if (!head.host.empty()) appendHeader(out, "X-Forwarded-Host", head.host);
  }
  if (fwd.add_request_id && !has_request_id && !fwd.new_request_id.empty())
    appendHeader(out, "X-Request-Id", fwd.new_request_id);
  if (head.upgrade) out.append("Connection: upgrade\r\n");
  if (head.framing == BodyFraming::kChunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  } else if (head.framing == BodyFraming::kContentLength) {
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", head.content_length);
  }
  out.append("\r\n");
}

void writeResponseHead(const ResponseHead& head, const ResponseForwarding& fwd, std::string& out) {
  bool upgrade = head.status == 101;
  fmt::format_to(std::back_inserter(out), "HTTP/1.1 {} ", head.status);
  out.append(head.reason);
  out.append("\r\n");
  ConnectionOptions options = ConnectionOptions::from(head.headers);
  bool has_request_id = false;
  const Header* content_length = nullptr;
  for (const Header& h : head.headers) {
    if (equalsIgnoreCase(h.name, "content-length")) content_length = &h;
    if (isHopByHop(h.name, options, upgrade)) continue;
    if (equalsIgnoreCase(h.name, "x-request-id")) has_request_id = true;
    appendHeader(out, h.name, h.value);
  }
  if (!fwd.request_id.empty() && !has_request_id) appendHeader(out, "X-Request-Id", fwd.request_id);
  if (!fwd.set_cookie.empty()) appendHeader(out, "Set-Cookie", fwd.set_cookie);
  switch (fwd.framing) {
    case BodyFraming::kContentLength:
      fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", fwd.content_length);
      break;
    case BodyFraming::kChunked:
      out.append("Transfer-Encoding: chunked\r\n");
      break;
    case BodyFraming::kNone:
      // The length a GET would have had: metadata, not framing (RFC 9110 8.6).
      if (content_length != nullptr && (fwd.head_request || head.status == 304))
        appendHeader(out, "Content-Length", content_length->value);
      break;
    case BodyFraming::kUntilClose:
      break;
  }
  if (upgrade) {
    out.append("Connection: upgrade\r\n");
  } else if (!fwd.keep_alive) {
    out.append("Connection: close\r\n");
  } else if (fwd.client_minor == 0) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

std::string formatClientIp(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr == nullptr) return {};
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, buf, sizeof(buf));
  } else if (addr->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace fulcrum::http
