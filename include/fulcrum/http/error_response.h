#pragma once
// The proxy's own answers (200 to an OPTIONS at Max-Forwards 0, 400, 405, 408, 413, 414, 417, 431,
// 501, 502, 503, 504, 505, ...): short, complete HTTP/1.1 responses with a Content-Length, and
// "Connection: close" when the connection will not be reused. Pure.

#include <cstdint>
#include <string>
#include <string_view>

namespace fulcrum::http {

// "Bad Gateway" for 502; "Unknown" for a code without a phrase here.
std::string_view reasonPhrase(uint16_t status);

struct ErrorResponseOptions {
  bool close = true;                 // add "Connection: close" (the connection ends after it)
  bool keep_alive = false;           // else add "Connection: keep-alive" (an HTTP/1.0 client)
  bool head_request = false;         // no body (the Content-Length is still sent)
  std::string_view request_id = {};  // X-Request-Id to return (empty: none)
  std::string_view date = {};        // Date value (empty: none)
  std::string_view allow = {};       // Allow value (empty: none)
};

// The methods the proxy forwards (every other one llhttp knows is forwarded too, but these
// are the standard ones), for the Allow of a 405 to CONNECT and of the proxy's own answer to
// OPTIONS; and the same without TRACE, for the 405 to a TRACE the proxy had to answer itself.
inline constexpr std::string_view kAllowForwarded =
    "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH";
inline constexpr std::string_view kAllowButTrace = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH";

// Appends the full response (head and body) to `out`.
void writeErrorResponse(uint16_t status, const ErrorResponseOptions& options, std::string& out);

// "HTTP/1.1 100 Continue\r\n\r\n".
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace fulcrum::http
