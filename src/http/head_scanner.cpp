#include "fulcrum/http/head_scanner.h"

#include <array>
#include <string_view>

#include "fulcrum/http/head_buffer.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fulcrum::http {

namespace {

// Byte classes, one table lookup per byte (most bytes of a head go through the tight runs in
// scan(); the per-state rules are unchanged).
enum : uint8_t {
  kTok = 1,          // tchar (header name byte)
  kValue = 2,        // field-value: VCHAR, SP, HTAB, obs-text (not NUL, CR, LF, controls, DEL)
  kRequestByte = 4,  // request line, other than its SP separators: visible ASCII only
  kStatusByte = 8,   // status line: visible ASCII, SP, and in the reason phrase HTAB, obs-text
};

constexpr bool tchar(int c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  for (char t : std::string_view("!#$%&'*+-.^_`|~")) {
    if (c == t) return true;
  }
  return false;
}

constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    if (tchar(c)) v |= kTok;
    if (c >= 0x20 ? c != 0x7f : c == '\t') v |= kValue;
    if (c >= 0x21 && c <= 0x7e) v |= kRequestByte | kStatusByte;
    if (c == ' ' || c == '\t' || c >= 0x80) v |= kStatusByte;
    t[c] = v;
  }
  return t;
}();

// The first index in [i, length) whose byte is not a field-value byte (kValue; the same set
// as kStatusByte), or `length`. Whole 16-byte blocks are checked at once where SSE2 is there:
// header values are most of a head's bytes.
size_t skipValueBytes(const unsigned char* p, size_t i, size_t length) {
#if defined(__SSE2__)
  const __m128i minus1 = _mm_set1_epi8(-1), space = _mm_set1_epi8(0x20);
  const __m128i tab = _mm_set1_epi8('\t'), del = _mm_set1_epi8(0x7f);
  while (length - i >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // Signed compares: obs-text (>= 0x80) is negative, so "0 <= x < 0x20" is a control byte.
    __m128i control = _mm_and_si128(_mm_cmpgt_epi8(x, minus1), _mm_cmplt_epi8(x, space));
    __m128i bad =
        _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(x, tab), control), _mm_cmpeq_epi8(x, del));
    if (int mask = _mm_movemask_epi8(bad); mask != 0)
      return i + static_cast<size_t>(__builtin_ctz(mask));
    i += 16;
  }
#endif
  while (i < length && (kClass[p[i]] & kValue)) ++i;
  return i;
}

// The same for request-line bytes other than SP (kRequestByte: 0x21..0x7e).
size_t skipRequestLineBytes(const unsigned char* p, size_t i, size_t length) {
#if defined(__SSE2__)
  const __m128i bang = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f);
  while (length - i >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // Signed: bytes >= 0x80 are negative, so below 0x21 too.
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, bang), _mm_cmpeq_epi8(x, del));
    if (int mask = _mm_movemask_epi8(bad); mask != 0)
      return i + static_cast<size_t>(__builtin_ctz(mask));
    i += 16;
  }
#endif
  while (i < length && (kClass[p[i]] & kRequestByte)) ++i;
  return i;
}

}  // namespace

void HeadScanner::reset() {
  state_ = kind_ == Kind::kTrailer ? State::kLineStart : State::kLeading;
  base_ = 0;
  header_start_ = 0;
  scan_base_ = 0;
  scan_in_first_line_ = false;
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
  scan_base_ = base_;
  scan_in_first_line_ = state_ < State::kLineStart;  // never for a trailer section
  auto stop = [&](Result r) {
    *used = i;
    base_ += static_cast<uint32_t>(i);  // heads stay under 16 MiB (max_header_bytes)
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
      case State::kFirstLine: {
        uint8_t ordinary = kind_ == Kind::kRequest ? kRequestByte : kStatusByte;
        if (kClass[c] & ordinary) {
          size_t end = kind_ == Kind::kRequest ? skipRequestLineBytes(p, i, length)
                                               : skipValueBytes(p, i, length);
          prev_space_ = false;
          first_line_bytes_ += end - i;
          i = end - 1;  // the loop steps to the byte that ended the run
          break;
        }
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
        } else {
          return stop(fail("invalid byte in the first line"));
        }
        break;
      }
      case State::kLeadingCr:
        if (c != '\n') return stop(fail("bare CR before the request line"));
        state_ = State::kLeading;
        break;
      case State::kFirstLineCr:
        if (c != '\n') return stop(fail("bare CR in the first line"));
        if (first_line_bytes_ == 0) return stop(fail("empty first line"));
        header_start_ = base_ + static_cast<uint32_t>(i) + 1;
        state_ = State::kLineStart;
        break;
      // A header line runs through these four states in order: each falls through to the
      // next with the following byte, so a whole line costs no trip around the outer loop.
      case State::kLineStart:
      line_start:
        if (c == '\r') {
          state_ = State::kFinalCr;
          break;
        }
        if (c == ' ' || c == '\t') return stop(fail("obs-fold or whitespace before a header name"));
        if (c == ':') return stop(fail("empty header name"));
        if (!(kClass[c] & kTok))
          return stop(fail(c == '\n' ? "bare LF in the head" : "invalid header name"));
        name_start_ = base_ + static_cast<uint32_t>(i);
        state_ = State::kName;
        [[fallthrough]];
      case State::kName:
        while (kClass[c] & kTok) {
          if (++i == length) return stop(Result::kNeedMore);
          c = p[i];
        }
        if (c != ':') return stop(fail("invalid header name"));
        name_end_ = base_ + static_cast<uint32_t>(i);
        state_ = State::kValue;
        if (++i == length) return stop(Result::kNeedMore);
        c = p[i];
        [[fallthrough]];
      case State::kValue:
        // Most bytes of a head are header values.
        i = skipValueBytes(p, i, length);
        if (i == length) return stop(Result::kNeedMore);
        c = p[i];
        if (c == '\n') return stop(fail("bare LF in a header value"));
        if (c != '\r')
          return stop(fail(c == 0 ? "NUL in a header value" : "control byte in a header value"));
        if (spans_ != nullptr) {
          uint32_t value_start = name_end_ + 1, value_end = base_ + static_cast<uint32_t>(i);
          spans_->addHeader({name_start_, name_end_ - name_start_},
                            {value_start, value_end - value_start});
        }
        state_ = State::kValueCr;
        if (++i == length) return stop(Result::kNeedMore);
        c = p[i];
        [[fallthrough]];
      case State::kValueCr:
        if (c != '\n') return stop(fail("bare CR in a header value"));
        state_ = State::kLineStart;
        if (++i == length) return stop(Result::kNeedMore);
        c = p[i];
        goto line_start;
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
