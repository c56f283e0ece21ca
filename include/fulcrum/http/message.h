#pragma once
// Plain views of one HTTP/1.x message head, shared by the request and response parsers and
// the head writers. Views point into the parser's per-connection head buffer: valid until
// that parser starts its next message. Worker-local.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fulcrum::http {

// The header names the proxy acts on, recognised once per header when a head is parsed so
// that the checks and writers compare a byte instead of strings. kOther: any other name.
enum class HeaderId : uint8_t {
  kOther,
  // Always hop-by-hop (never forwarded as received).
  kConnection,
  kKeepAlive,
  kProxyConnection,
  kTe,
  kTrailer,
  kTransferEncoding,
  kContentLength,
  // Acted on by the proxy.
  kUpgrade,
  kHost,
  kExpect,
  kCookie,
  kXForwardedFor,
  kXForwardedProto,
  kXForwardedHost,
  // X_Forwarded_For, X-Forwarded_Proto, ...: CGI, WSGI, Rack and PHP-FPM backends read these
  // as the X-Forwarded-* header the proxy sets (both become HTTP_X_FORWARDED_FOR).
  kXForwardedLookalike,
  kXRequestId,
  kDate,
  kMaxForwards,
};

// The HeaderId of a header name (ASCII case-insensitive).
HeaderId classifyHeader(std::string_view name);

struct Header {
  std::string_view name;
  std::string_view value;  // leading and trailing whitespace trimmed
  HeaderId id = HeaderId::kOther;

  Header() = default;
  Header(std::string_view n, std::string_view v) : name(n), value(v), id(classifyHeader(n)) {}
  Header(std::string_view n, std::string_view v, HeaderId i) : name(n), value(v), id(i) {}
};

// How a message body is delimited on the wire.
enum class BodyFraming : uint8_t {
  kNone,           // no body
  kContentLength,  // exactly content_length bytes
  kChunked,        // chunked transfer coding
  kUntilClose,     // responses only: the body ends when the connection closes
};

// A proxy-generated answer: the status to answer and a short reason for logs. An error, but
// for the one request the proxy answers itself as its final recipient (an OPTIONS whose
// Max-Forwards reached 0: 200).
struct HttpError {
  uint16_t status = 0;  // 0 = no error
  const char* reason = "";
  explicit operator bool() const { return status != 0; }
};

// ASCII case-insensitive equality of `n` bytes.
bool equalBytesIgnoreCase(const char* a, const char* b, size_t n);
// ASCII case-insensitive equality (header names, tokens). Inline: most calls differ in size.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && equalBytesIgnoreCase(a.data(), b.data(), a.size());
}
// One or more ASCII digits and nothing else (Content-Length, a status code).
inline bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}
// A Content-Length value (RFC 9110 8.6: 1*DIGIT): digits only, leading zeros allowed, at most
// 18 significant digits (a value that fits any signed 64-bit parser downstream).
inline bool parseContentLength(std::string_view s, uint64_t* out) {
  if (!allDigits(s)) return false;
  size_t zeros = s.find_first_not_of('0');
  if (zeros != std::string_view::npos && s.size() - zeros > 18) return false;
  uint64_t n = 0;
  for (char c : s) n = n * 10 + static_cast<uint64_t>(c - '0');
  *out = n;
  return true;
}
// Trims spaces and tabs at both ends.
inline std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
// The method of a request head's bytes so far: its first word, after any empty lines (RFC
// 9112 2.2). It is complete when the SP that ends it follows in `head`.
inline std::string_view requestMethodOf(std::string_view head) {
  size_t start = head.find_first_not_of("\r\n");
  if (start == std::string_view::npos) return {};
  return head.substr(start, head.find(' ', start) - start);
}
// First header named `name` (case-insensitive), or null.
const Header* findHeader(const std::vector<Header>& headers, std::string_view name);
inline const Header* findHeader(const std::vector<Header>& headers, HeaderId id) {
  for (const Header& h : headers) {
    if (h.id == id) return &h;
  }
  return nullptr;
}
// Calls `fn(token)` for every non-empty comma-separated element of a list header value,
// trimmed. Returns false if `fn` returned false.
template <class Fn>
bool forEachListElement(std::string_view value, Fn&& fn) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trimOws(value.substr(0, comma));
    if (!item.empty() && !fn(item)) return false;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return true;
}
// What the Transfer-Encoding fields of a head say, read as one list (RFC 9112 6.1). Request
// and response parsers pass on only a lone `chunked`, and check that llhttp, which frames the
// body, read the same.
struct TransferCodings {
  bool present = false;       // at least one Transfer-Encoding field
  size_t count = 0;           // codings named, over all fields
  bool chunked_last = false;  // the last one named is `chunked` (any case)
  // An empty member or field (`,chunked`, `chunked,`, `Transfer-Encoding:`), or a coding that
  // is no token: refused, not skipped as RFC 9110 5.6.1 would let a recipient do, since
  // llhttp, a backend, a client or a proxy beside this one may each read it differently, and
  // obfuscated Transfer-Encoding values are the stuff of request smuggling.
  bool malformed = false;

  bool loneChunked() const { return count == 1 && chunked_last && !malformed; }
};
TransferCodings readTransferCodings(const std::vector<Header>& headers);
// `s` with ASCII upper-case letters lowered (header names and tokens: never locale-dependent).
std::string asciiLower(std::string_view s);
// The method and target of `bytes` when, after any empty lines, they start with a whole
// request line ("GET /x HTTP/1.1\r\n": a token, a target of visible ASCII, a version): for the
// access log of a request refused before its head was parsed. False otherwise.
bool splitRequestLine(std::string_view bytes, std::string_view& method, std::string_view& target);
// RFC 9110 tchar.
bool isTokenChar(unsigned char c);
bool isToken(std::string_view s);

struct RequestHead {
  std::string_view method;      // canonical upper-case name
  bool is_head = false;         // method HEAD: the response has no body
  bool idempotent = false;      // GET, HEAD, OPTIONS, PUT, DELETE, TRACE
  std::string_view target;      // origin-form ("/path?q") or "*"
  std::string_view host;        // Host header value (or the authority of an absolute-form target)
  uint8_t version_minor = 1;    // HTTP/1.0 or HTTP/1.1
  std::vector<Header> headers;  // as received, in order
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;  // kContentLength only
  bool keep_alive = true;       // the client allows the connection to be reused
  bool upgrade = false;         // Upgrade + Connection: upgrade on an HTTP/1.1 request
  bool expect_continue = false;
  // OPTIONS or TRACE with a Max-Forwards (RFC 9110 7.6.2): its value, which the proxy
  // decrements as it forwards; -1 otherwise (other methods' Max-Forwards passes untouched).
  int64_t max_forwards = -1;

  const Header* find(std::string_view name) const { return findHeader(headers, name); }
  const Header* find(HeaderId id) const { return findHeader(headers, id); }
};

struct ResponseHead {
  uint16_t status = 0;
  std::string_view reason;
  uint8_t version_minor = 1;
  std::vector<Header> headers;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;  // the backend allows the connection to be reused

  const Header* find(std::string_view name) const { return findHeader(headers, name); }
  const Header* find(HeaderId id) const { return findHeader(headers, id); }
};

}  // namespace fulcrum::http
