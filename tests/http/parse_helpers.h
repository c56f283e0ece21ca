#pragma once
// Test helpers: drive a RequestParser over a whole input, in pieces of a given size.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "fulcrum/http/request_parser.h"

namespace fulcrum::http::testing {

struct StringSink : BodySink {
  std::string out;
  void onBodyBytes(const char* data, size_t length) override { out.append(data, length); }
};

struct ParsedRequest {
  bool head_ok = false;   // a head was produced
  bool complete = false;  // the message ended
  HttpError error;        // set when the parser refused the input
  std::string method, target, host;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  bool keep_alive = false, upgrade = false, expect_continue = false;
  std::string body;     // re-framed body as the backend would see it
  size_t consumed = 0;  // input bytes used by this message
};

// "name=value;" for each header, in order (values as the proxy sees them: trimmed).
inline std::string headerList(const std::vector<Header>& headers) {
  std::string out;
  for (const Header& h : headers) out.append(h.name).append("=").append(h.value).append(";");
  return out;
}

// Parses one message from `input`, feeding at most `piece` bytes per call.
inline ParsedRequest parseOne(RequestParser& parser, std::string_view input,
                              size_t piece = 1 << 20) {
  ParsedRequest r;
  StringSink sink;
  size_t pos = 0;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    size_t n = std::min(piece, input.size() - pos);
    auto res = parser.feed(input.data() + pos, n, &sink);
    pos += res.consumed;
    if (res.status == RequestParser::Status::kError) {
      r.error = parser.error();
      break;
    }
    if (res.status == RequestParser::Status::kHeadComplete) {
      const RequestHead& h = parser.head();
      r.head_ok = true;
      r.method = h.method;
      r.target = h.target;
      r.host = h.host;
      r.framing = h.framing;
      r.content_length = h.content_length;
      r.keep_alive = h.keep_alive;
      r.upgrade = h.upgrade;
      r.expect_continue = h.expect_continue;
      continue;
    }
    if (res.status == RequestParser::Status::kMessageComplete) {
      r.complete = true;
      break;
    }
    if (pos >= input.size()) break;  // kNeedMore with nothing left
  }
  r.body = sink.out;
  r.consumed = pos;
  return r;
}

inline ParsedRequest parseOne(std::string_view input, size_t piece = 1 << 20,
                              RequestLimits limits = {}) {
  RequestParser parser(limits);
  return parseOne(parser, input, piece);
}

}  // namespace fulcrum::http::testing
