// Request smuggling and malformed input: every case is refused before anything of it could
// reach a backend, whatever the read boundaries.
#include <gtest/gtest.h>

#include <string>

#include "fulcrum/http/request_parser.h"
#include "parse_helpers.h"

namespace fulcrum::http {
namespace {

using testing::ParsedRequest;
using testing::parseOne;

void expectRefused(const std::string& input, uint16_t status = 400) {
  for (size_t piece : {size_t{1}, size_t{3}, size_t{1} << 20}) {
    auto r = parseOne(input, piece);
    EXPECT_EQ(r.error.status, status)
        << "piece " << piece << " input: " << input << " got reason: " << r.error.reason;
    EXPECT_FALSE(r.complete);
    EXPECT_TRUE(r.body.empty()) << input;
  }
}

std::string post(const std::string& headers, const std::string& body = "") {
  return "POST / HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n" + body;
}

TEST(HttpSmuggling, ContentLengthWithTransferEncoding) {
  expectRefused(post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", "0\r\n\r\n"));
  expectRefused(post("Content-Length: 0\r\nTransfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"));
}

TEST(HttpSmuggling, SeveralContentLengths) {
  expectRefused(post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd"));
  expectRefused(post("Content-Length: 3\r\nContent-Length: 3\r\n", "abc"));
  expectRefused(post("Content-Length: 3, 3\r\n", "abc"));
  expectRefused(post("Content-Length: 3, 4\r\n", "abcd"));
}

TEST(HttpSmuggling, ContentLengthNotPlainDigits) {
  for (const char* v : {"+3", "-3", "0x3", "3 3", "3a", "", "1e2", "99999999999999999999999",
                        "1000000000000000000"})  // 19 significant digits
    expectRefused(post(std::string("Content-Length: ") + v + "\r\n", "abc"));
  // 1*DIGIT: leading zeros are digits too (RFC 9110 8.6), however many.
  for (const char* v : {"0000000000000000000000003", "03"}) {
    auto r = parseOne(post(std::string("Content-Length: ") + v + "\r\n", "abc"));
    EXPECT_TRUE(r.complete) << v << ": " << r.error.reason;
    EXPECT_EQ(r.content_length, 3u) << v;
    EXPECT_EQ(r.body, "abc") << v;
  }
}

TEST(HttpSmuggling, TransferEncodingOtherThanFinalChunked) {
  expectRefused(post("Transfer-Encoding: gzip\r\n", "abc"));
  expectRefused(post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: chunkedx\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: identity\r\n", "abc"));
  expectRefused(post("Transfer-Encoding:\r\n", "abc"));
  expectRefused(post("Transfer-Encoding: chunked;q=1\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: \"chunked\"\r\n", "0\r\n\r\n"));
  // A final chunked after another coding, known or not, in one field or two: 400 as well.
  expectRefused(post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: foo, chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: identity, chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"));
  // Empty list members are refused, whichever side they are on: one reader's `chunked` may
  // be another's unknown coding.
  expectRefused(post("Transfer-Encoding: chunked,\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: ,chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: , , chunked\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: chunked , \r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding: chunked\t\r\n", "0\r\n\r\n"));
  expectRefused(post("Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"));
}

TEST(HttpSmuggling, ChunkedAcceptedCaseAndWhitespace) {
  auto r = parseOne(post("Transfer-Encoding:  ChUnKeD \r\n", "1\r\nx\r\n0\r\n\r\n"));
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.body, "1\r\nx\r\n0\r\n\r\n");
}

TEST(HttpSmuggling, TransferEncodingInHttp10) {
  expectRefused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
}

TEST(HttpSmuggling, InvalidChunkSizes) {
  const std::string te = "Transfer-Encoding: chunked\r\n";
  for (const char* chunk :
       {"zz\r\nabc\r\n0\r\n\r\n", "-1\r\nabc\r\n0\r\n\r\n", "0x3\r\nabc\r\n0\r\n\r\n",
        " 3\r\nabc\r\n0\r\n\r\n", "3 \r\nabc\r\n0\r\n\r\n", "3\nabc\r\n0\r\n\r\n",
        "3\rabc\r\n0\r\n\r\n", "\r\nabc\r\n0\r\n\r\n", "fffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        "10000000000000000\r\nabc\r\n0\r\n\r\n",
        // Fits 64 bits, but a signed 64-bit parser downstream would read it as negative.
        "8000000000000000\r\nabc\r\n0\r\n\r\n", "ffffffffffffffff\r\nabc\r\n0\r\n\r\n"})
    expectRefused(post(te, chunk));
}

TEST(HttpSmuggling, ChunkDataNotFollowedByCrlf) {
  for (const char* chunk : {"3\r\nabcd\r\n0\r\n\r\n", "3\r\nabc0\r\n\r\n", "3\r\nabc\n0\r\n\r\n"}) {
    for (size_t piece : {size_t{1}, size_t{1} << 20}) {
      auto r = parseOne(post("Transfer-Encoding: chunked\r\n", chunk), piece);
      EXPECT_EQ(r.error.status, 400) << chunk;
      // The backend got a prefix at most, never a terminated message.
      EXPECT_EQ(r.body.find("0\r\n\r\n"), std::string::npos) << chunk;
    }
  }
}

TEST(HttpSmuggling, ObsFold) {
  expectRefused("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\n Host: a\r\n\r\n");
  expectRefused(post("Transfer-Encoding: gzip\r\n ,chunked\r\n", "0\r\n\r\n"));
}

TEST(HttpSmuggling, NulBareCrBareLfInHead) {
  using namespace std::string_literals;
  expectRefused("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s);
  expectRefused("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"s);
  expectRefused("GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n"s);
  expectRefused("GET / HTTP/1.1\r\nHost: a\rX-B: c\r\n\r\n");
  expectRefused("GET / HTTP/1.1\rHost: a\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n");
  expectRefused("GET / HTTP/1.1\nHost: a\n\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\nContent-Length: 5\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\r\n\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n");
  expectRefused("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(HttpSmuggling, InvalidHeaderNames) {
  for (const char* line : {"Ho st: a", "Host : a", ": a", "X(y): a", "X\xff: a", "X/y: z",
                           "X\"y: z", "Content-Length : 5", "X\ty: z", "X@: z"})
    expectRefused(std::string("GET / HTTP/1.1\r\nHost: a\r\n") + line + "\r\n\r\n");
}

TEST(HttpSmuggling, HostRules) {
  expectRefused("GET / HTTP/1.1\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost: a\xe9\r\n\r\n");
  expectRefused("GET / HTTP/1.1\r\nHost:\r\n\r\n");  // an http URI needs a host
  expectRefused("GET / HTTP/1.1\r\nHost: :80\r\n\r\n");
  expectRefused("GET / HTTP/1.0\r\nHost: \r\n\r\n");
  expectRefused("GET http://:80/ HTTP/1.1\r\nHost: a\r\n\r\n");
  // Absolute-form does not excuse a missing or invalid Host (RFC 9112 3.2).
  expectRefused("GET http://a/ HTTP/1.1\r\n\r\n");
  expectRefused("GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n");
  // A port is digits, at most 65535; brackets only around an IP-literal.
  for (const char* host :
       {"a:abc", "a:99999999999", "a:65536", "a:1:2", "a:-1", "[::1", "a]", "[::1]x", "[::1]:8x",
        "a[b]", "[a[b]]", "[[::1]]", "[::1]]", "[]", "[]:80", "[::1]:65536", "a:80]"}) {
    expectRefused(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
    expectRefused(std::string("GET http://") + host + "/ HTTP/1.1\r\nHost: a\r\n\r\n");
  }
  for (const char* host : {"a", "a:", "a:80", "a:65535", "a:08080", "[::1]", "[::1]:443",
                           "[::1]:", "127.0.0.1:1", "A.Example.", "a:000080", "a:0"}) {
    for (const ParsedRequest& r :
         {parseOne(std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n"),
          parseOne(std::string("GET http://") + host + "/x HTTP/1.1\r\nHost: b\r\n\r\n")}) {
      EXPECT_TRUE(r.head_ok) << host << ": " << r.error.reason;
      EXPECT_EQ(r.host, host);
    }
  }
}

TEST(HttpSmuggling, RequestLineShape) {
  using namespace std::string_literals;
  expectRefused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
  expectRefused("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
  expectRefused("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505);
  expectRefused("GET / HTTP/x.1\r\nHost: a\r\n\r\n");  // not a version at all
  // A method that is neither llhttp's nor an upper-case extension method is one the proxy
  // does not implement (extension methods are passed on: request_parser_test.cpp).
  expectRefused("brew /pot HTTP/1.1\r\nHost: a\r\n\r\n", 501);
  // The earliest refusal decides, whatever the read boundaries: the refused method comes
  // before the NUL, the malformed version before the bad header name; an extension method is
  // checked like any other request.
  expectRefused("brew / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, 501);
  expectRefused("BREW / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, 400);
  expectRefused("BREW / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
  expectRefused("BREW /\r\n\r\n");
  expectRefused("BREW\x01 / HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRefused("GET / HTTP/3.0\r\nHo st: a\r\n\r\n", 505);
  expectRefused("GET / HTTP/1.2\r\nHo st: a\r\n\r\n", 400);  // 1.2 is read as 1.1
  expectRefused("GET / HTTP/1.23\r\nHost: a\r\n\r\n", 400);  // one digit each side
  expectRefused("GET / HTTP/x.1\r\nHo st: a\r\n\r\n", 400);
  expectRefused("GET /\r\n\r\n");  // HTTP/0.9
  expectRefused("GET / HTTP/1.1 \r\nHost: a\r\n\r\n");
  expectRefused(" GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRefused("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 405);
  expectRefused("get / HTTP/1.1\r\nHost: a\r\n\r\n", 501);  // methods are case-sensitive
  expectRefused("GET /a\xff HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRefused("GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRefused("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRefused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRefused("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n");
  expectRefused("GET a HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(HttpSmuggling, TrailerSectionAsStrictAsAHead) {
  // The trailer section has a head's grammar, and a bare LF, obs-fold or a bad name there is
  // refused as in a head (llhttp alone takes them): a front proxy that reads such bytes
  // differently would otherwise see one request where this one sees two.
  const std::string next = "GET /second HTTP/1.1\r\nHost: a\r\n\r\n";
  for (const char* trailers :
       {"0\r\n\n", "0\r\nX: y\r\n\n", "0\r\nX: y\r\n z\r\n\r\n", "0\r\n: b\r\n\r\n",
        "0\r\nX y: z\r\n\r\n", "0\r\nX: a\rb\r\n\r\n", "0\r\nX: y\n\r\n", "0\r\n\r\r\n"}) {
    std::string in =
        post("Transfer-Encoding: chunked\r\n", std::string("2\r\nhi\r\n") + trailers) + next;
    for (size_t piece : {size_t{1}, size_t{3}, size_t{1} << 20}) {
      auto r = parseOne(in, piece);
      EXPECT_EQ(r.error.status, 400) << "piece " << piece << ": " << trailers;
      EXPECT_FALSE(r.complete) << trailers;
    }
  }
  // Well-formed trailers end the message exactly at their blank line, whatever the reads.
  for (const char* trailers : {"0\r\n\r\n", "0\r\nX: y\r\nY-2:z \r\n\r\n", "0;e=1\r\nX:\r\n\r\n"}) {
    std::string in = post("Transfer-Encoding: chunked\r\n", std::string("2\r\nhi\r\n") + trailers);
    for (size_t piece : {size_t{1}, size_t{3}, size_t{1} << 20}) {
      auto r = parseOne(in + next, piece);
      EXPECT_TRUE(r.complete) << "piece " << piece << ": " << trailers << r.error.reason;
      EXPECT_EQ(r.consumed, in.size()) << trailers;
      EXPECT_EQ(r.body, "2\r\nhi\r\n0\r\n\r\n");
    }
  }
}

TEST(HttpSmuggling, ChunkSizeLineBounded) {
  // Leading zeros are valid hex, but a size line of endless zeros would hold the backend
  // connection open forever: framing beyond what chunks need is refused.
  std::string zeros(200000, '0');
  for (size_t piece : {size_t{1000}, size_t{1} << 20}) {
    auto r = parseOne(post("Transfer-Encoding: chunked\r\n", zeros + "1\r\na\r\n0\r\n\r\n"), piece);
    EXPECT_EQ(r.error.status, 400) << piece;
    EXPECT_STREQ(r.error.reason, "chunk size line too long");
  }
  // A few dozen leading zeros per chunk are fine.
  std::string body;
  for (int i = 0; i < 50; ++i) body += std::string(40, '0') + "2\r\nhi\r\n";
  auto r = parseOne(post("Transfer-Encoding: chunked\r\n", body + "0\r\n\r\n"), 7);
  EXPECT_TRUE(r.complete) << r.error.reason;
  EXPECT_EQ(r.body.size(), 50u * 7 + 5);  // re-framed: "2\r\nhi\r\n" per chunk, "0\r\n\r\n"
}

TEST(HttpSmuggling, NoSecondRequestHiddenInBody) {
  // The proxy frames the body by Content-Length: what follows is the next request it parses
  // itself, and the backend only ever sees the re-framed body.
  std::string in = post("Content-Length: 5\r\n", "helloGET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
  RequestParser parser({});
  auto r = parseOne(parser, in);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.body, "hello");
  parser.nextMessage();
  auto next = parseOne(parser, std::string_view(in).substr(r.consumed));
  EXPECT_EQ(next.target, "/admin");
}

}  // namespace
}  // namespace fulcrum::http
