// HeadScanner against the byte-at-a-time reference it replaced (the first strict scanner,
// kept here verbatim apart from its name): the same result, bytes used, error and first-line
// state for random heads, valid and mutated, fed in random pieces.
#include "fulcrum/http/head_scanner.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "fulcrum/http/message.h"

namespace fulcrum::http {
namespace {

using RefKind = HeadScanner::Kind;
using Result = HeadScanner::Result;

class ReferenceScanner {
 public:
  explicit ReferenceScanner(RefKind kind) : kind_(kind) {}
  void reset();
  Result scan(const char* data, size_t length, size_t* used);
  bool firstLineDone() const { return first_line_done_; }
  size_t firstLineBytes() const { return first_line_bytes_; }
  const char* error() const { return error_; }

 private:
  enum class State : uint8_t {
    kLeading,
    kLeadingCr,
    kFirstLine,
    kFirstLineCr,
    kLineStart,
    kName,
    kValue,
    kValueCr,
    kFinalCr,
    kDone,
  };
  Result fail(const char* why);

  RefKind kind_;
  State state_ = State::kLeading;
  size_t first_line_bytes_ = 0;
  bool first_line_done_ = false;  // the first line's CRLF was scanned
  uint32_t spaces_ = 0;
  bool prev_space_ = false;
  const char* error_ = "";
};

// Request line: visible ASCII and SP only (method, target and version are all tokens or
// URI characters). Status line: the reason phrase may also hold HTAB and obs-text.
bool firstLineByteOk(unsigned char c, RefKind kind) {
  if (c >= 0x21 && c <= 0x7e) return true;
  if (c == ' ') return true;
  if (kind == RefKind::kResponse) return c == '\t' || c >= 0x80;
  return false;
}

// field-value: VCHAR, SP, HTAB, obs-text. Everything else (NUL, CR, LF, other controls,
// DEL) is refused.
bool valueByteOk(unsigned char c) { return c >= 0x20 ? c != 0x7f : c == '\t'; }

void ReferenceScanner::reset() {
  state_ = State::kLeading;
  first_line_done_ = false;
  first_line_bytes_ = 0;
  spaces_ = 0;
  prev_space_ = false;
  error_ = "";
}

Result ReferenceScanner::fail(const char* why) {
  error_ = why;
  state_ = State::kDone;
  return Result::kError;
}

Result ReferenceScanner::scan(const char* data, size_t length, size_t* used) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  size_t i = 0;
  auto stop = [&](Result r) {
    *used = i;
    return r;
  };
  if (state_ == State::kDone) return stop(fail("scan after end of head"));
  for (; i < length; ++i) {
    unsigned char c = p[i];
    switch (state_) {
      case State::kLeading:
        if (c == '\r' && kind_ == RefKind::kRequest) {
          state_ = State::kLeadingCr;
          break;
        }
        state_ = State::kFirstLine;
        [[fallthrough]];
      case State::kFirstLine:
        if (c == '\r') {
          // method SP request-target SP HTTP-version: exactly two single spaces.
          if (kind_ == RefKind::kRequest && (spaces_ != 2 || prev_space_))
            return stop(fail("malformed request line"));
          state_ = State::kFirstLineCr;
        } else if (c == ' ' && kind_ == RefKind::kRequest) {
          if (prev_space_ || first_line_bytes_ == 0) return stop(fail("malformed request line"));
          prev_space_ = true;
          ++spaces_;
          ++first_line_bytes_;
        } else if (c == '\n') {
          return stop(fail("bare LF in the first line"));
        } else if (!firstLineByteOk(c, kind_)) {
          return stop(fail("invalid byte in the first line"));
        } else {
          prev_space_ = false;
          ++first_line_bytes_;
        }
        break;
      case State::kLeadingCr:
        if (c != '\n') return stop(fail("bare CR before the request line"));
        state_ = State::kLeading;
        break;
      case State::kFirstLineCr:
        if (c != '\n') return stop(fail("bare CR in the first line"));
        if (first_line_bytes_ == 0) return stop(fail("empty first line"));
        first_line_done_ = true;
        state_ = State::kLineStart;
        break;
      case State::kLineStart:
        if (c == '\r') {
          state_ = State::kFinalCr;
        } else if (c == ' ' || c == '\t') {
          return stop(fail("obs-fold or whitespace before a header name"));
        } else if (c == ':') {
          return stop(fail("empty header name"));
        } else if (isTokenChar(c)) {
          state_ = State::kName;
        } else {
          return stop(fail(c == '\n' ? "bare LF in the head" : "invalid header name"));
        }
        break;
      case State::kName:
        if (c == ':') {
          state_ = State::kValue;
        } else if (!isTokenChar(c)) {
          return stop(fail("invalid header name"));
        }
        break;
      case State::kValue:
        // Hot loop: most bytes of a head are header values.
        while (valueByteOk(c)) {
          if (++i == length) return stop(Result::kNeedMore);
          c = p[i];
        }
        if (c == '\r') {
          state_ = State::kValueCr;
        } else if (c == '\n') {
          return stop(fail("bare LF in a header value"));
        } else {
          return stop(fail(c == 0 ? "NUL in a header value" : "control byte in a header value"));
        }
        break;
      case State::kValueCr:
        if (c != '\n') return stop(fail("bare CR in a header value"));
        state_ = State::kLineStart;
        break;
      case State::kFinalCr:
        if (c != '\n') return stop(fail("bare CR at the end of the head"));
        state_ = State::kDone;
        ++i;
        return stop(Result::kComplete);
      case State::kDone:
        return stop(fail("scan after end of head"));
    }
  }
  return stop(Result::kNeedMore);
}

std::string randomHead(std::mt19937& rng, bool request) {
  static const char* kPieces[] = {
      "GET",
      " ",
      "/index.html",
      " ",
      "HTTP/1.1",
      "\r\n",
      "Host",
      ":",
      " a.b",
      "\r\n",
      "X-Y",
      ": ",
      "v\tw",
      "\r\n",
      "\r\n",
      "\n",
      "\r",
      "\t",
      " ",
      ":",
      "\x00",
      "\x7f",
      "\x80\xff",
      "(",
      "@",
      "a",
      "Content-Length",
      "0",
      "HTTP/1.1 200 OK",
      "\x01",
      "obs",
  };
  std::string s;
  if (std::uniform_int_distribution<int>(0, 3)(rng) != 0) {
    // Mostly well formed, then mutated.
    if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) s += "\r\n";
    // Runs longer than 16 bytes too (the scanner checks whole blocks at once).
    s += request ? "GET /a?b=c&long=0123456789abcdefghijklmnopqrstuvwxyz HTTP/1.1\r\n"
                 : "HTTP/1.1 200 OK \xe9\t and a long reason phrase\r\n";
    s += "Long-Value: 0123456789 abcdefghij\tklmnopqrstuvwxyz \x80\xff 0123456789\r\n";
    int headers = std::uniform_int_distribution<int>(0, 6)(rng);
    for (int h = 0; h < headers; ++h) s += "Name-" + std::to_string(h) + ":  val ue\t\x80 \r\n";
    s += "\r\nbody";
    int mutations = std::uniform_int_distribution<int>(0, 3)(rng);
    for (int m = 0; m < mutations && !s.empty(); ++m) {
      size_t at = std::uniform_int_distribution<size_t>(0, s.size() - 1)(rng);
      s[at] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    }
    return s;
  }
  int n = std::uniform_int_distribution<int>(1, 40)(rng);
  for (int k = 0; k < n; ++k) {
    const char* piece =
        kPieces[std::uniform_int_distribution<size_t>(0, std::size(kPieces) - 1)(rng)];
    s.append(piece, piece[0] == 0 ? 1 : std::char_traits<char>::length(piece));
  }
  return s;
}

