// RequestParser::finishHead: the request-smuggling and semantic checks run once the whole
// head is in, before any body byte is parsed or anything is sent to a backend.
#include <algorithm>
#include <array>
#include <string>

#include "fulcrum/http/head_feed.h"
#include "fulcrum/http/header_rules.h"
#include "fulcrum/http/request_parser.h"

namespace fulcrum::http {

namespace {

// uri-host [":" port] (RFC 3986 3.2.2): reg-name / IPv4 characters, or an IP-literal in
// brackets, so that routing and the backend see the same name. Brackets only around an
// IP-literal; a ':' outside one starts the port.
enum HostByte : uint8_t { kBad, kName, kColon, kOpen, kClose };
constexpr std::array<HostByte, 256> kHostByte = [] {
  std::array<HostByte, 256> t{};
  for (int c = 0; c < 256; ++c) {
    bool name = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    t[c] = name ? kName : kBad;
  }
  for (unsigned char c : std::string_view("-._~!$&'()*+,;=%")) t[c] = kName;
  t[':'] = kColon;
  t['['] = kOpen;
  t[']'] = kClose;
  return t;
}();

// The port (RFC 3986 3.2.3) is digits, and one a socket can have: "x:abc" or "x:99999999999"
// names nothing to connect to (nginx and HAProxy forward both as they are).
bool validPort(std::string_view port) {
  if (port.empty()) return true;  // "x:" is allowed: the scheme's default port
  if (!allDigits(port)) return false;
  port.remove_prefix(std::min(port.find_first_not_of('0'), port.size() - 1));  // "0080" is 80
  return port.size() < 5 || (port.size() == 5 && port <= "65535");
}

// One pass (it runs on every request): the host part, then an optional ":" port.
bool validHost(std::string_view host) {
  size_t i = 0;
  const size_t n = host.size();
  if (n != 0 && host[0] == '[') {
    // IP-literal: host bytes (':' included) up to the one ']'.
    for (i = 1; i < n; ++i) {
      HostByte b = kHostByte[static_cast<unsigned char>(host[i])];
      if (b == kClose) break;
      if (b != kName && b != kColon) return false;
    }
    if (i == n || i == 1) return false;  // no ']', or nothing between the brackets
    ++i;
  } else {
    for (; i < n; ++i) {
      HostByte b = kHostByte[static_cast<unsigned char>(host[i])];
      if (b == kColon) break;
      if (b != kName) return false;
    }
  }
  if (i == n) return true;
  return host[i] == ':' && validPort(host.substr(i + 1));
}

bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Request-target bytes: visible ASCII only; a fragment is never sent on the wire.
bool validTarget(std::string_view target) {
  return std::all_of(target.begin(), target.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7f && c != '#';
  });
}

}  // namespace

