#include "fulcrum/http/router.h"

#include <gtest/gtest.h>

#include "fulcrum/http/error_response.h"
#include "fulcrum/http/request_keys.h"
#include "fulcrum/http/request_parser.h"
#include "parse_helpers.h"

namespace fulcrum::http {
namespace {

TEST(HttpRouter, HostWithoutPort) {
  EXPECT_EQ(hostWithoutPort("a.com:80"), "a.com");
  EXPECT_EQ(hostWithoutPort("a.com"), "a.com");
  EXPECT_EQ(hostWithoutPort("[::1]:8080"), "[::1]");
  EXPECT_EQ(hostWithoutPort("[::1]"), "[::1]");
  EXPECT_EQ(routeHost("a.com.:80"), "a.com");
  EXPECT_EQ(routeHost("a.com."), "a.com");
  EXPECT_EQ(routeHost("a.com.."), "a.com.");  // one dot only: "a.com." is not a valid name
  EXPECT_EQ(routeHost("."), ".");
  EXPECT_EQ(routeHost("[::1]:80"), "[::1]");
}

TEST(HttpRouter, FirstMatchElseListenerPool) {
  auto route = [](std::string host, std::string prefix) {
    config::Route r;
    r.match.host = std::move(host);
    r.match.path_prefix = std::move(prefix);
    return r;
  };
  config::Route api = route("api.example.com", "/v1/");
  config::Route any_host_static = route("", "/static");
  config::Route host_only = route("www.example.com", "");
  core::ListenerRuntime listener;
  auto add = [&](const config::Route* r, uint32_t pool) {
    core::RouteRuntime rt;
    rt.route = r;
    rt.pool = pool;
    listener.routes.push_back(rt);
  };
  add(&api, 1);
  add(&any_host_static, 2);
  add(&host_only, 3);
  listener.default_route.pool = 0;

  EXPECT_EQ(selectRoute(listener, "API.Example.com:8443", "/v1/users?x").pool, 1u);
  EXPECT_EQ(selectRoute(listener, "api.example.com", "/v2/users").pool, 0u);
  EXPECT_EQ(selectRoute(listener, "api.example.com", "/static/a.css").pool, 2u);
  EXPECT_EQ(selectRoute(listener, "www.example.com", "/static/a.css").pool, 2u);  // first wins
  EXPECT_EQ(selectRoute(listener, "www.example.com", "/").pool, 3u);
  EXPECT_EQ(selectRoute(listener, "other", "/").pool, 0u);
  EXPECT_EQ(selectRoute(listener, "api.example.com.evil", "/v1/").pool, 0u);
  // The fully qualified spelling names the same host.
  EXPECT_EQ(selectRoute(listener, "api.example.com.", "/v1/").pool, 1u);
  EXPECT_EQ(selectRoute(listener, "WWW.example.com.:80", "/").pool, 3u);
  // The prefix applies to the path, not the query.
  EXPECT_EQ(selectRoute(listener, "x", "/?/static").pool, 0u);
}

// Several cookies of one name (a stale one of a longer Path comes first): the first that the
// caller accepts, else the first.
TEST(HttpRequestKeys, CookieOfSeveralOfOneNameIsTheFirstAccepted) {
  RequestParser parser({});
  testing::parseOne(parser,
                    "GET / HTTP/1.1\r\nHost: h\r\nCookie: S=stale; x=1; S=good\r\n"
                    "Cookie: S=later\r\n\r\n");
  const RequestHead& head = parser.head();
  auto good = [](std::string_view v) { return v == "good" || v == "later"; };
  EXPECT_EQ(findCookie(head, "S", good).value(), "good");
  EXPECT_EQ(findCookie(head, "S", [](std::string_view) { return false; }).value(), "stale");
  EXPECT_EQ(findCookie(head, "S").value(), "stale");
}

TEST(HttpRequestKeys, CookieQueryPathHeader) {
  RequestParser parser({});
  testing::parseOne(parser,
                    "GET /p/q?a=1&user=bob&z HTTP/1.1\r\nHost: h\r\nCookie: x=1; S=\"abc\"\r\n"
                    "Cookie: T=2\r\nX-User: carol\r\n\r\n");
  const RequestHead& head = parser.head();
  EXPECT_EQ(findCookie(head, "S").value(), "abc");
  EXPECT_EQ(findCookie(head, "T").value(), "2");
  EXPECT_FALSE(findCookie(head, "s").has_value());
  EXPECT_EQ(findQueryParam(head.target, "user").value(), "bob");
  EXPECT_EQ(findQueryParam(head.target, "z").value(), "");
  EXPECT_FALSE(findQueryParam(head.target, "b").has_value());
  EXPECT_EQ(hashKeyValue({config::HashKeyKind::kPath, ""}, head).value(), "/p/q");
  EXPECT_EQ(hashKeyValue({config::HashKeyKind::kHeader, "x-user"}, head).value(), "carol");
  EXPECT_FALSE(hashKeyValue({config::HashKeyKind::kHeader, "x-none"}, head).has_value());
  EXPECT_FALSE(requestHash({config::HashKeyKind::kNone, ""}, head, nullptr).has_value());
  EXPECT_TRUE(requestHash({config::HashKeyKind::kCookie, "T"}, head, nullptr).has_value());
  EXPECT_EQ(requestHash({config::HashKeyKind::kQuery, "a"}, head, nullptr),
            requestHash({config::HashKeyKind::kCookie, "x"}, head, nullptr));  // both "1"
}

// An empty header or cookie is no key (HAProxy's `balance hdr` agrees): hashed, every client
// sending it empty would land on one backend. An empty query parameter is a value.
TEST(HttpRequestKeys, EmptyHeaderOrCookieIsNoHashKey) {
  RequestParser parser({});
  testing::parseOne(parser, "GET /p?u= HTTP/1.1\r\nHost: h\r\nX-User:\r\nCookie: c=; d=1\r\n\r\n");
  const RequestHead& head = parser.head();
  EXPECT_FALSE(hashKeyValue({config::HashKeyKind::kHeader, "x-user"}, head).has_value());
  EXPECT_FALSE(hashKeyValue({config::HashKeyKind::kCookie, "c"}, head).has_value());
  EXPECT_EQ(hashKeyValue({config::HashKeyKind::kCookie, "d"}, head).value(), "1");
  EXPECT_EQ(hashKeyValue({config::HashKeyKind::kQuery, "u"}, head).value(), "");
}

TEST(HttpErrorResponse, ShortAndComplete) {
  std::string out;
  writeErrorResponse(502, {.close = false, .request_id = "r"}, out);
  EXPECT_EQ(out,
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
            "X-Request-Id: r\r\n\r\n502 Bad Gateway\n");
  out.clear();
  writeErrorResponse(431, {}, out);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  size_t body = out.find("\r\n\r\n") + 4;
  EXPECT_EQ(out.substr(body), "431 Request Header Fields Too Large\n");
  EXPECT_NE(out.find("Content-Length: " + std::to_string(out.size() - body)), std::string::npos);
  out.clear();
  writeErrorResponse(400, {.date = "Sun, 06 Nov 1994 08:49:37 GMT"}, out);
  EXPECT_NE(out.find("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"), std::string::npos);
  out.clear();
  writeErrorResponse(504, {.head_request = true}, out);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
  out.clear();
  // An HTTP/1.0 client whose connection stays must be told so.
  writeErrorResponse(502, {.close = false, .keep_alive = true}, out);
  EXPECT_NE(out.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(out.find("close"), std::string::npos);
  out.clear();
  writeErrorResponse(405, {.allow = kAllowButTrace}, out);
  EXPECT_NE(out.find("\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n"),
            std::string::npos);
  out.clear();
  writeErrorResponse(400, {}, out);
  EXPECT_EQ(out.find("Allow"), std::string::npos);
  for (uint16_t s : {200, 400, 405, 408, 413, 414, 417, 501, 503, 505})
    EXPECT_NE(reasonPhrase(s), "Unknown");
}

}  // namespace
}  // namespace fulcrum::http