TEST(HttpHeadScanner, MatchesReferenceOnRandomHeads) {
  std::mt19937 rng(1234);
  int completes = 0, errors = 0;
  // Reused across heads: reset() must start each one afresh.
  HeadScanner scanners[] = {HeadScanner(RefKind::kRequest), HeadScanner(RefKind::kResponse)};
  ReferenceScanner refs[] = {ReferenceScanner(RefKind::kRequest),
                             ReferenceScanner(RefKind::kResponse)};
  for (int iter = 0; iter < 20000; ++iter) {
    bool request = iter % 2 == 0;
    std::string head = randomHead(rng, request);
    HeadScanner& scanner = scanners[request ? 0 : 1];
    ReferenceScanner& ref = refs[request ? 0 : 1];
    scanner.reset();
    ref.reset();
    size_t pos = 0;
    while (pos < head.size()) {
      size_t piece = std::uniform_int_distribution<size_t>(1, 8)(rng) == 1
                         ? head.size() - pos
                         : std::uniform_int_distribution<size_t>(1, head.size() - pos)(rng);
      size_t used = 0, ref_used = 0;
      Result r = scanner.scan(head.data() + pos, piece, &used);
      Result want = ref.scan(head.data() + pos, piece, &ref_used);
      ASSERT_EQ(r, want) << testing::PrintToString(head);
      ASSERT_EQ(used, ref_used) << testing::PrintToString(head);
      ASSERT_STREQ(scanner.error(), ref.error()) << testing::PrintToString(head);
      ASSERT_EQ(scanner.firstLineDone(), ref.firstLineDone()) << testing::PrintToString(head);
      ASSERT_EQ(scanner.firstLineBytes(), ref.firstLineBytes()) << testing::PrintToString(head);
      pos += used;
      if (r != Result::kNeedMore) {
        completes += r == Result::kComplete;
        errors += r == Result::kError;
        break;
      }
    }
  }
  // Both outcomes are well covered.
  EXPECT_GT(completes, 2000);
  EXPECT_GT(errors, 2000);
}

