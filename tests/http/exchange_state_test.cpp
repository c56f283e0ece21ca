#include "fulcrum/http/exchange_state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parse_helpers.h"

namespace fulcrum::http {
namespace {

using testing::parseOne;

// An idle keep-alive connection gives its request state back; the next request of any
// connection takes the same one, which must parse as a new one would: nothing of the previous
// request (its framing, its body counters, its limits, its exchange record) may carry over.
TEST(ExchangeState, AStateGivenBackBetweenRequestsIsReusedClean) {
  ExchangeState* first = ExchangeState::take({});
  testing::ParsedRequest post =
      parseOne(first->request,
               "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n0\r\n\r\n");
  ASSERT_TRUE(post.complete);
  EXPECT_EQ(post.body, "5\r\nhello\r\n0\r\n\r\n");
  first->response.expect(/*head_request=*/false, /*upgrade_requested=*/false);
  first->request.nextMessage();  // as a keep-alive connection does before going idle
  first->exchange.close_after = true;
  first->exchange.head_sent = true;
  first->exchange.status = 503;
  first->set_cookie = "srv=b1; Path=/; HttpOnly";
  const size_t spares = ExchangeState::sparesForTest();
  ExchangeState::give(first);
  EXPECT_EQ(ExchangeState::sparesForTest(), spares + 1);

  ExchangeState* again = ExchangeState::take({.max_header_bytes = 64});
  EXPECT_EQ(again, first) << "the state just given back is taken first (still in cache)";
  // Nothing of the previous user's exchange: a new connection's first request starts here.
  EXPECT_FALSE(again->exchange.close_after);
  EXPECT_FALSE(again->exchange.head_sent);
  EXPECT_EQ(again->exchange.status, 0);
  EXPECT_TRUE(again->set_cookie.empty());
  EXPECT_EQ(ExchangeState::sparesForTest(), spares);
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
  ExchangeState::give(again);
}

// A connection that closed after its last request (HTTP/1.0, Connection: close: llhttp then
// refuses any further byte on it), mid-request (inside its body) or after a refusal leaves its
// parsers in a state no new request may start from: they are made new before anyone takes
// them again, and then parse a request as a new connection's would.
TEST(ExchangeState, AStateGivenBackAfterALastRequestOrMidRequestIsMadeNew) {
  const std::string inputs[] = {
      "GET /last HTTP/1.0\r\nHost: a\r\n\r\n",
      "GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      "GET / HTTP/1.1\r\nHost:",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
      "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
  };
  for (const std::string& input : inputs) {
    ExchangeState* used = ExchangeState::take({});
    parseOne(used->request, input);
    used->request.nextMessage();  // what a keep-alive connection would try
    const size_t spares = ExchangeState::sparesForTest();
    ExchangeState::give(used);
    EXPECT_EQ(ExchangeState::sparesForTest(), spares + 1) << input;
    ExchangeState* next = ExchangeState::take({});
    ASSERT_EQ(next, used);
    testing::ParsedRequest r =
        parseOne(next->request, "POST /new HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nabc");
    EXPECT_TRUE(r.complete) << input << " left: " << r.error.status << " " << r.error.reason;
    EXPECT_EQ(r.target, "/new") << input;
    EXPECT_EQ(r.body, "abc") << input;
    next->request.nextMessage();
    ExchangeState::give(next);
  }
}

// A spike of concurrent requests leaves at most kMaxSpares states behind.
TEST(ExchangeState, SparesAreBounded) {
  std::vector<ExchangeState*> taken;
  for (size_t i = 0; i < ExchangeState::kMaxSpares + 10; ++i)
    taken.push_back(ExchangeState::take({}));
  for (ExchangeState* p : taken) ExchangeState::give(p);
  EXPECT_EQ(ExchangeState::sparesForTest(), ExchangeState::kMaxSpares);
}

}  // namespace
}  // namespace fulcrum::http
