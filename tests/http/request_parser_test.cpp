#include "fulcrum/http/request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "parse_helpers.h"

namespace fulcrum::http {
namespace {

using testing::ParsedRequest;
using testing::parseOne;

// Every test runs whole and split into 1-byte and 7-byte pieces: a boundary between reads
// must never change the outcome.
std::vector<ParsedRequest> parseAllWays(std::string_view input, RequestLimits limits = {}) {
  return {parseOne(input, 1 << 20, limits), parseOne(input, 1, limits), parseOne(input, 7, limits)};
}

void expectRejected(std::string_view input, uint16_t status, RequestLimits limits = {}) {
  for (const ParsedRequest& r : parseAllWays(input, limits)) {
    EXPECT_EQ(r.error.status, status) << "input: " << input << " reason: " << r.error.reason;
    EXPECT_TRUE(r.body.empty()) << "no body byte may be forwarded for a refused request";
  }
}

// The access log of a request refused before its head was parsed names its request line when
// a whole one arrived (nginx logs $request for such errors), and nothing otherwise.
TEST(HttpRequestParser, RefusedHeadStillNamesItsRequestLineForTheLog) {
  struct Case {
    std::string input;
    RequestLimits limits;
    uint16_t status;
    const char* method;
    const char* target;
  };
  const Case cases[] = {
      {"GET /big HTTP/1.1\r\nHost: x\r\nX: " + std::string(2000, 'a') + "\r\n\r\n",
       {.max_header_bytes = 1024},
       431,
       "GET",
       "/big"},
      {"POST /dup HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       {},
       400,
       "POST",
       "/dup"},
      {"GET /v HTTP/2.0\r\nHost: x\r\n\r\n", {}, 505, "GET", "/v"},
      {"\r\nBREW /pot HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", {}, 400, "BREW", "/pot"},
      {"GET /" + std::string(3000, 'a'), {.max_header_bytes = 1024}, 414, "", ""},
      {"G@T / HTTP/1.1\r\n\r\n", {}, 400, "", ""},
  };
  for (const Case& c : cases) {
    RequestParser parser(c.limits);
    ParsedRequest r = parseOne(parser, c.input);
    EXPECT_EQ(r.error.status, c.status) << c.input.substr(0, 40);
    EXPECT_EQ(parser.loggedMethod(), c.method) << c.input.substr(0, 40);
    EXPECT_EQ(parser.loggedTarget(), c.target) << c.input.substr(0, 40);
  }
  RequestParser ok({});
  parseOne(ok, "GET /fine HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.loggedMethod(), "GET");
  EXPECT_EQ(ok.loggedTarget(), "/fine");
}

TEST(HttpRequestParser, SimpleGet) {
  for (const ParsedRequest& r : parseAllWays("GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")) {
    EXPECT_TRUE(r.head_ok);
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/a?b=1");
    EXPECT_EQ(r.host, "example.com");
    EXPECT_EQ(r.framing, BodyFraming::kNone);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_FALSE(r.upgrade);
  }
}

TEST(HttpRequestParser, HeadersAreViewsTrimmed) {
  RequestParser parser({});
  auto r = parseOne(parser,
                    "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-A:  v1 \t\r\nx-b: v2\r\n\r\n", 3);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(testing::headerList(parser.head().headers), "Host=a;X-Empty=;X-A=v1;x-b=v2;");
  EXPECT_EQ(parser.head().find("X-B")->value, "v2");
}

// Empty lines before the request line (RFC 9112 2.2) are part of the head's bytes: header
// spans, counted from its first byte, still land on the right bytes however it is split.
TEST(HttpRequestParser, HeadersAfterLeadingEmptyLines) {
  for (size_t piece : {1, 2, 5, 1000}) {
    RequestParser parser({});
    auto r = parseOne(parser, "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nX-B: v 2\r\n\r\n", piece);
    ASSERT_TRUE(r.complete);
    EXPECT_EQ(testing::headerList(parser.head().headers), "Host=a;X-B=v 2;")
        << "pieces of " << piece;
  }
}

TEST(HttpRequestParser, ContentLengthBodyStreamed) {
  for (const ParsedRequest& r :
       parseAllWays("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloEXTRA")) {
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(r.framing, BodyFraming::kContentLength);
    EXPECT_EQ(r.content_length, 5u);
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(
        r.consumed,
        std::string_view("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello").size());
  }
}

TEST(HttpRequestParser, ChunkedBodyReframed) {
  std::string in =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n000A\r\n0123456789\r\n0\r\nTrailer-X: y\r\n\r\n";
  for (const ParsedRequest& r : parseAllWays(in)) {
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(r.framing, BodyFraming::kChunked);
    // Extensions and trailers dropped, sizes normalised.
    std::string body = r.body;
    // Pieces of one chunk may arrive in several callbacks but the framing is the same.
    EXPECT_EQ(body, "5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\n");
  }
}

// A chunk size over 2^31 - 1 would be cut short by a backend that keeps it in 32 bits, which
// would then read the rest of the chunk's data as requests: such a chunk goes out as one chunk
// per piece of data, each with the piece's own size. Smaller sizes go out as received.
TEST(HttpRequestParser, ChunkSizeBeyond32BitsIsReframedPieceByPiece) {
  // De-chunks a re-framed body; returns the sizes it found and appends the data to *data.
  auto chunks = [](std::string_view body, std::string* data) {
    std::vector<uint64_t> sizes;
    while (!body.empty()) {
      size_t eol = body.find("\r\n");
      if (eol == std::string_view::npos) break;
      uint64_t size = std::stoull(std::string(body.substr(0, eol)), nullptr, 16);
      sizes.push_back(size);
      body.remove_prefix(eol + 2);
      if (size == 0 || body.size() < size + 2) break;
      data->append(body.substr(0, size));
      EXPECT_EQ(body.substr(size, 2), "\r\n");
      body.remove_prefix(size + 2);
    }
    return sizes;
  };
  std::string in =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "100000005\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t piece : {size_t{1} << 20, size_t{1}, size_t{7}}) {
    ParsedRequest r = parseOne(in, piece);
    EXPECT_FALSE(r.complete);  // 4 GiB of chunk data are still to come
    std::string data;
    std::vector<uint64_t> sizes = chunks(r.body, &data);
    ASSERT_FALSE(sizes.empty());
    for (uint64_t size : sizes) {
      EXPECT_GT(size, 0u);
      EXPECT_LE(size, 0x7fffffffu);
    }
    // Everything after the size line is chunk data, the would-be request included.
    EXPECT_EQ(data, std::string_view(in).substr(in.find("hello")));
  }
  // The largest size a signed 32-bit integer holds still goes out as it came.
  ParsedRequest edge =
      parseOne("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n7fffffff\r\nabc");
  EXPECT_EQ(edge.body, "7fffffff\r\nabc");
}

// RFC 9112 7.1.1: any number of extensions, values as tokens or quoted strings. llhttp 8.1
// refused a second extension after an unquoted value (cmake/PatchLlhttp.cmake).
TEST(HttpRequestParser, SeveralChunkExtensions) {
  for (std::string_view line : {"3;a=b;c=d", "3;a;c", "3;a=\"b\";c=d", "3;a=b;c;d=\"e\";f=g",
                                "3;a=\"b\\\"c\"", "3;a=\"\\\\\";b", "3;a=\"x\\\ty\""}) {
    std::string in = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     std::string(line) + "\r\nabc\r\n0;x=y;z=w\r\n\r\n";
    for (const ParsedRequest& r : parseAllWays(in)) {
      EXPECT_TRUE(r.complete) << line << ": " << r.error.reason;
      EXPECT_EQ(r.body, "3\r\nabc\r\n0\r\n\r\n") << line;
    }
  }
  // Still refused: nothing after ';', an empty name or value, a bad character in a value, a
  // line that does not end in CRLF. (Extensions are dropped on the way to the backend anyway.)
  for (std::string_view line :
       {"3;", "3;a=b,c", "3;a=b\n", "3;a=b;c=d e", "3;=b", "3;a=", "3;;a", "3;a;;b",
        "3;a=\"b\\\r\"", "3;a=\"b\\\x7f\"", "3;a=\"b\\\"", "3;a=\"b\\\n\""}) {
    expectRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       std::string(line) + "\r\nabc\r\n0\r\n\r\n",
                   400);
  }
}

TEST(HttpRequestParser, Http10) {
  auto r = parseOne("GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(r.complete);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(r.host, "");
  r = parseOne("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(r.keep_alive);
  r = parseOne("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(r.keep_alive);
}

TEST(HttpRequestParser, UpgradeAndExpect) {
  auto r =
      parseOne("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_TRUE(r.upgrade);
  EXPECT_TRUE(r.complete);
  r = parseOne("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_FALSE(r.upgrade);  // no Connection: upgrade
  // A WebSocket handshake is a GET (RFC 6455 4.1).
  for (const char* method : {"POST", "PUT", "BREW"}) {
    r = parseOne(std::string(method) +
                 " /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Content-Length: 1\r\n\r\nx");
    EXPECT_TRUE(r.complete) << method;
    EXPECT_FALSE(r.upgrade) << method;
  }
  r = parseOne("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_TRUE(r.expect_continue);
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nExpect: fancy\r\nContent-Length: 1\r\n\r\nx", 417);
}

// Expect is a list: empty members are ignored (RFC 9110 5.6.1.2), over any number of fields.
TEST(HttpRequestParser, ExpectIsReadAsAList) {
  struct Case {
    const char* expect_fields;
    bool continue_expected;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"Expect: 100-continue,\r\n", true},
           {"Expect: , 100-continue\r\n", true},
           {"Expect: 100-continue, 100-CONTINUE\r\n", true},
           {"Expect:\r\nExpect: 100-continue\r\n", true},
           {"Expect:\r\n", false},
           {"Expect: ,  ,\r\n", false},
       }) {
    std::string in = std::string("POST / HTTP/1.1\r\nHost: a\r\n") + c.expect_fields +
                     "Content-Length: 1\r\n\r\nx";
    for (const ParsedRequest& r : parseAllWays(in)) {
      EXPECT_TRUE(r.complete) << c.expect_fields << r.error.reason;
      EXPECT_EQ(r.expect_continue, c.continue_expected) << c.expect_fields;
    }
  }
  for (const char* fields : {"Expect: 100-continue, fancy\r\n", "Expect: 100-continue;x=1\r\n",
                             "Expect: 100-continue\r\nExpect: fancy\r\n"}) {
    expectRejected(
        std::string("POST / HTTP/1.1\r\nHost: a\r\n") + fields + "Content-Length: 1\r\n\r\nx", 417);
  }
}

// Max-Forwards (RFC 9110 7.6.2) counts for OPTIONS and TRACE: at 0 the proxy answers itself
// (200 to OPTIONS, 405 to TRACE, which it does not reflect); a value it cannot decrement is a
// 400. Other methods' Max-Forwards is not the proxy's to read.
TEST(HttpRequestParser, MaxForwardsIsReadForOptionsAndTrace) {
  struct Case {
    const char* request;
    int64_t max_forwards;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: 3\r\n\r\n", 3},
           {"TRACE /t HTTP/1.1\r\nHost: a\r\nmax-forwards: 001\r\n\r\n", 1},
           {"OPTIONS / HTTP/1.0\r\nMax-Forwards: 99999999999999999999999\r\n\r\n", 1'000'000'000},
           {"OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n", -1},
           {"GET / HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n", -1},
           {"POST / HTTP/1.1\r\nHost: a\r\nMax-Forwards: x\r\nContent-Length: 0\r\n\r\n", -1},
       }) {
    RequestParser parser({});
    ParsedRequest r = testing::parseOne(parser, c.request);
    EXPECT_TRUE(r.complete) << c.request << r.error.reason;
    EXPECT_EQ(parser.head().max_forwards, c.max_forwards) << c.request;
  }
  expectRejected("OPTIONS * HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n", 200);
  expectRejected("OPTIONS /x HTTP/1.0\r\nMax-Forwards: 00\r\n\r\n", 200);
  expectRejected("TRACE / HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n", 405);
  for (const char* fields : {"Max-Forwards: -1\r\n", "Max-Forwards: 1, 2\r\n", "Max-Forwards:\r\n",
                             "Max-Forwards: 2\r\nMax-Forwards: 2\r\n"}) {
    expectRejected(std::string("OPTIONS * HTTP/1.1\r\nHost: a\r\n") + fields + "\r\n", 400);
    expectRejected(std::string("TRACE / HTTP/1.1\r\nHost: a\r\n") + fields + "\r\n", 400);
  }
}

// RFC 9110 2.5: a later minor version is read as the highest one the recipient implements
// (llhttp's strict mode knows none, so the line is given to it again), whatever the reads.
TEST(HttpRequestParser, LaterMinorVersionIsReadAsHttp11) {
  for (std::string_view in :
       {"GET /a HTTP/1.2\r\nHost: a\r\n\r\n", "BREW /a HTTP/1.9\r\nHost: a\r\n\r\n",
        "\r\nPOST /a HTTP/1.5\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"}) {
    for (size_t piece = 1; piece <= in.size(); ++piece) {
      ParsedRequest r = parseOne(in, piece);
      EXPECT_TRUE(r.complete) << in << " piece " << piece << ": " << r.error.reason;
      EXPECT_EQ(r.method, in.find("BREW") != std::string_view::npos   ? "BREW"
                          : in.find("POST") != std::string_view::npos ? "POST"
                                                                      : "GET");
      EXPECT_EQ(r.target, "/a") << in << " piece " << piece;
      EXPECT_EQ(r.host, "a") << in;
      EXPECT_TRUE(r.keep_alive) << in;  // HTTP/1.1's default
    }
  }
  expectRejected("GET / HTTP/1.23\r\nHost: a\r\n\r\n", 400);  // one digit each side
}

TEST(HttpRequestParser, AbsoluteFormBecomesOriginForm) {
  auto r = parseOne("GET http://Example.com:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.target, "/x?y");
  EXPECT_EQ(r.host, "Example.com:8080");
  r = parseOne("GET http://a.b?q=1 HTTP/1.1\r\nHost: a.b\r\n\r\n", 2);
  EXPECT_EQ(r.target, "/?q=1");
  r = parseOne("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.target, "*");
  // RFC 9112 3.2.4: an absolute-form OPTIONS with an empty path goes on as "*".
  r = parseOne("OPTIONS http://a.b:8001 HTTP/1.1\r\nHost: a.b\r\n\r\n");
  EXPECT_EQ(r.target, "*");
  EXPECT_EQ(r.host, "a.b:8001");
  r = parseOne("OPTIONS http://a.b?q HTTP/1.1\r\nHost: a.b\r\n\r\n");
  EXPECT_EQ(r.target, "/?q");
  r = parseOne("OPTIONS http://a.b/ HTTP/1.1\r\nHost: a.b\r\n\r\n");
  EXPECT_EQ(r.target, "/");
  expectRejected("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expectRejected("GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

// Methods are extensible (RFC 9110 9.1): one llhttp does not know goes on as it came, with
// nothing assumed of it, as nginx and HAProxy pass it on.
TEST(HttpRequestParser, ExtensionMethodsArePassedOn) {
  for (const ParsedRequest& r : parseAllWays("BREW /pot?x HTTP/1.1\r\nHost: a\r\n\r\n")) {
    EXPECT_TRUE(r.complete) << r.error.reason;
    EXPECT_EQ(r.method, "BREW");
    EXPECT_EQ(r.target, "/pot?x");
    EXPECT_EQ(r.host, "a");
  }
  // After empty lines, with a body; a known method's prefix ("GETS", "PUTX").
  for (const char* method : {"QUERY", "GETS", "PUTX", "X-MY_METHOD2", "A"}) {
    std::string in =
        std::string("\r\n") + method + " /q HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
    for (const ParsedRequest& r : parseAllWays(in)) {
      EXPECT_TRUE(r.complete) << method << ": " << r.error.reason;
      EXPECT_EQ(r.method, method);
      EXPECT_EQ(r.target, "/q");
      EXPECT_EQ(r.body, "abc");
    }
  }
  // An absolute-form target that has to be rewritten (the head buffer grows).
  for (const ParsedRequest& r :
       parseAllWays("BREW http://h.example?q HTTP/1.1\r\nHost: a\r\n\r\n")) {
    EXPECT_EQ(r.method, "BREW");
    EXPECT_EQ(r.target, "/?q");
    EXPECT_EQ(r.host, "h.example");
  }
  RequestParser parser({});
  ASSERT_TRUE(parseOne(parser, "BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 2).complete);
  EXPECT_FALSE(parser.head().idempotent);  // never sent again
  EXPECT_FALSE(parser.methodIsHead());
  // The next request on the connection is read as usual.
  parser.nextMessage();
  auto next = parseOne(parser, "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n", 3);
  EXPECT_TRUE(next.complete);
  EXPECT_EQ(next.method, "HEAD");
  EXPECT_TRUE(parser.methodIsHead());
  // Case matters, and lower case is refused: a backend that ignores case would take "head"
  // for HEAD and send no body. Other bytes a token allows are refused too.
  for (const char* line :
       {"get / HTTP/1.1", "Brew / HTTP/1.1", "BREw / HTTP/1.1", "BR.EW / HTTP/1.1",
        "BREW! / HTTP/1.1", "G2b=1 / HTTP/1.1", "Ge@ / HTTP/1.1"})
    expectRejected(std::string(line) + "\r\nHost: a\r\n\r\n", 501);
  // A byte no token has is a malformed request line, not an unknown method. The first byte
  // that is not an extension method's decides, however the line is split into reads: "G2b=1"
  // is refused at its "b" (501), before the "=" arrives.
  for (const char* line :
       {"G@T / HTTP/1.1", "G:T / HTTP/1.1", "GE(T / HTTP/1.1", "BREW\" / HTTP/1.1"})
    expectRejected(std::string(line) + "\r\nHost: a\r\n\r\n", 400);
  expectRejected("BREW * HTTP/1.1\r\nHost: a\r\n\r\n", 400);  // "*" is OPTIONS' alone
  expectRejected("BREW / HTTP/1.1\r\n\r\n", 400);             // still needs its Host
  expectRejected("BREW / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                 400);
}

TEST(HttpRequestParser, PipelinedRequestsOneAtATime) {
  std::string in =
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestParser parser({});
  std::string_view rest = in;
  std::vector<std::string> targets;
  for (int i = 0; i < 3; ++i) {
    auto r = parseOne(parser, rest, 5);
    ASSERT_TRUE(r.complete) << i;
    targets.push_back(r.target);
    rest.remove_prefix(r.consumed);
    parser.nextMessage();
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/1", "/2", "/3"}));
  EXPECT_TRUE(rest.empty());
  EXPECT_TRUE(parser.idle());
}

// A large upload goes to the backend by splice(2): the parser is told how much went past it
// (skipBody), and when the last byte went too (skipRestOfBody), the request ends there with
// the sink never given a stand-in byte, and the next request on the connection parses as usual.
TEST(HttpRequestParser, BodySplicedPastTheParserToItsLastByte) {
  RequestParser parser({});
  testing::StringSink sink;
  std::string in = "PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789";
  EXPECT_EQ(parser.lengthBodyLeft(), 0u);  // no head yet
  auto r = parser.feed(in.data(), in.size(), &sink);
  ASSERT_EQ(r.status, RequestParser::Status::kHeadComplete);
  EXPECT_EQ(parser.lengthBodyLeft(), 100u);
  in.erase(0, r.consumed);
  r = parser.feed(in.data(), in.size(), &sink);
  ASSERT_EQ(r.status, RequestParser::Status::kNeedMore);
  EXPECT_EQ(sink.out, "0123456789");
  EXPECT_EQ(parser.lengthBodyLeft(), 90u);
  parser.skipBody(40);
  EXPECT_EQ(parser.lengthBodyLeft(), 50u);
  EXPECT_EQ(parser.bodyBytes(), 50u);
  // Bytes through feed() again, then the rest past it.
  r = parser.feed("abcde", 5, &sink);
  ASSERT_EQ(r.status, RequestParser::Status::kNeedMore);
  EXPECT_EQ(parser.lengthBodyLeft(), 45u);
  parser.skipBody(44);
  r = parser.skipRestOfBody();
  EXPECT_EQ(r.status, RequestParser::Status::kMessageComplete);
  EXPECT_EQ(parser.lengthBodyLeft(), 0u);
  EXPECT_EQ(parser.bodyBytes(), 100u);
  EXPECT_EQ(sink.out, "0123456789abcde");  // nothing of the skipped bytes, no stand-in byte
  parser.nextMessage();
  auto next = testing::parseOne(parser, "GET /n HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(next.complete);
  EXPECT_EQ(next.target, "/n");
  // Nothing to skip (a chunked body, or no body at all): an error, never a request made to
  // look complete.
  RequestParser chunked({});
  std::string head = "PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(chunked.feed(head.data(), head.size(), &sink).status,
            RequestParser::Status::kHeadComplete);
  EXPECT_EQ(chunked.lengthBodyLeft(), 0u);
  EXPECT_EQ(chunked.skipRestOfBody().status, RequestParser::Status::kError);
}

TEST(HttpRequestParser, UpgradeNotSwitchedKeepsParsing) {
  std::string in =
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestParser parser({});
  auto r = parseOne(parser, in);
  ASSERT_TRUE(r.upgrade);
  parser.nextMessage();
  auto r2 = parseOne(parser, std::string_view(in).substr(r.consumed));
  EXPECT_TRUE(r2.complete);
  EXPECT_EQ(r2.target, "/next");
}

TEST(HttpRequestParser, LeadingEmptyLinesTolerated) {
  auto r = parseOne("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 1);
  EXPECT_TRUE(r.complete);
}

// ---- Limits ----

TEST(HttpRequestLimits, HeadTooLargeIs431) {
  std::string in = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'x') + "\r\n\r\n";
  expectRejected(in, 431, {.max_header_bytes = 1024});
  auto ok = parseOne(in, 100, {.max_header_bytes = in.size()});
  EXPECT_TRUE(ok.complete);  // exactly at the limit is fine
  expectRejected(in, 431, {.max_header_bytes = in.size() - 1});
}

TEST(HttpRequestLimits, RequestLineTooLongIs414) {
  std::string in = "GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  expectRejected(in, 414, {.max_header_bytes = 1024});
}

TEST(HttpRequestLimits, RequestLineThatFillsTheLimitAloneIs414NotItsHeaders) {
  // A line whose CRLF arrives within the limit but leaves no room for the blank line after
  // it: the line is what is too long, not the (absent) header fields.
  std::string line = "GET /" + std::string(1024 - 2 - 14, 'a') + " HTTP/1.1";  // 1022 bytes
  ASSERT_EQ(line.size(), 1022u);
  expectRejected(line + "\r\n\r\n", 414, {.max_header_bytes = 1024});
  expectRejected(line + "\r\nHost: a\r\n\r\n", 414, {.max_header_bytes = 1024});
  // Room for the line and the blank line: a header field that overflows it is a 431.
  std::string shorter = "GET /" + std::string(1024 - 4 - 14, 'a') + " HTTP/1.1";  // 1020
  expectRejected(shorter + "\r\nHost: a\r\n\r\n", 431, {.max_header_bytes = 1024});
}

TEST(HttpRequestLimits, BodyLimitContentLengthUpFront) {
  expectRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413,
                 {.max_body_bytes = 10});
  auto r = parseOne("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", 3,
                    {.max_body_bytes = 10});
  EXPECT_TRUE(r.complete);
}

TEST(HttpRequestLimits, BodyLimitChunkedWhenExceeded) {
  std::string in =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
      "chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n";
  for (size_t piece : {1, 5, 1000}) {
    auto r = parseOne(in, piece, {.max_body_bytes = 10});
    EXPECT_EQ(r.error.status, 413);
    EXPECT_EQ(r.body, "6\r\nabcdef\r\n");  // the first chunk fit; nothing of the second
  }
}

TEST(HttpRequestLimits, TrailersBounded) {
  std::string in = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 3000; ++i) in += "X-T: " + std::string(30, 'y') + "\r\n";
  in += "\r\n";
  EXPECT_EQ(parseOne(in).error.status, 400);
}

}  // namespace
}  // namespace fulcrum::http