TEST(HttpHeadScanner, ResetStartsOver) {
  HeadScanner s(HeadScanner::Kind::kRequest);
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  size_t used = 0;
  ASSERT_EQ(s.scan(head.data(), head.size(), &used), Result::kComplete);
  EXPECT_EQ(used, head.size());
  s.reset();
  ASSERT_EQ(s.scan(head.data(), head.size(), &used), Result::kComplete);
  EXPECT_EQ(s.firstLineBytes(), 14u);
}

TEST(HttpHeadScanner, FirstLinePartOfEachScan) {
  // What of each scan() goes to llhttp before the head is complete: the first line's bytes,
  // leading empty lines and CRLF included, however the reads split them.
  HeadScanner s(HeadScanner::Kind::kRequest);
  size_t used = 0;
  std::string a = "\r\nGET /x", b = " HTTP/1.1\r", c = "\nHost: a\r\n", d = "\r\n";
  ASSERT_EQ(s.scan(a.data(), a.size(), &used), Result::kNeedMore);
  EXPECT_EQ(s.firstLinePart(used), a.size());
  ASSERT_EQ(s.scan(b.data(), b.size(), &used), Result::kNeedMore);
  EXPECT_EQ(s.firstLinePart(used), b.size());
  ASSERT_EQ(s.scan(c.data(), c.size(), &used), Result::kNeedMore);
  EXPECT_EQ(s.firstLinePart(used), 1u);  // the LF
  ASSERT_EQ(s.scan(d.data(), d.size(), &used), Result::kComplete);
  EXPECT_EQ(s.firstLinePart(used), 0u);
  // An error in the first line: the bytes before the bad one.
  s.reset();
  std::string bad = "GET\t/ HTTP/1.1\r\n\r\n";
  ASSERT_EQ(s.scan(bad.data(), bad.size(), &used), Result::kError);
  EXPECT_EQ(s.firstLinePart(used), 3u);
  // A trailer section has no first line.
  HeadScanner t(HeadScanner::Kind::kTrailer);
  std::string trailers = "X: y\r\n\r\n";
  ASSERT_EQ(t.scan(trailers.data(), trailers.size(), &used), Result::kComplete);
  EXPECT_EQ(t.firstLinePart(used), 0u);
}

}  // namespace
}  // namespace fulcrum::http
