#pragma once
// Client side of the HTTP path: llhttp in request mode (no lenient flags) behind the strict
// HeadScanner. Produces one RequestHead at a time (views into a per-connection head buffer
// bounded by max_header_bytes; only the head is copied, never the body) and streams the body
// out already re-framed for the backend: Content-Length bodies as they are, chunked bodies
// as validated chunks (extensions and trailers dropped), so the backend can never see a
// message boundary the proxy did not see. Worker-local.

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fulcrum/http/head_buffer.h"
#include "fulcrum/http/head_feed.h"
#include "fulcrum/http/head_scanner.h"
#include "fulcrum/http/llhttp_settings.h"
#include "fulcrum/http/message.h"

namespace fulcrum::http {

struct RequestLimits {
  uint64_t max_header_bytes = 32 * 1024;  // request line + headers
  uint64_t max_body_bytes = 0;            // 0 = unlimited
};

// Receives the request body, framed for the backend.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void onBodyBytes(const char* data, size_t length) = 0;
};

class RequestParser {
 public:
  enum class Status : uint8_t {
    kNeedMore,         // everything was consumed; feed more
    kHeadComplete,     // head() is ready; feed the rest for the body
    kMessageComplete,  // the request (head and body) ended; call nextMessage() for the next
    kError,            // error(): answer it and close the connection
  };
  struct Result {
    Status status;
    size_t consumed;  // bytes of `data` used; the rest belongs to what comes next
  };

  explicit RequestParser(RequestLimits limits);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses until the next event. `sink` receives body bytes (may be null before the head).
  Result feed(const char* data, size_t length, BodySink* sink);
  // After kMessageComplete: parse the next request of the connection.
  void nextMessage();
  // Limits for the requests to come (a reload changed them); between requests only.
  void setLimits(RequestLimits limits) { limits_ = limits; }

  const RequestHead& head() const { return head_; }
  // For the access log: the head's method and target, or for a request refused before its
  // head was parsed (431, a duplicate Content-Length, 505, 501, a 408 mid-head), those of its
  // request line when a whole one had arrived; else empty.
  std::string_view loggedMethod() const;
  std::string_view loggedTarget() const;
  // The request line so far names HEAD (also after an error in the head): the proxy's own
  // answer to it must not have a body (RFC 9110 9.3.2).
  bool methodIsHead() const { return parser_.method == HTTP_HEAD; }
  const HttpError& error() const { return error_; }
  // No byte of the current request has been received (the connection is idle).
  bool idle() const { return state_ == State::kHead && head_bytes_ == 0; }
  // Idle after a request that kept its connection open (llhttp is ready for another request,
  // not closed to more data as after `Connection: close` or HTTP/1.0): another connection's
  // next request may start here as on a new parser (exchange_parsers.h).
  bool idleAfterKeepAlive() const { return idle() && open_for_more_; }
  bool inBody() const { return state_ == State::kBody; }
  // Body bytes received so far (decoded: without chunk framing).
  uint64_t bodyBytes() const { return body_bytes_; }
  // A Content-Length body's bytes still to come; 0 outside such a body.
  uint64_t lengthBodyLeft() const {
    if (state_ != State::kBody || head_.framing != BodyFraming::kContentLength) return 0;
    return parser_.content_length;
  }
  // `n` body bytes went to the backend without passing through feed() (spliced); n must be
  // below lengthBodyLeft(): the last byte ends the request, through feed() or skipRestOfBody().
  void skipBody(uint64_t n) {
    parser_.content_length -= n;
    body_bytes_ += n;
    body_wire_bytes_ += n;
  }
  // All of lengthBodyLeft() went to the backend past the parser, the last byte too: ends the
  // request as that byte would have (kMessageComplete), without a sink seeing it.
  Result skipRestOfBody();
  // Gives back head-buffer memory after a large head (idle connections stay small).
  void shrink();
  // Between requests, before any byte of the next head: gives all head memory back.
  void release();

