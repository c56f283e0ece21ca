#pragma once
// A strict byte-level check of an HTTP/1.x message head, run over the raw bytes before
// llhttp sees them. llhttp (even without lenient flags) accepts obs-fold, empty or
// space-containing header names and some control bytes; a proxy that lets those through can
// disagree with its backend about where a request ends (request smuggling). This scanner
// rejects them and finds the exact end of the head, so the head's size can be bounded.
// It also records where each header's name and value lie (recordInto): the scanner passes
// over those bytes anyway, and its view of a valid head is llhttp's (a build with
// FULCRUM_CHECK_HEADER_SPANS compares the two). With those spans, llhttp is given only the
// header lines it acts on (head_feed.h). Worker-local; no allocation.

#include <cstddef>
#include <cstdint>

namespace fulcrum::http {

class HeadBuffer;

class HeadScanner {
 public:
  // kTrailer: the trailer section after a chunked body's last chunk, which has the same
  // field lines and blank line as a head, but no first line.
  enum class Kind : uint8_t { kRequest, kResponse, kTrailer };
  enum class Result : uint8_t { kNeedMore, kComplete, kError };

  explicit HeadScanner(Kind kind) : kind_(kind) { reset(); }
  // Each complete header line adds its name and value spans to `spans` (HeadBuffer::addHeader),
  // as offsets from the head's first byte: the head buffer must hold the head's bytes from
  // there, in the order they were scanned.
  void recordInto(HeadBuffer* spans) { spans_ = spans; }
  void reset();
  // Starts over for `kind`, recording into `spans` (or nothing): a request parser checks its
  // trailer section with the scanner of its head, whose work is done by then.
  void restart(Kind kind, HeadBuffer* spans) {
    kind_ = kind;
    spans_ = spans;
    reset();
  }
  Kind kind() const { return kind_; }
  // Scans `data` until the blank line that ends the head. `*used` = bytes consumed (up to and
  // including the final LF on kComplete; all of them on kNeedMore; up to the bad byte on
  // kError).
  Result scan(const char* data, size_t length, size_t* used);

  // The request/status line ended with its CRLF (also when scan() failed after it, not when
  // it failed in the line).
  bool firstLineDone() const { return header_start_ != 0; }
  // Bytes of the request/status line so far (without leading empty lines).
  size_t firstLineBytes() const { return first_line_bytes_; }
  // Of the `used` bytes the last scan() passed, how many belong to the first line (leading
  // empty lines and its CRLF included; up to the bad byte after an error there): what the
  // parsers give llhttp as it arrives, before the head is complete (head_feed.h).
  size_t firstLinePart(size_t used) const {
    if (!scan_in_first_line_) return 0;
    return header_start_ != 0 ? header_start_ - scan_base_ : used;
  }
  // Why scan() returned kError.
  const char* error() const { return error_; }

 private:
  enum class State : uint8_t {
    kLeading,  // before the request line: empty lines are tolerated (RFC 9112 2.2)
    kLeadingCr,
    kFirstLine,
    kFirstLineCr,
    kLineStart,  // start of a header line or of the final empty line
    kName,
    kValue,
    kValueCr,
    kFinalCr,
    kDone,
  };
  Result fail(const char* why);

  Kind kind_;
  State state_ = State::kLeading;
  HeadBuffer* spans_ = nullptr;
  uint32_t base_ = 0;                       // bytes scanned by earlier calls since reset()
  uint32_t name_start_ = 0, name_end_ = 0;  // of the current header line (the colon ends it)
  uint32_t header_start_ = 0;        // where the header lines start, once the first line ended
  uint32_t scan_base_ = 0;           // base_ when the last scan() started
  bool scan_in_first_line_ = false;  // the last scan() started in the first line
  size_t first_line_bytes_ = 0;
  uint32_t spaces_ = 0;  // request line: separators seen
  bool prev_space_ = false;
  const char* error_ = "";
};

}  // namespace fulcrum::http