HttpError RequestParser::finishHead() {
  uint8_t major = llhttp_get_http_major(&parser_);
  uint8_t minor = llhttp_get_http_minor(&parser_);
  if (major != 1 || minor > 1) return {505, "unsupported HTTP version"};
  auto method = static_cast<llhttp_method_t>(llhttp_get_method(&parser_));
  if (method == HTTP_CONNECT) return {405, "CONNECT is not supported"};

  // An extension method (feedFirstLine) reached llhttp as its stand-in GET: the name is the
  // request line's first word, and nothing is assumed of it (not idempotent, not HEAD, not
  // OPTIONS).
  const bool extension = method_feed_ == MethodFeed::kStandIn;
  head_.method = extension ? requestMethodOf(buf_.bytes()) : llhttp_method_name(method);
  head_.is_head = method == HTTP_HEAD;
  // RFC 9110 9.2.2 (safe methods, PUT and DELETE).
  head_.idempotent =
      !extension && (method == HTTP_GET || method == HTTP_HEAD || method == HTTP_OPTIONS ||
                     method == HTTP_PUT || method == HTTP_DELETE || method == HTTP_TRACE);
  head_.version_minor = minor;

  // Target: origin-form, "*" for OPTIONS, or absolute-form (whose authority replaces Host,
  // RFC 9112 3.2.2). Spans first: an absolute-form target may append to the buffer.
  std::string_view url = buf_.view(buf_.first());
  if (url.empty() || !validTarget(url)) return {400, "invalid request target"};
  HeadBuffer::Span target = buf_.first();
  HeadBuffer::Span authority{};
  if (url == "*") {
    if (method != HTTP_OPTIONS) return {400, "asterisk target outside OPTIONS"};
  } else if (url.front() != '/') {
    size_t scheme = startsWithIgnoreCase(url, "http://")    ? 7
                    : startsWithIgnoreCase(url, "https://") ? 8
                                                            : 0;
    if (scheme == 0) return {400, "invalid request target"};
    size_t end = url.find_first_of("/?", scheme);
    if (end == std::string_view::npos) end = url.size();
    authority = HeadBuffer::Span{target.offset + static_cast<uint32_t>(scheme),
                                 static_cast<uint32_t>(end - scheme)};
    if (authority.length == 0 ||
        url.substr(scheme, end - scheme).find('@') != std::string_view::npos)
      return {400, "invalid authority in request target"};
    if (end < url.size() && url[end] == '/') {
      target = HeadBuffer::Span{target.offset + static_cast<uint32_t>(end),
                                static_cast<uint32_t>(url.size() - end)};
    } else if (method == HTTP_OPTIONS && end == url.size()) {
      // "OPTIONS http://a": the last proxy MUST forward it as "OPTIONS *" (RFC 9112 3.2.4),
      // a question about the server as a whole, not about its "/".
      target = buf_.appendExtra("*");
    } else {
      // "http://a" or "http://a?q": origin-form needs a leading "/".
      // Rare path (an allocation is fine): `url` points into the buffer that grows here.
      std::string origin = "/" + std::string(url.substr(end));
      target = buf_.appendExtra(origin);
    }
  }

  // Views from here on: the head buffer no longer changes for this message.
  head_.target = buf_.view(target);
  if (extension) head_.method = requestMethodOf(buf_.bytes());  // appendExtra may move them
  buf_.build(head_.headers);

  const Header* host = nullptr;
  for (const Header& h : head_.headers) {
    if (h.id != HeaderId::kHost) continue;
    if (host != nullptr) return {400, "several Host headers"};
    host = &h;
  }
  // RFC 9112 3.2: an HTTP/1.1 request without Host is a 400 even when its target is in
  // absolute-form, and so is an invalid Host that the target's authority would replace.
  if (host == nullptr && minor == 1) return {400, "HTTP/1.1 request without Host"};
  if (host != nullptr && !validHost(host->value)) return {400, "invalid Host"};
  if (authority.length != 0) {
    head_.host = buf_.view(authority);
    if (!validHost(head_.host)) return {400, "invalid Host"};
  } else if (host != nullptr) {
    head_.host = host->value;  // checked above
  }
  // An http URI must not have an empty host (RFC 9110 4.2.1), and the target URI of an
  // origin-form request is built from Host: `Host:` or `Host: :80` names no host to route by
  // (nginx and HAProxy refuse it too). Only an HTTP/1.0 request may leave Host out altogether.
  if ((host != nullptr || authority.length != 0) &&
      (head_.host.empty() || head_.host.front() == ':'))
    return {400, "empty Host"};

  if (HttpError e = checkFraming()) return e;

  // Connection options (RFC 9112 9.3): 1.1 defaults to keep-alive, 1.0 to close.
  ConnectionOptions options = ConnectionOptions::from(head_.headers);
  head_.keep_alive = !options.close && (minor == 1 || options.keep_alive);
  // Only WebSocket is tunnelled. Any other Upgrade (h2c above all: a 101 to it would open a
  // tunnel to the backend that bypasses routing and this parser) is dropped as hop-by-hop, and
  // the request goes on as plain HTTP/1.1 (RFC 9110 7.8 lets a server ignore Upgrade).
  // A WebSocket handshake is a GET (RFC 6455 4.1): any other method's Upgrade is dropped too.
  head_.upgrade = minor == 1 && method == HTTP_GET && !extension && options.upgrade &&
                  isWebSocketUpgrade(head_.headers);

  if (minor == 1) {
    if (HttpError e = readExpect()) return e;
  }
  if (method == HTTP_OPTIONS || method == HTTP_TRACE) return readMaxForwards(method == HTTP_TRACE);
  return {};
}

