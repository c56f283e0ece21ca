#pragma once
// What the proxy changes in the heads it forwards (ARCHITECTURE.md "HTTP path"): hop-by-hop
// headers removed, X-Forwarded-* set, X-Request-Id added, and the framing headers written by
// the proxy itself (a head is always re-serialized, never forwarded as received bytes).
// Pure functions over parsed heads; worker-local generator state.

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "fulcrum/http/message.h"

namespace fulcrum::http {

// A 128-bit request id as 32 lowercase hex characters. Worker-local (xoshiro256**; not
// cryptographic: ids only need to be unique, not secret).
class RequestIdGenerator {
 public:
  static constexpr size_t kLength = 32;
  explicit RequestIdGenerator(uint64_t seed);
  void next(char out[kLength]);

 private:
  uint64_t nextWord();
  uint64_t s_[4];
};

// The options of a message's Connection headers (RFC 9112 9.3), collected once per head so
// that hop-by-hop checks stay linear. More than kMax options: `overflow`, and the parsers
// refuse the message (no real client sends that many). Options that name a header which is
// hop-by-hop anyway (Keep-Alive, TE, ...) or Upgrade (decided by `upgrade`) set their flag
// but are not kept: names() is never asked about them, and a typical "Connection:
// keep-alive" leaves nothing to compare other headers against.
struct ConnectionOptions {
  static constexpr size_t kMax = 32;
  size_t seen = 0;   // options in the headers
  size_t count = 0;  // options kept inline for names()
  bool close = false, keep_alive = false, upgrade = false;

  static ConnectionOptions from(const std::vector<Header>& headers);
  bool names(std::string_view header) const;
  std::string_view token(size_t i) const { return {tokens_[i].data, tokens_[i].size}; }

 private:
  // Trivial, so that the unused slots are not zeroed on every head.
  struct Token {
    const char* data;
    size_t size;
  };
  Token tokens_[kMax];
  // Past kMax options (no limit is set by RFC 9110 7.6.1, nor by nginx or HAProxy): all of
  // them, lower-cased, in a set, so that a head full of options costs no quadratic scan.
  std::unique_ptr<std::unordered_set<std::string>> more_;
};

// The Upgrade header asks for WebSocket and nothing else: exactly one Upgrade header whose
// value is the single token "websocket", any case (RFC 6455 4.1 and 4.2.2). Used for the request
// (is this an upgrade we tunnel?) and for a 101 (did the backend switch to what was asked?).
bool isWebSocketUpgrade(const std::vector<Header>& headers);

// Headers that describe one connection and are never forwarded (RFC 9110 7.6.1): the fixed
// list, every header the Connection options name, Upgrade unless `keep_upgrade`, plus the
// framing headers the proxy always writes itself.
bool isHopByHop(const Header& header, const ConnectionOptions& options, bool keep_upgrade);
inline bool isHopByHop(std::string_view name, const ConnectionOptions& options, bool keep_upgrade) {
  return isHopByHop(Header(name, {}), options, keep_upgrade);
}

struct RequestForwarding {
  std::string_view client_ip = {};       // for X-Forwarded-For
  bool tls = false;                      // X-Forwarded-Proto: https
  bool forwarded = true;                 // listener headers.forwarded
  bool add_request_id = true;            // listener headers.request_id
  std::string_view new_request_id = {};  // used when the request has none
  std::string_view fallback_host = {};   // Host for an HTTP/1.0 request that sent none
};

// Appends the head to send to the backend: HTTP/1.1 request line, the client's end-to-end
// headers, Host, X-Forwarded-*, X-Request-Id, Connection/Upgrade when upgrading, and the
// body framing (Content-Length or Transfer-Encoding: chunked). Expect is dropped: the proxy
// answers 100 Continue itself.
void writeRequestHead(const RequestHead& head, const RequestForwarding& fwd, std::string& out);

// The X-Request-Id the request will carry upstream: its own, or `generated`.
std::string_view effectiveRequestId(const RequestHead& head, std::string_view generated);

struct ResponseForwarding {
  bool keep_alive = true;    // the client connection stays open after this response
  uint8_t client_minor = 1;  // HTTP/1.0 clients get "Connection: keep-alive" when kept
  bool head_request = false;
  BodyFraming framing = BodyFraming::kNone;  // how the proxy sends the body to the client
  uint64_t content_length = 0;               // kContentLength
  // Replaces the response's own X-Request-Id (empty: the backend's goes through).
  std::string_view request_id = {};
  std::string_view set_cookie = {};  // a complete Set-Cookie value to add (empty: none)
  std::string_view date = {};        // Date value to add when the response has none (empty: none)
};

// Appends the head to send to the client (HTTP/1.1 status line, hop-by-hop removed, the
// proxy's own framing and connection headers). A 101 keeps Upgrade and gets
// "Connection: upgrade".
void writeResponseHead(const ResponseHead& head, const ResponseForwarding& fwd, std::string& out);

// "192.0.2.1" / "2001:db8::1" (no port); empty for an unknown family.
std::string formatClientIp(const sockaddr* addr);

}  // namespace fulcrum::http
