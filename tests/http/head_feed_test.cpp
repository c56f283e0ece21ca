// head_feed: llhttp given the first line and only the header lines it acts on reaches the
// same verdict (method or status, version, flags, Content-Length, upgrade, or a refusal) as
// llhttp given the whole head. Debug and sanitizer builds also check this on every head the
// parsers see (crossCheckHead); these cases run in every build.
#include "fulcrum/http/head_feed.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "fulcrum/http/head_scanner.h"

namespace fulcrum::http {
namespace {

// The head as the parsers give it to llhttp: the scanner checks it and records its header
// lines, llhttp gets the first line, then executeHeaderLines.
LlhttpHeadVerdict reducedVerdict(llhttp_type_t type, std::string_view head, HeadBuffer& buf) {
  HeadScanner scanner(type == HTTP_REQUEST ? HeadScanner::Kind::kRequest
                                           : HeadScanner::Kind::kResponse);
  buf.reset();
  scanner.recordInto(&buf);
  size_t used = 0;
  EXPECT_EQ(scanner.scan(head.data(), head.size(), &used), HeadScanner::Result::kComplete) << head;
  EXPECT_EQ(used, head.size()) << head;
  buf.addRaw(head.data(), used);

  struct {
    LlhttpHeadVerdict verdict;  // what this test compares
    HeadVerdictSlot slot;       // what the parsers keep (the cross-check's, where built)
  } seen;
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_headers_complete = [](llhttp_t* p) {
    auto* s = static_cast<decltype(seen)*>(p->data);
    s->verdict = LlhttpHeadVerdict::of(*p);
    recordHeadVerdict(&s->slot, *p);
    return static_cast<int>(HPE_PAUSED);
  };
  llhttp_t parser;
  llhttp_init(&parser, type, &settings);
  parser.data = &seen;
  if (llhttp_execute(&parser, head.data(), scanner.firstLinePart(used)) != HPE_OK)
    return seen.verdict;
  const char* end = nullptr;
  llhttp_errno_t err = executeHeaderLines(&parser, buf, head.size(), &seen.slot, &end);
  if (seen.verdict.reached) {
    EXPECT_EQ(err, HPE_PAUSED) << head;
    EXPECT_EQ(llhttp_get_error_pos(&parser), end) << head;  // stopped at the head's end
  }
  return seen.verdict;
}

void expectSameVerdict(llhttp_type_t type, std::string_view head, bool accepted) {
  HeadBuffer buf;
  LlhttpHeadVerdict reduced = reducedVerdict(type, head, buf);
  LlhttpHeadVerdict whole = parseWholeHead(type, buf, head.size(), true);
  EXPECT_EQ(whole.reached, accepted) << head;
  EXPECT_TRUE(reduced == whole) << head << "reduced: reached " << reduced.reached << " flags "
                                << reduced.flags << " content-length " << reduced.content_length
                                << "; whole: reached " << whole.reached << " flags " << whole.flags
                                << " content-length " << whole.content_length;
}

TEST(HttpHeadFeed, ActsOnExactlyFiveNamesInAnyCase) {
  for (std::string_view name :
       {"Connection", "content-length", "PROXY-CONNECTION", "Transfer-Encoding", "uPgRaDe"}) {
    EXPECT_TRUE(llhttpActsOn(classifyHeader(name))) << name;
  }
  for (std::string_view name :
       {"Content-Type", "Content-Lengths", "Connectio", "X-Connection", "Upgrade-Insecure-Requests",
        "Keep-Alive", "TE", "Trailer", "Host", "Transfer-Encodin", "Proxy-Connections", ""}) {
    EXPECT_FALSE(llhttpActsOn(classifyHeader(name))) << name;
  }
}

TEST(HttpHeadFeed, RequestVerdictsMatchTheWholeHead) {
  const std::string_view accepted[] = {
      "GET / HTTP/1.1\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n",
      "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  // a leading empty line
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nX-Content-Length: 99\r\n\r\n",
      "POST / HTTP/1.1\r\ncontent-length:7\r\nhost: a\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nTRANSFER-ENCODING: gzip, chunked\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n",
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nX: y\r\nUpgrade: websocket\r\n\r\n",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, upgrade\r\n\r\n",
      "GET / HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\nUpgrade: h2c\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nKeep-Alive: 5\r\n\r\n",
  };
  for (std::string_view head : accepted) expectSameVerdict(HTTP_REQUEST, head, true);
  const std::string_view refused[] = {
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX: 1\r\nContent-Length: 5\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",  // even equal
      "POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
  };
  for (std::string_view head : refused) expectSameVerdict(HTTP_REQUEST, head, false);
}

TEST(HttpHeadFeed, ResponseVerdictsMatchTheWholeHead) {
  const std::string_view accepted[] = {
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 20:20:36 GMT\r\n"
      "Content-Type: text/plain\r\nContent-Length: 13\r\nLast-Modified: Sun, 06 Dec 2026 "
      "17:55:53 GMT\r\nConnection: keep-alive\r\nETag: \"6b15a1a9-d\"\r\n"
      "Accept-Ranges: bytes\r\n\r\n",
      "HTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
      "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n",
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: x\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"a\"\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
  };
  for (std::string_view head : accepted) expectSameVerdict(HTTP_RESPONSE, head, true);
  const std::string_view refused[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
  };
  for (std::string_view head : refused) expectSameVerdict(HTTP_RESPONSE, head, false);
}

}  // namespace
}  // namespace fulcrum::http
