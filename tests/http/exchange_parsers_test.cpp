#include "fulcrum/http/exchange_parsers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parse_helpers.h"

namespace fulcrum::http {
namespace {

using testing::parseOne;

// An idle keep-alive connection gives its parsers back; the next request of any connection
// takes the same pair, which must parse as a new one would: nothing of the previous request
// (its framing, its body counters, its limits) may carry over.
TEST(ExchangeParsers, APairGivenBackBetweenRequestsIsReusedClean) {
  ExchangeParsers* first = ExchangeParsers::take({});
  testing::ParsedRequest post =
      parseOne(first->request,
               "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n0\r\n\r\n");
  ASSERT_TRUE(post.complete);
  EXPECT_EQ(post.body, "5\r\nhello\r\n0\r\n\r\n");
  first->response.expect(/*head_request=*/false, /*upgrade_requested=*/false);
  first->request.nextMessage();  // as a keep-alive connection does before going idle
  const size_t spares = ExchangeParsers::sparesForTest();
  ExchangeParsers::give(first);
  EXPECT_EQ(ExchangeParsers::sparesForTest(), spares + 1);

  ExchangeParsers* again = ExchangeParsers::take({.max_header_bytes = 64});
  EXPECT_EQ(again, first) << "the pair just given back is taken first (still in cache)";
  EXPECT_EQ(ExchangeParsers::sparesForTest(), spares);
  testing::ParsedRequest get = parseOne(again->request, "GET /next HTTP/1.1\r\nHost: b\r\n\r\n");
  ASSERT_TRUE(get.complete) << get.error.reason;
  EXPECT_EQ(get.method, "GET");
  EXPECT_EQ(get.target, "/next");
  EXPECT_EQ(get.host, "b");
  EXPECT_EQ(get.framing, BodyFraming::kNone);
  EXPECT_TRUE(get.body.empty());
  // The limits it was taken with apply, not those of its previous user.
  again->request.nextMessage();
  testing::ParsedRequest big = parseOne(
      again->request, "GET / HTTP/1.1\r\nHost: b\r\nX-Long: " + std::string(80, 'a') + "\r\n\r\n");
  EXPECT_EQ(big.error.status, 431);
  ExchangeParsers::give(again);
}

// A connection that closed after its last request (HTTP/1.0, Connection: close: llhttp then
// refuses any further byte on it), mid-request (inside its body) or after a refusal leaves its
// parsers in a state no new request may start from: they are made new before anyone takes
// them again, and then parse a request as a new connection's would.
TEST(ExchangeParsers, APairGivenBackAfterALastRequestOrMidRequestIsMadeNew) {
  const std::string inputs[] = {
      "GET /last HTTP/1.0\r\nHost: a\r\n\r\n",
      "GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost:",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
      "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
  };
  for (const std::string& input : inputs) {
    ExchangeParsers* used = ExchangeParsers::take({});
    parseOne(used->request, input);
    used->request.nextMessage();  // what a keep-alive connection would try
    const size_t spares = ExchangeParsers::sparesForTest();
    ExchangeParsers::give(used);
    EXPECT_EQ(ExchangeParsers::sparesForTest(), spares + 1) << input;
    ExchangeParsers* next = ExchangeParsers::take({});
    ASSERT_EQ(next, used);
    testing::ParsedRequest r =
        parseOne(next->request, "POST /new HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nabc");
    EXPECT_TRUE(r.complete) << input << " left: " << r.error.status << " " << r.error.reason;
    EXPECT_EQ(r.target, "/new") << input;
    EXPECT_EQ(r.body, "abc") << input;
    next->request.nextMessage();
    ExchangeParsers::give(next);
  }
}

// A spike of concurrent requests leaves at most kMaxSpares pairs behind.
TEST(ExchangeParsers, SparesAreBounded) {
  std::vector<ExchangeParsers*> taken;
  for (size_t i = 0; i < ExchangeParsers::kMaxSpares + 10; ++i)
    taken.push_back(ExchangeParsers::take({}));
  for (ExchangeParsers* p : taken) ExchangeParsers::give(p);
  EXPECT_EQ(ExchangeParsers::sparesForTest(), ExchangeParsers::kMaxSpares);
}

}  // namespace
}  // namespace fulcrum::http
