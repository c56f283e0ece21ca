#include "fulcrum/http/header_rules.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <time.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "fulcrum/http/http_date.h"
#include "fulcrum/http/request_parser.h"
#include "parse_helpers.h"

namespace fulcrum::http {
namespace {

// Parses `raw` and returns the head the backend would get.
std::string forward(std::string_view raw, RequestForwarding fwd = {}) {
  RequestParser parser({});
  auto r = testing::parseOne(parser, raw);
  EXPECT_TRUE(r.head_ok) << r.error.reason;
  if (fwd.client_ip.empty()) fwd.client_ip = "10.0.0.9";
  std::string out;
  writeRequestHead(parser.head(), fwd, out);
  return out;
}

TEST(HttpHeaderRules, HopByHopRemoved) {
  std::string out = forward(
      "GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\n"
      "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\n"
      "X-Secret: s\r\nX-Keep: k\r\ntraceparent: 00-abc-def-01\r\n\r\n",
      {.new_request_id = "id1"});
  EXPECT_EQ(out,
            "GET /x HTTP/1.1\r\nHost: a\r\nX-Keep: k\r\ntraceparent: 00-abc-def-01\r\n"
            "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n"
            "X-Request-Id: id1\r\n\r\n");
}

// No limit on Connection options (RFC 9110 7.6.1 sets none; nginx and HAProxy take any
// number): past the inline slots, every named header is still removed, whatever its case,
// and `close` still closes.
TEST(HttpHeaderRules, ManyConnectionOptions) {
  std::string options, named;
  for (int i = 0; i < 40; ++i) {
    options += (i ? ", x-o" : "x-o") + std::to_string(i);
    named += "X-O" + std::to_string(i) + ": v\r\n";
  }
  std::string out =
      forward("GET / HTTP/1.1\r\nHost: a\r\nConnection: " + options +
                  "\r\nConnection: X-Last, close\r\n" + named + "X-Last: l\r\nX-Keep: k\r\n\r\n",
              {.new_request_id = "id1"});
  EXPECT_EQ(out.find("X-O"), std::string::npos) << out;
  EXPECT_EQ(out.find("X-Last"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Keep: k\r\n"), std::string::npos) << out;
  ConnectionOptions o = ConnectionOptions::from(
      {Header("Connection", options), Header("Connection", "X-Last, close")});
  EXPECT_TRUE(o.close);
  EXPECT_EQ(o.seen, 42u);
  EXPECT_TRUE(o.names("x-o39"));
  EXPECT_TRUE(o.names("X-LAST"));
  EXPECT_FALSE(o.names("x-o40"));
}

TEST(HttpHeaderRules, XForwardedForAppended) {
  std::string out = forward(
      "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2, "
      "3.3.3.3\r\n"
      "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\r\n");
  EXPECT_NE(out.find("X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9\r\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("X-Forwarded-Proto: http\r\n"), std::string::npos);
  EXPECT_NE(out.find("X-Forwarded-Host: h\r\n"), std::string::npos);
  EXPECT_EQ(out.find("evil"), std::string::npos);
  EXPECT_EQ(out.find("https"), std::string::npos);
}

TEST(HttpHeaderRules, ForwardedLookalikesDropped) {
  // What a CGI, WSGI or Rack backend would read as X-Forwarded-*: not passed on when the proxy
  // sets those. Other names with '_' are passed on.
  std::string out = forward(
      "GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 6.6.6.6\r\nx-forwarded_for: 6.6.6.7\r\n"
      "X_FORWARDED-PROTO: https\r\nX_Forwarded_Host: evil\r\nX_Other: o\r\n"
      "X_Forwarded_Fox: f\r\n\r\n",
      {.add_request_id = false});
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nHost: h\r\nX_Other: o\r\nX_Forwarded_Fox: f\r\n"
            "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
  EXPECT_EQ(classifyHeader("X_Forwarded-For"), HeaderId::kXForwardedLookalike);
  EXPECT_EQ(classifyHeader("X-Forwarded_Host"), HeaderId::kXForwardedLookalike);
  EXPECT_EQ(classifyHeader("Accept-Encoding"), HeaderId::kOther);  // same length, no '_'
  EXPECT_EQ(classifyHeader("X_Request_Id"), HeaderId::kOther);     // client ids are passed on
  std::vector<Header> headers{Header("X_Forwarded_Host", "a"), Header("X_Forwarded_For", "b")};
  ASSERT_NE(findHeader(headers, "x_forwarded_for"), nullptr);
  EXPECT_EQ(findHeader(headers, "x_forwarded_for")->value, "b");
  // Without forwarded headers the proxy vouches for nothing: both spellings pass.
  out = forward("GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 1.1.1.1\r\n\r\n",
                {.forwarded = false, .add_request_id = false});
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 1.1.1.1\r\n\r\n");
}

TEST(HttpHeaderRules, ForwardedOffLeavesHeadersAlone) {
  std::string out = forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
                            {.forwarded = false, .add_request_id = false});
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n");
}

TEST(HttpHeaderRules, RequestIdKeptWhenPresent) {
  std::string out = forward("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: mine\r\n\r\n",
                            {.new_request_id = "generated"});
  EXPECT_NE(out.find("X-Request-Id: mine\r\n"), std::string::npos);
  EXPECT_EQ(out.find("generated"), std::string::npos);
  RequestParser parser({});
  testing::parseOne(parser, "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: mine\r\n\r\n");
  EXPECT_EQ(effectiveRequestId(parser.head(), "gen"), "mine");
}

TEST(HttpHeaderRules, EmptyRequestIdIsReplaced) {
  // The generated id goes to the backend and back to the client: one id for both.
  for (const char* empty : {"X-Request-Id:\r\n", "X-Request-Id:  \r\n"}) {
    std::string req = std::string("GET / HTTP/1.1\r\nHost: h\r\n") + empty + "\r\n";
    RequestParser parser({});
    testing::parseOne(parser, req);
    EXPECT_EQ(effectiveRequestId(parser.head(), "gen"), "gen");
    std::string out = forward(req, {.new_request_id = "gen"});
    EXPECT_NE(out.find("\r\nX-Request-Id: gen\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("X-Request-Id:\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("X-Request-Id:  "), std::string::npos) << out;
  }
  // An empty one before a real one: the real one is the request's id.
  RequestParser parser({});
  testing::parseOne(parser,
                    "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id:\r\nX-Request-Id: r\r\n\r\n");
  EXPECT_EQ(effectiveRequestId(parser.head(), "gen"), "r");
}

TEST(HttpHeaderRules, OneRequestIdGoesToTheBackend) {
  // Two ids from the client: the backend gets the one the client and the access log get (the
  // first that says something), not both, so a backend reading the last sees the same id.
  const char* req =
      "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id:\r\nX-Request-Id: a1\r\n"
      "X-Request-Id: b2\r\n\r\n";
  RequestParser parser({});
  testing::parseOne(parser, req);
  EXPECT_EQ(effectiveRequestId(parser.head(), "gen"), "a1");
  std::string out = forward(req, {.new_request_id = "a1"});
  EXPECT_NE(out.find("\r\nX-Request-Id: a1\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("b2"), std::string::npos) << out;
  // With request_id off, the proxy has no id of its own: the headers pass as they came.
  out = forward(req, {.add_request_id = false});
  EXPECT_NE(out.find("X-Request-Id: a1\r\nX-Request-Id: b2\r\n"), std::string::npos) << out;
}

TEST(HttpHeaderRules, MaxForwardsIsOneLessForOptionsAndTrace) {
  RequestForwarding plain{.forwarded = false, .add_request_id = false};
  EXPECT_EQ(forward("OPTIONS * HTTP/1.1\r\nHost: h\r\nMax-Forwards: 10\r\nA: b\r\n\r\n", plain),
            "OPTIONS * HTTP/1.1\r\nHost: h\r\nMax-Forwards: 9\r\nA: b\r\n\r\n");
  EXPECT_EQ(forward("TRACE / HTTP/1.1\r\nHost: h\r\nmax-forwards: 01\r\n\r\n", plain),
            "TRACE / HTTP/1.1\r\nHost: h\r\nmax-forwards: 0\r\n\r\n");
  // Other methods: not the proxy's to count.
  EXPECT_EQ(forward("GET / HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n", plain),
            "GET / HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n");
}

TEST(HttpHeaderRules, FramingWrittenByProxy) {
  std::string out = forward(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
      {.forwarded = false, .add_request_id = false});
  EXPECT_EQ(out, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  out = forward("PUT / HTTP/1.1\r\nHost: h\r\ncontent-length:  0012\r\n\r\n",
                {.forwarded = false, .add_request_id = false});
  EXPECT_EQ(out, "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n");
}

TEST(HttpHeaderRules, Http10BecomesHttp11WithHost) {
  std::string out = forward("GET / HTTP/1.0\r\n\r\n",
                            {.forwarded = false, .add_request_id = false, .fallback_host = "b:1"});
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: b:1\r\n\r\n");
}

TEST(HttpHeaderRules, UpgradeKeepsUpgradeHeaders) {
  std::string out = forward(
      "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: k\r\n\r\n",
      {.forwarded = false, .add_request_id = false});
  EXPECT_EQ(out,
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n"
            "Connection: upgrade\r\n\r\n");
}

TEST(HttpHeaderRules, OnlyWebSocketIsAnUpgrade) {
  // h2c (the classic smuggling vector) and lists are not upgrades: Upgrade and the headers
  // Connection names are dropped and the request goes on as plain HTTP.
  for (const char* upgrade : {"h2c", "websocket, h2c", "WebSocket/13", "http/2.0"}) {
    std::string out = forward(std::string("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: ") + upgrade +
                                  "\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                                  "HTTP2-Settings: AAMA\r\n\r\n",
                              {.forwarded = false, .add_request_id = false});
    EXPECT_EQ(out, "GET /ws HTTP/1.1\r\nHost: h\r\n\r\n") << upgrade;
  }
  std::string out = forward(
      "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n"
      "Connection: Upgrade\r\n\r\n",
      {.forwarded = false, .add_request_id = false});
  EXPECT_EQ(out,
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\n\r\n");
}

TEST(HttpHeaderRules, RequestIdGeneratorIsHexAndUnique) {
  RequestIdGenerator gen(42);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    char id[RequestIdGenerator::kLength];
    gen.next(id);
    std::string s(id, sizeof(id));
    EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

ResponseHead response(std::vector<Header> headers, uint16_t status = 200) {
  ResponseHead h;
  h.status = status;
  h.reason = "OK";
  h.headers = std::move(headers);
  return h;
}

TEST(HttpHeaderRules, ResponseHeadRewritten) {
  std::string out;
  writeResponseHead(response({{"Connection", "X-Hop"},
                              {"X-Hop", "1"},
                              {"Keep-Alive", "t=5"},
                              {"Transfer-Encoding", "chunked"},
                              {"Server", "s"}}),
                    {.keep_alive = true,
                     .framing = BodyFraming::kChunked,
                     .request_id = "rid",
                     .set_cookie = "S=abc; Path=/; HttpOnly"},
                    out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nServer: s\r\nX-Request-Id: rid\r\n"
            "Set-Cookie: S=abc; Path=/; HttpOnly\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(HttpHeaderRules, ResponseCarriesTheRequestsIdNotTheBackends) {
  std::string out;
  writeResponseHead(response({{"x-request-id", "backend-own"}, {"Server", "s"}}),
                    {.keep_alive = true, .request_id = "rid"}, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nServer: s\r\nX-Request-Id: rid\r\n\r\n");
  out.clear();  // request ids off (no id given): the backend's goes through
  writeResponseHead(response({{"X-Request-Id", "backend-own"}}), {.keep_alive = true}, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nX-Request-Id: backend-own\r\n\r\n");
}

TEST(HttpHeaderRules, DateAddedWhenTheResponseHasNone) {
  const char* date = "Sun, 06 Nov 1994 08:49:37 GMT";
  std::string out;
  writeResponseHead(response({{"Server", "s"}}), {.date = date}, out);
  EXPECT_NE(out.find("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), std::string::npos) << out;
  out.clear();
  writeResponseHead(response({{"date", "Mon, 07 Nov 1994 00:00:00 GMT"}}), {.date = date}, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\ndate: Mon, 07 Nov 1994 00:00:00 GMT\r\n\r\n");  // theirs
  out.clear();
  writeResponseHead(response({}, 103), {.date = date}, out);  // interim: none added
  EXPECT_EQ(out.find("Date"), std::string::npos) << out;
}

TEST(HttpHeaderRules, HttpDateIsImfFixdate) {
  char buf[kHttpDateLength];
  formatHttpDate(784111777, buf);  // RFC 9110 5.6.7's example
  EXPECT_EQ(std::string_view(buf, kHttpDateLength), "Sun, 06 Nov 1994 08:49:37 GMT");
  formatHttpDate(951782400, buf);  // a leap day
  EXPECT_EQ(std::string_view(buf, kHttpDateLength), "Tue, 29 Feb 2000 00:00:00 GMT");
  formatHttpDate(0, buf);
  EXPECT_EQ(std::string_view(buf, kHttpDateLength), "Thu, 01 Jan 1970 00:00:00 GMT");
  // "Now" is formatted again once its second has passed, also when the loop time it is asked
  // with is earlier than the one it was formatted at (another loop's clock on this thread: the
  // admin server's, in other tests). The cached text is from more than a second ago here, so
  // only a fresh one shows a second between the two clock readings around the call.
  auto text = [](std::time_t t) {
    char buf[kHttpDateLength];
    formatHttpDate(t, buf);
    return std::string(buf, kHttpDateLength);
  };
  // The same clock as httpDateNow's: std::time() reads a coarse one that can lag it by a tick,
  // and then both readings fall in the second before the one formatted.
  auto realtime = [] {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
  };
  httpDateNow(uint64_t{1} << 50);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::time_t t0 = realtime();
  std::string now(httpDateNow(1));
  std::time_t t1 = realtime();
  EXPECT_TRUE(now == text(t0) || now == text(t1)) << now;
  EXPECT_EQ(httpDateNow(1), now);  // reused within the same second of loop time
}

TEST(HttpHeaderRules, ResponseConnectionHandling) {
  std::string out;
  writeResponseHead(
      response({{"Content-Length", "3"}}),
      {.keep_alive = false, .framing = BodyFraming::kContentLength, .content_length = 3}, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
  out.clear();
  writeResponseHead(response({}),
                    {.keep_alive = true,
                     .client_minor = 0,
                     .framing = BodyFraming::kContentLength,
                     .content_length = 0},
                    out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
  out.clear();
  // HEAD: the Content-Length is the GET's, passed on; no body follows.
  writeResponseHead(response({{"Content-Length", "99"}}),
                    {.head_request = true, .framing = BodyFraming::kNone}, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
  // A chunked coding in a HEAD answer: as the GET would go out, chunked to an HTTP/1.1
  // client, nothing to an HTTP/1.0 one (which would read the GET's body until close).
  out.clear();
  writeResponseHead(response({{"Transfer-Encoding", "chunked"}}),
                    {.head_request = true, .framing = BodyFraming::kNone}, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  out.clear();
  writeResponseHead(response({{"Transfer-Encoding", "chunked"}}),
                    {.client_minor = 0, .head_request = true, .framing = BodyFraming::kNone}, out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n");
}

TEST(HttpHeaderRules, SwitchingProtocolsKeepsUpgrade) {
  std::string out;
  ResponseHead h = response(
      {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", "x"}}, 101);
  h.reason = "Switching Protocols";
  writeResponseHead(h, {}, out);
  EXPECT_EQ(out,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n"
            "Connection: upgrade\r\n\r\n");
}

TEST(HttpHeaderRules, UpgradeRequiredKeepsItsUpgradeOffer) {
  // RFC 9110 15.5.22: a 426 names the protocols to upgrade to; other answers drop Upgrade.
  std::string out;
  ResponseHead h = response({{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}, 426);
  h.reason = "Upgrade Required";
  writeResponseHead(h, {.keep_alive = true, .framing = BodyFraming::kNone}, out);
  EXPECT_EQ(out,
            "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  out.clear();
  writeResponseHead(h, {.keep_alive = false, .framing = BodyFraming::kNone}, out);
  EXPECT_EQ(out,
            "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n"
            "Connection: upgrade, close\r\n\r\n");
  out.clear();
  h.status = 400;
  writeResponseHead(h, {.keep_alive = true, .framing = BodyFraming::kNone}, out);
  EXPECT_EQ(out, "HTTP/1.1 400 Upgrade Required\r\n\r\n");
}

TEST(HttpHeaderRules, ClientIpFormatting) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_addr.s_addr = htonl(0x7f000001);
  EXPECT_EQ(formatClientIp(reinterpret_cast<sockaddr*>(&v4)), "127.0.0.1");
  // The hand-written IPv4 formatter agrees with inet_ntop.
  for (uint32_t ip : {0u, 0xffffffffu, 0x0a00ff09u, 0xc0a80064u, 0x01020304u, 0x64000a01u}) {
    v4.sin_addr.s_addr = htonl(ip);
    char want[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &v4.sin_addr, want, sizeof want);
    EXPECT_EQ(formatClientIp(reinterpret_cast<sockaddr*>(&v4)), want);
  }
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_addr.s6_addr[15] = 1;
  EXPECT_EQ(formatClientIp(reinterpret_cast<sockaddr*>(&v6)), "::1");
}

}  // namespace
}  // namespace fulcrum::http
