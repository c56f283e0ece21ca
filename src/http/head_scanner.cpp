#include "fulcrum/http/head_scanner.h"

#include "fulcrum/http/message.h"

namespace fulcrum::http {

namespace {

// Request line: visible ASCII and SP only (method, target and version are all tokens or
// URI characters). Status line: the reason phrase may also hold HTAB and obs-text.
bool firstLineByteOk(unsigned char c, HeadScanner::Kind kind) {
  if (c >= 0x21 && c <= 0x7e) return true;
  if (c == ' ') return true;
  if (kind == HeadScanner::Kind::kResponse) return c == '\t' || c >= 0x80;
  return false;
}

// field-value: VCHAR, SP, HTAB, obs-text. Everything else (NUL, CR, LF, other controls,
// DEL) is refused.
bool valueByteOk(unsigned char c) { return c >= 0x20 ? c != 0x7f : c == '\t'; }

}  // namespace

void HeadScanner::reset() {
  state_ = State::kLeading;
  first_line_bytes_ = 0;
  spaces_ = 0;
  prev_space_ = false;
  error_ = "";
}

HeadScanner::Result HeadScanner::fail(const char* why) {
  error_ = why;
  state_ = State::kDone;
  return Result::kError;
}

HeadScanner::Result HeadScanner::scan(const char* data, size_t length, size_t* used) {
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
        if (c == '\r' && kind_ == Kind::kRequest) {
          state_ = State::kLeadingCr;
          break;
        }
        state_ = State::kFirstLine;
        [[fallthrough]];
      case State::kFirstLine:
        if (c == '\r') {
          // method SP request-target SP HTTP-version: exactly two single spaces.
          if (kind_ == Kind::kRequest && (spaces_ != 2 || prev_space_))
            return stop(fail("malformed request line"));
          state_ = State::kFirstLineCr;
        } else if (c == ' ' && kind_ == Kind::kRequest) {
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

}  // namespace fulcrum::http
