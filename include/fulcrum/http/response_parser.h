#pragma once
// Upstream side of the HTTP path: llhttp in response mode behind the strict HeadScanner.
// Events go to a ResponseSink synchronously from inside feed(): the head (views valid during
// the call), decoded body bytes (the session frames them for its client) and the end of the
// response. HEAD, 1xx, 204 and 304 answers have no body whatever their headers say.
// Anything malformed is an error (the session answers 502, or closes if it already started
// answering). Worker-local.

#include <llhttp.h>

#include <cstddef>
#include <cstdint>

#include "fulcrum/http/head_buffer.h"
#include "fulcrum/http/head_feed.h"
#include "fulcrum/http/head_scanner.h"
#include "fulcrum/http/llhttp_settings.h"
#include "fulcrum/http/message.h"

namespace fulcrum::http {

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // An interim 1xx answer other than 101 (100 Continue, 103 Early Hints); more follows.
  virtual void onInformational(const ResponseHead& head) = 0;
  // The final response's head. For a 101 to an upgrade request, parsing stops right after.
  virtual void onResponseHead(const ResponseHead& head) = 0;
  // Decoded body bytes (without chunk framing).
  virtual void onResponseBody(const char* data, size_t length) = 0;
};

class ResponseParser {
 public:
  static constexpr size_t kMaxHeadBytes = 64 * 1024;

  enum class Status : uint8_t {
    kNeedMore,  // all consumed
    kComplete,  // the response ended; bytes after `consumed` are unexpected
    kUpgrade,   // 101 to an upgrade request: bytes after `consumed` belong to the tunnel
    kError,     // error()
  };
  struct Result {
    Status status;
    size_t consumed;
  };

  ResponseParser();
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Before each request is sent: what the response must look like.
  void expect(bool head_request, bool upgrade_requested);
  Result feed(const char* data, size_t length, ResponseSink* sink);
  // The backend closed its side: completes a response delimited by the close, else an error
  // (nothing received, or a truncated response).
  Result finish(ResponseSink* sink);

  // Some byte of the response has arrived.
  bool started() const { return started_; }
  // The final response head was delivered to the sink.
  bool headDone() const { return head_done_; }
  // The response failed before a status line of it parsed (interim or final): what came was
  // no answer at all, such as bytes left over from an earlier exchange on the connection.
  bool failedBeforeStatusLine() const { return failed_ && !status_line_seen_; }
  const char* error() const { return error_; }
  // Bytes of a Content-Length body still to come, once its head was delivered and while no
  // error or end came; 0 otherwise (no body, chunked, until close).
  uint64_t lengthBodyLeft() const {
    if (!head_done_ || complete_ || failed_ || upgrade_ || in_head_) return 0;
    if (head_.framing != BodyFraming::kContentLength) return 0;
    return parser_.content_length;
  }
  // `n` body bytes went to the client without passing through feed() (spliced); n must be
  // below lengthBodyLeft(): the last byte ends the response, through feed() or
  // skipRestOfBody().
  void skipBody(uint64_t n) { parser_.content_length -= n; }
  // All of lengthBodyLeft() went to the client past the parser, the last byte too: ends the
  // response as that byte would have (kComplete), without the sink seeing it.
  Result skipRestOfBody();
  void shrink() { buf_.shrink(); }
  // Between exchanges: gives all head memory back (the next expect() starts afresh).
  void release();

 private:
  Result fail(const char* why, size_t consumed);
  bool finishHead();
  llhttp_errno_t feedStatusLine(const char* at, size_t length, size_t line_end);

  static int onMessageBegin(llhttp_t* p);
  static int onStatus(llhttp_t* p, const char* at, size_t length);
  // Trailer fields (in the body settings only: the head's come from the scanner).
  static int onTrailerBytes(llhttp_t* p, const char* at, size_t length);
  // checkChunkExtensions (llhttp_settings.h).
  template <class Parser>
  friend void checkChunkExtensions(llhttp_settings_t& v);
  int chunkExtensionBytes(size_t length);
  int refuseChunkLine(const char* why);
  static int onHeadersComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t length);
  static int onMessageComplete(llhttp_t* p);
  // The callbacks while a head is parsed, and while a body (and its trailers) is.
  static const llhttp_settings_t& settings(bool head);
  void useSettings(bool head) {
    parser_.settings = const_cast<llhttp_settings_t*>(&settings(head));
  }

  llhttp_t parser_{};
  HeadScanner scanner_{HeadScanner::Kind::kResponse};
  HeadBuffer buf_;
  ResponseHead head_;
  ResponseSink* sink_ = nullptr;
  bool head_request_ = false;
  bool upgrade_requested_ = false;
  bool in_head_ = true;
  bool started_ = false;
  bool status_line_seen_ = false;  // llhttp took a whole status line of this response
  bool head_done_ = false;
  bool complete_ = false;
  bool upgrade_ = false;
  bool failed_ = false;
  size_t head_bytes_ = 0;
  ChunkExtensionPart ext_part_;
  const char* error_ = "";
  [[no_unique_address]] HeadVerdictSlot verdict_;  // of the current head (head_feed.h)
};

}  // namespace fulcrum::http
