// libFuzzer target over the HTTP request path: strict head scanner + llhttp request parser +
// smuggling checks + header rules + re-serialization. Besides "no crash, no sanitizer report"
// it checks the properties the proxy relies on:
//  - the outcome does not depend on how the bytes were split into reads;
//  - every accepted request, re-serialized for the backend, parses back (with a fresh strict
//    parser) as exactly one request with the same method, target, host and body;
//  - head copies stay within max_header_bytes;
//  - a Content-Length body moved past the parser (spliced: skipBody, skipRestOfBody) ends
//    the request where parsing it does, and the next request parses the same.
// The response path has its own target (response_parser_fuzz.cpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fulcrum/http/error_response.h"
#include "fulcrum/http/header_rules.h"
#include "fulcrum/http/request_parser.h"

using namespace fulcrum::http;

namespace {

struct Sink : BodySink {
  std::string out;
  void onBodyBytes(const char* d, size_t n) override { out.append(d, n); }
};

struct Message {
  std::string method, target, host, body, wire;
  BodyFraming framing;
};

struct Outcome {
  std::vector<Message> messages;
  uint16_t error = 0;
  size_t consumed = 0;
};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// `splice`: Content-Length body bytes go past the parser, `piece` at a time, as the proxy's
// splice(2) path moves them (ClientSession::onClientReadable).
Outcome parseAll(std::string_view in, size_t piece, RequestLimits limits, bool serialize,
                 bool splice = false) {
  Outcome o;
  RequestParser parser(limits);
  Sink sink;
  size_t pos = 0;
  Message current;
  for (int guard = 0; guard < 100000; ++guard) {
    RequestParser::Result r;
    if (const uint64_t left = parser.lengthBodyLeft(); splice && left > 0 && pos < in.size()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>({piece, left, in.size() - pos}));
      sink.out.append(in.data() + pos, n);  // what went to the backend
      if (n < left) {
        parser.skipBody(n);
        r = {RequestParser::Status::kNeedMore, n};
      } else {
        r = parser.skipRestOfBody();
        check(r.status == RequestParser::Status::kMessageComplete);
        r.consumed = n;
      }
    } else {
      r = parser.feed(in.data() + pos, std::min(piece, in.size() - pos), &sink);
    }
    pos += r.consumed;
    check(pos <= in.size());
    if (r.status == RequestParser::Status::kError) {
      o.error = parser.error().status;
      std::string response;
      writeErrorResponse(o.error, {}, response);
      check(response.compare(0, 9, "HTTP/1.1 ") == 0);
      break;
    }
    if (r.status == RequestParser::Status::kHeadComplete) {
      const RequestHead& h = parser.head();
      current = Message{
          std::string(h.method), std::string(h.target), std::string(h.host), "", "", h.framing};
      if (serialize) {
        writeRequestHead(h,
                         {.client_ip = "192.0.2.1",
                          .new_request_id = "0123456789abcdef",
                          .fallback_host = "backend:80"},
                         current.wire);
      }
      sink.out.clear();
      continue;
    }
    if (r.status == RequestParser::Status::kMessageComplete) {
      current.body = sink.out;
      sink.out.clear();
      o.messages.push_back(current);
      if (o.messages.size() > 64) break;
      parser.nextMessage();
      continue;
    }
    if (pos >= in.size()) break;
  }
  o.consumed = pos;
  return o;
}

// What a strict backend makes of the bytes the proxy sends.
void checkBackendView(const Message& m) {
  RequestParser backend({.max_header_bytes = 1 << 20, .max_body_bytes = 0});
  std::string wire = m.wire + m.body;
  Outcome b = parseAll(wire, wire.size() + 1, {.max_header_bytes = 1 << 20}, false);
  if ((m.method == "OPTIONS" && b.error == 200) || (m.method == "TRACE" && b.error == 405)) {
    // A Max-Forwards of 1 went on as 0, which the next hop answers itself (RFC 9110 7.6.2).
    std::string lower(m.wire);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    check(lower.find("\r\nmax-forwards: 0\r\n") != std::string::npos);
    return;
  }
  check(b.error == 0);
  check(b.messages.size() == 1);
  check(b.consumed == wire.size());
  const Message& got = b.messages[0];
  check(got.method == m.method);
  check(got.target == m.target);
  check(m.host.empty() || got.host == m.host);
  // Chunked bodies were re-framed: compare the framed bytes (same chunks both times).
  check(got.body == m.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t config = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  RequestLimits limits{.max_header_bytes = (config & 1) ? 256u : 8192u,
                       .max_body_bytes = (config & 2) ? 16u : 0u};
  size_t piece = 1 + (config >> 2);

  Outcome whole = parseAll(in, in.size() + 1, limits, true);
  // Split into reads, and with Content-Length bodies spliced past the parser: both must read
  // the input as the whole does.
  for (bool splice : {false, true}) {
    Outcome other = parseAll(in, piece, limits, true, splice);
    check(whole.error == other.error);
    check(whole.messages.size() == other.messages.size());
    // On an error the connection is closed: where exactly parsing stopped does not matter.
    if (whole.error == 0) check(whole.consumed == other.consumed);
    for (size_t i = 0; i < whole.messages.size(); ++i) {
      check(whole.messages[i].wire == other.messages[i].wire);
      check(whole.messages[i].body == other.messages[i].body);
    }
  }
  for (const Message& m : whole.messages) checkBackendView(m);

  return 0;
}
