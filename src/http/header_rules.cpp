#include "fulcrum/http/header_rules.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstring>

#include "fulcrum/http/wire_format.h"

namespace fulcrum::http {

namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
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
  // Two hex digits per table load.
  static constexpr auto kPairs = [] {
    std::array<char, 512> t{};
    constexpr char kHex[] = "0123456789abcdef";
    for (int b = 0; b < 256; ++b) {
      t[2 * b] = kHex[b >> 4];
      t[2 * b + 1] = kHex[b & 0xf];
    }
    return t;
  }();
  for (int w = 0; w < 2; ++w) {
    uint64_t v = nextWord();
    for (int i = 0; i < 8; ++i) {
      std::memcpy(out + w * 16 + 2 * i, &kPairs[2 * ((v >> (56 - 8 * i)) & 0xff)], 2);
    }
  }
}

ConnectionOptions ConnectionOptions::from(const std::vector<Header>& headers) {
  ConnectionOptions o;
  for (const Header& h : headers) {
    if (h.id != HeaderId::kConnection) continue;
    forEachListElement(h.value, [&](std::string_view token) {
      ++o.seen;
      switch (classifyHeader(token)) {
        case HeaderId::kKeepAlive:
          o.keep_alive = true;
          return true;
        case HeaderId::kUpgrade:
          o.upgrade = true;
          return true;
        case HeaderId::kConnection:
        case HeaderId::kProxyConnection:
        case HeaderId::kTe:
        case HeaderId::kTrailer:
        case HeaderId::kTransferEncoding:
        case HeaderId::kContentLength:
          return true;  // hop-by-hop whatever Connection says
        default:
          break;
      }
      if (equalsIgnoreCase(token, "close")) o.close = true;
      if (o.count < kMax) {
        o.tokens_[o.count++] = Token{token.data(), token.size()};
      } else {
        // Rare (an allocation is fine): a head with more options than the inline slots.
        if (!o.more_) o.more_ = std::make_unique<std::unordered_set<std::string>>();
        o.more_->insert(asciiLower(token));
      }
      return true;
    });
  }
  return o;
}

bool ConnectionOptions::names(std::string_view header) const {
  for (size_t i = 0; i < count; ++i) {
    if (equalsIgnoreCase(token(i), header)) return true;
  }
  return more_ && more_->count(asciiLower(header)) != 0;
}

bool isWebSocketUpgrade(const std::vector<Header>& headers) {
  const Header* upgrade = nullptr;
  for (const Header& h : headers) {
    if (h.id != HeaderId::kUpgrade) continue;
    if (upgrade != nullptr) return false;
    upgrade = &h;
  }
  return upgrade != nullptr && equalsIgnoreCase(trimOws(upgrade->value), "websocket");
}

bool isHopByHop(const Header& header, const ConnectionOptions& options, bool keep_upgrade) {
  switch (header.id) {
    case HeaderId::kConnection:
    case HeaderId::kKeepAlive:
    case HeaderId::kProxyConnection:
    case HeaderId::kTe:
    case HeaderId::kTrailer:
    case HeaderId::kTransferEncoding:
    case HeaderId::kContentLength:
      return true;
    case HeaderId::kUpgrade:
      return !keep_upgrade;
    default:
      return options.count != 0 && options.names(header.name);
  }
}

std::string_view effectiveRequestId(const RequestHead& head, std::string_view generated) {
  // A request id the client sent but also named in Connection is dropped (hop-by-hop), so
  // it is replaced like a missing one.
  const Header* id = nullptr;
  for (const Header& h : head.headers) {
    if (h.id == HeaderId::kXRequestId && !h.value.empty()) {
      id = &h;  // the first that says something (writeRequestHead drops empty ones)
      break;
    }
  }
  if (id == nullptr) return generated;
  return ConnectionOptions::from(head.headers).names("x-request-id") ? generated : id->value;
}

