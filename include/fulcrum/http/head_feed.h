#pragma once
// What llhttp is given of a message head. llhttp acts on five header names only: Content-Length
// and Transfer-Encoding (framing), Connection, Proxy-Connection and Upgrade (connection
// handling). Any other header line, once the HeadScanner has checked its bytes (more strictly
// than llhttp does), goes through llhttp without changing anything llhttp reports. So the
// parsers give llhttp the first line as it arrives and, once the head is complete, only the
// lines with those names and then the blank line. llhttp's byte-at-a-time state machine was
// the largest user-space cost per proxied request, and with typical response headers it now
// sees a quarter of the bytes.
//
// Builds with FULCRUM_CHECK_HEADER_SPANS (Debug, sanitizer and fuzz builds) parse every
// complete head a second time, whole, with a fresh llhttp, and abort if its verdict differs or
// if the header names and values it reports are not the scanner's.

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fulcrum/http/head_buffer.h"
#include "fulcrum/http/message.h"

namespace fulcrum::http {

// True when llhttp treats a header with a name of this id as more than a general header: its
// whole name is one of the five, in any case (llhttp 8.1, the header_field states of llhttp.c).
constexpr bool llhttpActsOn(HeaderId id) {
  return id == HeaderId::kConnection || id == HeaderId::kContentLength ||
         id == HeaderId::kProxyConnection || id == HeaderId::kTransferEncoding ||
         id == HeaderId::kUpgrade;
}

// What llhttp made of a head, as its on_headers_complete sees it.
struct LlhttpHeadVerdict {
  bool reached = false;  // on_headers_complete was called
  uint8_t method = 0, major = 0, minor = 0, upgrade = 0;
  uint16_t flags = 0, status = 0;
  uint64_t content_length = 0;

  static LlhttpHeadVerdict of(const llhttp_t& p);
  bool operator==(const LlhttpHeadVerdict&) const = default;
};

// Where a parser keeps the verdict of its current head for executeHeaderLines' cross-check:
// the verdict in builds with it, nothing otherwise (a `[[no_unique_address]]` member of this
// type costs a session no byte).
#ifdef FULCRUM_CHECK_HEADER_SPANS
using HeadVerdictSlot = LlhttpHeadVerdict;
#else
struct HeadVerdictSlot {};
#endif

// For a parser's on_headers_complete: records the verdict into its slot.
inline void recordHeadVerdict([[maybe_unused]] HeadVerdictSlot* slot,
                              [[maybe_unused]] const llhttp_t& parser) {
#ifdef FULCRUM_CHECK_HEADER_SPANS
  *slot = LlhttpHeadVerdict::of(parser);
#endif
}

// Gives `parser`, which has parsed the first line of the complete head in `buf` (its first
// `head_length` bytes), the header lines llhttp acts on (buf.classify() tells which) and then
// the blank line that ends the head. Adjacent lines go in one call. The lines are read from
// `buf` (no callback of the parser's head settings touches it), the blank line from static
// memory: on_headers_complete may grow `buf`. Returns llhttp's result; `*end` is the end of
// the last bytes given, where llhttp reports a pause at the end of the head. In builds with
// FULCRUM_CHECK_HEADER_SPANS, the parser's on_headers_complete records what it saw in
// `*slot` (recordHeadVerdict), and crossCheckHead compares it with a whole-head parse.
llhttp_errno_t executeHeaderLines(llhttp_t* parser, HeadBuffer& buf, size_t head_length,
                                  HeadVerdictSlot* slot, const char** end);

// Whether llhttp, which frames the body, read a complete head's framing as the proxy did: a
// lone `chunked` coding when `chunked` (the proxy passes on no other), else no coding at all
// and, when `content_length` is given, that Content-Length. Where the two differ (llhttp takes
// `chunked<TAB>` for an unknown coding), passing the message on would frame it two ways.
bool llhttpFramingAgrees(const llhttp_t& parser, bool chunked, const uint64_t* content_length);

// Parses the first `head_length` bytes of `buf` (a complete head) with a fresh llhttp of
// `type`, given every byte, and returns its verdict. With `check_spans`, also aborts unless the
// header names and values llhttp reports are exactly buf's spans.
LlhttpHeadVerdict parseWholeHead(llhttp_type_t type, const HeadBuffer& buf, size_t head_length,
                                 bool check_spans);

#ifdef FULCRUM_CHECK_HEADER_SPANS
// Aborts unless parseWholeHead's verdict is `reduced`, the verdict of the parse that was given
// the lines llhttpActsOn (`reached` false when that parse failed).
void crossCheckHead(llhttp_type_t type, const HeadBuffer& buf, size_t head_length,
                    const LlhttpHeadVerdict& reduced);
#endif

}  // namespace fulcrum::http