// Max-Forwards (RFC 9110 7.6.2), which only OPTIONS and TRACE use: an intermediary MUST
// decrement it as it forwards, and at 0 MUST answer as the final recipient instead. As that
// recipient the proxy answers OPTIONS with 200 and the methods it forwards, and refuses TRACE
// with 405: reflecting a request back (TRACE's SHOULD) echoes its cookies and credentials,
// what cross-site tracing abuses, and nginx refuses TRACE outright. A value that is no number,
// or two of them, is a 400 as in Apache's mod_proxy: it cannot be decremented.
HttpError RequestParser::readMaxForwards(bool trace) {
  const Header* field = nullptr;
  for (const Header& h : head_.headers) {
    if (h.id != HeaderId::kMaxForwards) continue;
    if (field != nullptr) return {400, "several Max-Forwards headers"};
    field = &h;
  }
  if (field == nullptr) return {};
  if (!allDigits(field->value)) return {400, "invalid Max-Forwards"};
  // Any count of hops beyond this is as good as infinite: saturate rather than overflow.
  constexpr int64_t kMaxHops = 1'000'000'000;
  int64_t hops = 0;
  for (char c : field->value) hops = std::min(kMaxHops, hops * 10 + (c - '0'));
  head_.max_forwards = hops;
  if (hops > 0) return {};
  if (trace) return {405, "TRACE at Max-Forwards 0 (the proxy reflects no request)"};
  return {200, "OPTIONS at Max-Forwards 0, answered by the proxy"};
}

// Expect is a list (RFC 9110 10.1.1), maybe over several fields: empty elements are ignored
// (5.6.1.2), so `Expect:` or `Expect: ,` asks for nothing, and `100-continue` named twice is
// still that one expectation. Any other member gets 417 (the MAY of 10.1.1): the proxy
// answers 100 itself, so it would have to pass on an expectation it cannot vouch for.
HttpError RequestParser::readExpect() {
  bool other = false;
  for (const Header& h : head_.headers) {
    if (h.id != HeaderId::kExpect) continue;
    forEachListElement(h.value, [&](std::string_view member) {
      if (equalsIgnoreCase(member, "100-continue")) {
        head_.expect_continue = true;
      } else {
        other = true;
      }
      return !other;
    });
    if (other) return {417, "unsupported Expect"};
  }
  return {};
}

// Content-Length / Transfer-Encoding: the message length must be unambiguous (RFC 9112 6).
HttpError RequestParser::checkFraming() {
  const Header* content_length = nullptr;
  uint64_t n = 0;
  bool has_te = false;
  for (const Header& h : head_.headers) {
    has_te |= h.id == HeaderId::kTransferEncoding;
    if (h.id != HeaderId::kContentLength) continue;
    if (content_length != nullptr) return {400, "several Content-Length headers"};
    if (!parseContentLength(h.value, &n)) return {400, "invalid Content-Length"};
    content_length = &h;
  }
  // Most requests have none: no second pass over their headers then.
  const TransferCodings te = has_te ? readTransferCodings(head_.headers) : TransferCodings{};
  if (has_te) {
    if (content_length != nullptr) return {400, "Content-Length with Transfer-Encoding"};
    if (head_.version_minor == 0) return {400, "Transfer-Encoding in an HTTP/1.0 request"};
    // Only `chunked` alone: a coding before it (gzip, chunked) is refused with 400 like every
    // other Transfer-Encoding, one status for every framing the proxy will not pass on. RFC
    // 9112 6.1 suggests 501 for a coding it does not implement (nginx answers 501, HAProxy
    // 2.6 422); which 4xx or 5xx it is matters less than that nothing reaches a backend.
    if (!te.loneChunked()) return {400, "Transfer-Encoding other than chunked"};
  }
  if (!llhttpFramingAgrees(parser_, has_te, content_length != nullptr ? &n : nullptr))
    return {400, "framing disagreement"};
  if (has_te) {
    head_.framing = BodyFraming::kChunked;
    return {};
  }
  if (content_length == nullptr) {
    head_.framing = BodyFraming::kNone;
    return {};
  }
  if (limits_.max_body_bytes != 0 && n > limits_.max_body_bytes)
    return {413, "request body too large"};
  head_.content_length = n;
  head_.framing = BodyFraming::kContentLength;  // kept even when 0: some backends want it
  return {};
}

}  // namespace fulcrum::http