namespace {

// Heads are written with memcpy into room reserved up front (an upper bound of the head's
// size), so a head costs one resize of a buffer whose capacity is reused, and no
// format-string parsing.
constexpr size_t kFixedBound = 256;  // every line the writers add, without their variable parts

size_t headersBound(const std::vector<Header>& headers) {
  size_t n = 0;
  for (const Header& h : headers) n += h.name.size() + h.value.size() + 4;
  return n;
}

char* beginWrite(std::string& out, size_t bound) {
  size_t old = out.size();
  out.resize(old + bound);
  return out.data() + old;
}

void endWrite(std::string& out, const char* end) {
  out.resize(static_cast<size_t>(end - out.data()));
}

char* writeLine(char* p, std::string_view line) { return writeBytes(p, line); }

char* writeHeader(char* p, std::string_view name, std::string_view value) {
  p = writeBytes(p, name);
  *p++ = ':';
  *p++ = ' ';
  p = writeBytes(p, value);
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

char* writeContentLength(char* p, uint64_t n) {
  p = writeBytes(p, "Content-Length: ");
  p = writeDecimal(p, n);
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

}  // namespace

void writeRequestHead(const RequestHead& head, const RequestForwarding& fwd, std::string& out) {
  size_t bound = kFixedBound + head.method.size() + head.target.size() + 2 * head.host.size() +
                 fwd.fallback_host.size() + fwd.client_ip.size() + fwd.new_request_id.size() +
                 headersBound(head.headers);
  char* p = beginWrite(out, bound);
  p = writeBytes(p, head.method);
  *p++ = ' ';
  p = writeBytes(p, head.target);
  p = writeLine(p, " HTTP/1.1\r\n");
  p = writeHeader(p, "Host", head.host.empty() ? fwd.fallback_host : head.host);

  ConnectionOptions options = ConnectionOptions::from(head.headers);
  bool has_request_id = false;
  for (const Header& h : head.headers) {
    if (isHopByHop(h, options, head.upgrade)) continue;
    switch (h.id) {
      case HeaderId::kHost:
      case HeaderId::kExpect:
        continue;
      case HeaderId::kXForwardedFor:
      case HeaderId::kXForwardedProto:
      case HeaderId::kXForwardedHost:
      // A look-alike would reach a CGI-style backend as the header the proxy vouches for:
      // a client could spoof its address through it (nginx drops every '_' name).
      case HeaderId::kXForwardedLookalike:
        if (fwd.forwarded) continue;  // rewritten below
        break;
      case HeaderId::kXRequestId:
        // An empty one is replaced by the generated id (effectiveRequestId), which the
        // client gets back: the backend must see that one, not an empty header. Of several,
        // the first that says something is the request's id (the client's and the log's):
        // the backend gets that one alone.
        if (fwd.add_request_id && (h.value.empty() || has_request_id)) continue;
        has_request_id = true;
        break;
      case HeaderId::kMaxForwards:
        // One hop less (the parser answered 0 itself). Never longer than what came: the
        // bound holds.
        if (head.max_forwards > 0) {
          p = writeBytes(p, h.name);
          p = writeLine(p, ": ");
          p = writeDecimal(p, static_cast<uint64_t>(head.max_forwards - 1));
          p = writeLine(p, "\r\n");
          continue;
        }
        break;
      default:
        break;
    }
    p = writeHeader(p, h.name, h.value);
  }
  if (fwd.forwarded) {
    // Several X-Forwarded-For headers form one list (RFC 9110 5.3): keep their order and
    // append the client.
    p = writeLine(p, "X-Forwarded-For: ");
    for (const Header& h : head.headers) {
      if (h.id != HeaderId::kXForwardedFor || h.value.empty() ||
          isHopByHop(h, options, head.upgrade))
        continue;
      p = writeBytes(p, h.value);
      *p++ = ',';
      *p++ = ' ';
    }
    p = writeBytes(p, fwd.client_ip);
    p = writeLine(p, "\r\n");
    p = writeLine(p, fwd.tls ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n");
    if (!head.host.empty()) p = writeHeader(p, "X-Forwarded-Host", head.host);
  }
  if (fwd.add_request_id && !has_request_id && !fwd.new_request_id.empty())
    p = writeHeader(p, "X-Request-Id", fwd.new_request_id);
  if (head.upgrade) p = writeLine(p, "Connection: upgrade\r\n");
  if (head.framing == BodyFraming::kChunked) {
    p = writeLine(p, "Transfer-Encoding: chunked\r\n");
  } else if (head.framing == BodyFraming::kContentLength) {
    p = writeContentLength(p, head.content_length);
  }
  p = writeLine(p, "\r\n");
  endWrite(out, p);
}

void writeResponseHead(const ResponseHead& head, const ResponseForwarding& fwd, std::string& out) {
  bool upgrade = head.status == 101;
  // A 426 must say which protocols would do (RFC 9110 15.5.22), so its Upgrade is passed on
  // to an HTTP/1.1 client, named in Connection as a sender of Upgrade must (7.8).
  bool upgrade_offer = head.status == 426 && fwd.client_minor == 1;
  bool offered = false;
  size_t bound = kFixedBound + head.reason.size() + fwd.request_id.size() + fwd.set_cookie.size() +
                 fwd.date.size() + headersBound(head.headers);
  char* p = beginWrite(out, bound);
  p = writeLine(p, "HTTP/1.1 ");
  p = writeDecimal(p, head.status);
  *p++ = ' ';
  p = writeBytes(p, head.reason);
  p = writeLine(p, "\r\n");
  ConnectionOptions options = ConnectionOptions::from(head.headers);
  bool has_date = false;
  const Header* content_length = nullptr;
  const Header* transfer_encoding = nullptr;
  for (const Header& h : head.headers) {
    if (h.id == HeaderId::kContentLength) content_length = &h;
    if (h.id == HeaderId::kTransferEncoding) transfer_encoding = &h;
    if (isHopByHop(h, options, upgrade || upgrade_offer)) continue;
    // The client gets the id its request carried (to the backend and into the access log),
    // also when the backend answers with another one: one id per exchange end to end.
    if (h.id == HeaderId::kXRequestId && !fwd.request_id.empty()) continue;
    if (h.id == HeaderId::kDate) has_date = true;
    if (h.id == HeaderId::kUpgrade) offered = true;
    p = writeHeader(p, h.name, h.value);
  }
  if (!fwd.request_id.empty()) p = writeHeader(p, "X-Request-Id", fwd.request_id);
  if (!fwd.set_cookie.empty()) p = writeHeader(p, "Set-Cookie", fwd.set_cookie);
  // RFC 9110 6.6.1: a recipient with a clock adds the Date a forwarded response lacks.
  if (!fwd.date.empty() && !has_date && head.status >= 200) p = writeHeader(p, "Date", fwd.date);
  switch (fwd.framing) {
    case BodyFraming::kContentLength:
      p = writeContentLength(p, fwd.content_length);
      break;
    case BodyFraming::kChunked:
      p = writeLine(p, "Transfer-Encoding: chunked\r\n");
      break;
    case BodyFraming::kNone:
      // The length a GET would have had: metadata, not framing (RFC 9110 8.6). So is a
      // chunked coding in the answer to a HEAD (RFC 9112 6.1), as a GET would go out to an
      // HTTP/1.1 client (an HTTP/1.0 one would read it until close).
      if (content_length != nullptr && (fwd.head_request || head.status == 304)) {
        p = writeHeader(p, "Content-Length", content_length->value);
      } else if (transfer_encoding != nullptr && fwd.head_request && fwd.client_minor == 1 &&
                 head.status >= 200 && head.status != 204 && head.status != 304) {
        p = writeLine(p, "Transfer-Encoding: chunked\r\n");
      }
      break;
    case BodyFraming::kUntilClose:
      break;
  }
  if (upgrade) {
    p = writeLine(p, "Connection: upgrade\r\n");
  } else if (!fwd.keep_alive) {
    p = writeLine(p, offered ? "Connection: upgrade, close\r\n" : "Connection: close\r\n");
  } else if (fwd.client_minor == 0) {
    p = writeLine(p, "Connection: keep-alive\r\n");
  } else if (offered) {
    p = writeLine(p, "Connection: upgrade\r\n");
  }
  p = writeLine(p, "\r\n");
  endWrite(out, p);
}

std::string formatClientIp(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr == nullptr) return {};
  // By hand for IPv4: inet_ntop formats through sprintf, a noticeable cost per accepted
  // connection.
  auto ipv4 = [&buf](const unsigned char* b) {
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *p++ = '.';
      p = writeDecimal(p, b[i]);
    }
    return std::string(buf, static_cast<size_t>(p - buf));
  };
  if (addr->sa_family == AF_INET) {
    return ipv4(reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr));
  } else if (addr->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    // An IPv4 client of a dual-stack "[::]" listener (::ffff:a.b.c.d) is written as IPv4, as
    // it would be on an IPv4 listener: backends compare and log it as such.
    if (IN6_IS_ADDR_V4MAPPED(&a)) return ipv4(a.s6_addr + 12);
    inet_ntop(AF_INET6, &a, buf, sizeof(buf));
  }
  return buf;
}

}  // namespace fulcrum::http
