// Re-serialization: the head the backend gets parses back to the same request, and nothing
// the client wrote can make the backend see a message boundary the proxy did not.
#include <gtest/gtest.h>

#include <string>

#include "fulcrum/http/header_rules.h"
#include "fulcrum/http/request_parser.h"
#include "parse_helpers.h"

namespace fulcrum::http {
namespace {

struct Forwarded {
  testing::ParsedRequest client;   // as the proxy parsed it
  std::string wire;                // head + body sent to the backend
  testing::ParsedRequest backend;  // as a strict backend parses the wire
};

Forwarded roundTrip(std::string_view raw) {
  Forwarded f;
  RequestParser parser({});
  f.client = testing::parseOne(parser, raw);
  if (!f.client.head_ok) return f;
  writeRequestHead(parser.head(), {.client_ip = "192.0.2.7", .new_request_id = "r1"}, f.wire);
  f.wire += f.client.body;
  RequestParser backend({});
  f.backend = testing::parseOne(backend, f.wire);
  return f;
}

TEST(HttpReserialize, SameRequestOnBothSides) {
  for (const char* raw :
       {"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: "
        "1\r\n\r\n",
        "GET http://h.example/z HTTP/1.1\r\nHost: other\r\n\r\n",
        "GET / HTTP/1.0\r\nHost: x\r\n\r\n", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    Forwarded f = roundTrip(raw);
    ASSERT_TRUE(f.client.complete) << raw;
    ASSERT_TRUE(f.backend.complete) << raw << "\nwire:\n" << f.wire;
    EXPECT_EQ(f.backend.consumed, f.wire.size()) << "one request in, one request out";
    EXPECT_EQ(f.backend.method, f.client.method);
    EXPECT_EQ(f.backend.target, f.client.target);
    EXPECT_EQ(f.backend.host, f.client.host);
    EXPECT_EQ(f.backend.framing == BodyFraming::kChunked,
              f.client.framing == BodyFraming::kChunked);
    // The body decodes to the same bytes on both sides.
    testing::StringSink a, b;
    EXPECT_EQ(f.backend.body, f.client.body);
  }
}

TEST(HttpReserialize, SmuggledRequestStaysInTheBody) {
  // A body that looks like a request is just bytes of a Content-Length body to the backend.
  Forwarded f = roundTrip(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\nGET /admin HTTP/1.1\r\nHost: "
      "x\r\n\r\n");
  ASSERT_TRUE(f.backend.complete);
  EXPECT_EQ(f.backend.consumed, f.wire.size());
  EXPECT_EQ(f.backend.target, "/");
}

}  // namespace
}  // namespace fulcrum::http