 private:
  enum class State : uint8_t { kHead, kBody, kComplete, kError };

  Result feedHead(const char* data, size_t length);
  Result feedBody(const char* data, size_t length, BodySink* sink);
  // After a chunked body's last chunk line (onChunkHeader switched the scanner).
  bool inTrailers() const { return scanner_.kind() == HeadScanner::Kind::kTrailer; }
  uint16_t refusalStatus(llhttp_errno_t err) const;
  Result fail(uint16_t status, const char* reason, size_t consumed);
  HttpError finishHead();
  HttpError checkFraming();
  HttpError readExpect();
  HttpError readMaxForwards(bool trace);
  void emit(const char* data, size_t length);
  void emitChunkSizeLine(uint64_t size);
  // The current chunk goes out as one chunk per piece of data, not with its own size.
  bool splitsChunk() const;

  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t length);
  // Trailer fields (in the body settings only: the head's come from the scanner).
  static int onTrailerBytes(llhttp_t* p, const char* at, size_t length);
  static int onHeadersComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t length);
  static int onChunkHeader(llhttp_t* p);
  static int onChunkComplete(llhttp_t* p);
  // checkChunkExtensions (llhttp_settings.h).
  template <class Parser>
  friend void checkChunkExtensions(llhttp_settings_t& v);
  int chunkExtensionBytes(size_t length);
  int refuseChunkLine(const char* why);
  static int onMessageComplete(llhttp_t* p);
  // The callbacks while a head is parsed, and while a body (and its trailers) is.
  static const llhttp_settings_t& settings(bool head);
  llhttp_errno_t feedFirstLine(const char* data, size_t length);
  llhttp_errno_t feedRequestLine(const char* data, size_t length);
  void useSettings(bool head) {
    parser_.settings = const_cast<llhttp_settings_t*>(&settings(head));
  }

  RequestLimits limits_;
  llhttp_t parser_{};
  // The head's, and after a chunked body's last chunk the trailer section's (kTrailer): that
  // is checked like a head before llhttp parses it (llhttp takes a bare LF, obs-fold and empty
  // names there).
  HeadScanner scanner_{HeadScanner::Kind::kRequest};
  State state_ = State::kHead;
  // llhttp takes another request after the last one (set by nextMessage, which makes llhttp
  // forget the last request's Connection header).
  bool open_for_more_ = true;
  // How the request line reaches llhttp. llhttp knows a fixed list of methods, but methods
  // are extensible (RFC 9110 9.1) and a proxy passes on ones it does not know, as nginx and
  // HAProxy do: when llhttp refuses the method, it is given a stand-in ("GET": no method of
  // llhttp's but CONNECT changes how it reads a request) followed by the rest of the line.
  enum class MethodFeed : uint8_t {
    kLlhttp,       // the line as received
    kAwaitingEnd,  // llhttp refused the method; waiting for the SP that ends it
    kStandIn,      // llhttp got the stand-in, then the line from that SP on
  };
  MethodFeed method_feed_ = MethodFeed::kLlhttp;
  bool in_head_ = true;         // llhttp is between a message's start and its headers' end
  uint64_t head_bytes_ = 0;     // raw bytes of the head so far
  uint64_t trailer_bytes_ = 0;  // trailers and chunk extensions: dropped, but bounded
  ChunkExtensionPart ext_part_;
  uint64_t body_bytes_ = 0;
  uint64_t chunk_size_ = 0;
  uint64_t body_wire_bytes_ = 0;  // body bytes as received, chunk framing included
  uint64_t chunks_ = 0;
  HeadBuffer buf_;
  RequestHead head_;
  HttpError error_;
  BodySink* sink_ = nullptr;                       // during feedBody only
  [[no_unique_address]] HeadVerdictSlot verdict_;  // of the current head (head_feed.h)
};

}  // namespace fulcrum::http
