#include "fulcrum/http/error_response.h"

#include <fmt/format.h>

#include <iterator>

namespace fulcrum::http {

std::string_view reasonPhrase(uint16_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void writeErrorResponse(uint16_t status, const ErrorResponseOptions& options, std::string& out) {
  std::string_view reason = reasonPhrase(status);
  // Body: "502 Bad Gateway\n" — enough for a human, nothing for a client to parse.
  size_t body_length = 3 + 1 + reason.size() + 1;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n", status,
                 reason, body_length);
  if (!options.date.empty()) fmt::format_to(it, "Date: {}\r\n", options.date);
  if (!options.request_id.empty()) fmt::format_to(it, "X-Request-Id: {}\r\n", options.request_id);
  if (!options.allow.empty()) fmt::format_to(it, "Allow: {}\r\n", options.allow);
  if (options.close) {
    out.append("Connection: close\r\n");
  } else if (options.keep_alive) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!options.head_request) fmt::format_to(it, "{} {}\n", status, reason);
}

}  // namespace fulcrum::http
