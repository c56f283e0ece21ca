#include "fulcrum/http/request_parser.h"

#include <algorithm>

#include "fulcrum/http/head_feed.h"
#include "fulcrum/http/llhttp_settings.h"
#include "fulcrum/http/wire_format.h"

namespace fulcrum::http {

namespace {

constexpr char kEmpty[1] = {0};
constexpr uint64_t kMaxChunkExtensionAndTrailerBytes = 64 * 1024;
// Chunk framing besides extensions and trailers: a size line (16 hex digits at most, but
// leading zeros are allowed) and two CRLFs per chunk. This much per chunk is allowed, so that
// a size line of endless zeros cannot hold a backend connection open forever.
constexpr uint64_t kMaxFramingBytesPerChunk = 64;
// The largest chunk size sent to a backend as received: what a signed 32-bit integer holds.
constexpr uint64_t kMaxForwardedChunkSize = 0x7fffffff;

RequestParser* self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

}  // namespace

const llhttp_settings_t& RequestParser::settings(bool head) {
  static const HeadBodySettings kSettings = [] {
    llhttp_settings_t v;
    llhttp_settings_init(&v);
    v.on_message_begin = onMessageBegin;
    v.on_url = onUrl;
    v.on_headers_complete = onHeadersComplete;
    v.on_body = onBody;
    v.on_chunk_header = onChunkHeader;
    v.on_chunk_complete = onChunkComplete;
    checkChunkExtensions<RequestParser>(v);
    v.on_message_complete = onMessageComplete;
    return headAndBodySettings(v, onTrailerBytes);
  }();
  return head ? kSettings.head : kSettings.body;
}

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) {
  llhttp_init(&parser_, HTTP_REQUEST, &settings(true));
  parser_.data = this;
  scanner_.recordInto(&buf_);
}

RequestParser::~RequestParser() { SpareStorage<std::vector<Header>>::give(head_.headers); }

std::string_view RequestParser::loggedMethod() const {
  std::string_view method, target;
  if (!head_.method.empty()) return head_.method;
  return splitRequestLine(buf_.bytes(), method, target) ? method : std::string_view();
}

std::string_view RequestParser::loggedTarget() const {
  std::string_view method, target;
  if (!head_.target.empty()) return head_.target;
  return splitRequestLine(buf_.bytes(), method, target) ? target : std::string_view();
}

void RequestParser::shrink() {
  buf_.shrink();
  if (head_.headers.capacity() > 64) std::vector<Header>().swap(head_.headers);
}

void RequestParser::release() {
  if (state_ != State::kHead || head_bytes_ != 0) return;  // a head is being parsed
  buf_.release();
  SpareStorage<std::vector<Header>>::give(head_.headers);
}

void RequestParser::nextMessage() {
  if (state_ != State::kComplete) return;
  open_for_more_ = llhttp_should_keep_alive(&parser_) != 0;
  llhttp_resume(&parser_);
  useSettings(true);
  // After an upgrade request that was not switched (no 101), llhttp stops again at once:
  // the connection stays HTTP, so tell it to go on parsing.
  if (llhttp_execute(&parser_, kEmpty, 0) == HPE_PAUSED_UPGRADE)
    llhttp_resume_after_upgrade(&parser_);
  state_ = State::kHead;
  method_feed_ = MethodFeed::kLlhttp;
  // llhttp sets it again at the next method; until then methodIsHead() must not speak of the
  // previous request.
  parser_.method = HTTP_GET;
  scanner_.restart(HeadScanner::Kind::kRequest, &buf_);
  head_bytes_ = 0;
  std::vector<Header> headers = std::move(head_.headers);
  head_ = RequestHead{};
  head_.headers = std::move(headers);  // keeps its capacity
  head_.headers.clear();
}

// llhttp's refusals of a head are 400s, except two that name something the proxy does not
// implement rather than a malformed message (RFC 9110 15.6.2, 15.6.6): a method that is
// neither llhttp's nor an extension method the proxy passes on (feedFirstLine: a lower-case
// "get" is a method of its own, which backends may take for GET) gets 501, and a well-formed
// version of another major version (HTTP/2.0, HTTP/3.0, HTTP/0.9) gets 505 (a later 1.x is
// read as 1.1: feedFirstLine). llhttp reports a malformed version
// ("HTTP/x.1", "HTTP/1.1 ") with the same code, but then it has not stored a new one: what it
// holds is 0.0 before the first request and 1.0/1.1 (accepted) after it.
uint16_t RequestParser::refusalStatus(llhttp_errno_t err) const {
  if (err == HPE_INVALID_METHOD) return 501;
  if (err == HPE_INVALID_VERSION) {
    uint8_t major = parser_.http_major;  // llhttp's getters take a non-const parser
    uint8_t minor = parser_.http_minor;
    if (major >= 1 && !(major == 1 && minor <= 1)) return 505;
  }
  return 400;
}

namespace {

// The extension methods passed on: upper-case letters, digits, '-' and '_' (nginx's set, with
// digits). Lower-case methods are refused: a backend that compares methods without regard to
// case would read "head" as HEAD and answer without the body the proxy then waits for.
bool extensionMethodByte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

// A later HTTP/1.x (HTTP/1.2) is read as HTTP/1.1 (RFC 9110 2.5: a recipient SHOULD process
// a higher minor version as the highest one it implements; 505 is for another major version;
// nginx and HAProxy do the same). llhttp's strict mode knows no such version, so the request
// line so far is given to it again from the head buffer's copy, its minor digit made 1. The
// backend gets HTTP/1.1 in any case; the client's answer says HTTP/1.1 too.
llhttp_errno_t RequestParser::feedFirstLine(const char* data, size_t length) {
  llhttp_errno_t err = feedRequestLine(data, length);
  // llhttp stores a well-formed version before refusing it (refusalStatus).
  if (err != HPE_INVALID_VERSION || parser_.http_major != 1 || parser_.http_minor <= 1) return err;
  std::string_view line = buf_.bytes().substr(0, head_bytes_ + length);
  // The first " HTTP/1." is the version: neither the method nor the target holds a space.
  size_t minor = line.find(" HTTP/1.");
  if (minor == std::string_view::npos || (minor += 8) >= line.size()) return err;
  buf_.rewriteByte(minor, '1');
  buf_.restartFirst();
  llhttp_reset(&parser_);  // keeps the settings and data; it had stopped at its error
  if (method_feed_ == MethodFeed::kStandIn) {
    std::string_view method = requestMethodOf(line);
    size_t end = static_cast<size_t>(method.data() - line.data()) + method.size();
    err = llhttp_execute(&parser_, "GET", 3);
    return err != HPE_OK ? err : llhttp_execute(&parser_, line.data() + end, line.size() - end);
  }
  return llhttp_execute(&parser_, line.data(), line.size());
}

llhttp_errno_t RequestParser::feedRequestLine(const char* data, size_t length) {
  if (method_feed_ == MethodFeed::kLlhttp) {
    llhttp_errno_t err = llhttp_execute(&parser_, data, length);
    if (err != HPE_INVALID_METHOD) return err;
    method_feed_ = MethodFeed::kAwaitingEnd;
  } else if (method_feed_ == MethodFeed::kStandIn) {
    return llhttp_execute(&parser_, data, length);
  }
  // The method so far, in the head buffer (addRaw has copied this read's bytes already).
  std::string_view line = buf_.bytes().substr(0, head_bytes_ + length);
  std::string_view method = requestMethodOf(line);
  auto bad = std::find_if_not(method.begin(), method.end(), extensionMethodByte);
  if (method.empty() || bad != method.end()) {
    // The first byte that is not an extension method's decides, so that the answer does not
    // depend on how the line was split into reads: a token byte ("get", "Brew") names a
    // method the proxy does not implement (501); a byte no token has ("G@T") makes the
    // request line malformed (400, as in nginx and HAProxy).
    if (bad == method.end() || isTokenChar(static_cast<unsigned char>(*bad)))
      return HPE_INVALID_METHOD;
    llhttp_set_error_reason(&parser_, "invalid character in method");
    return HPE_INVALID_CONSTANT;
  }
  size_t end = static_cast<size_t>(method.data() - line.data()) + method.size();
  if (end == line.size()) return HPE_OK;  // the method goes on in the next read
  method_feed_ = MethodFeed::kStandIn;
  llhttp_reset(&parser_);  // keeps the settings and data; it had stopped at its error
  llhttp_errno_t err = llhttp_execute(&parser_, "GET", 3);
  if (err != HPE_OK) return err;
  // From the buffer's copy: the URL spans llhttp reports are then offsets into it.
  return llhttp_execute(&parser_, line.data() + end, line.size() - end);
}

RequestParser::Result RequestParser::fail(uint16_t status, const char* reason, size_t consumed) {
  state_ = State::kError;
  error_ = HttpError{status, reason};
  return {Status::kError, consumed};
}

RequestParser::Result RequestParser::feed(const char* data, size_t length, BodySink* sink) {
  if (data == nullptr) data = kEmpty;
  switch (state_) {
    case State::kHead:
      return feedHead(data, length);
    case State::kBody:
      return feedBody(data, length, sink);
    case State::kComplete:
      return {Status::kMessageComplete, 0};
    case State::kError:
      break;
  }
  return {Status::kError, 0};
}

RequestParser::Result RequestParser::feedHead(const char* data, size_t length) {
  if (length == 0) return {Status::kNeedMore, 0};
  uint64_t room =
      limits_.max_header_bytes > head_bytes_ ? limits_.max_header_bytes - head_bytes_ : 0;
  size_t scan_length = static_cast<size_t>(std::min<uint64_t>(length, room));
  size_t used = 0;
  if (head_bytes_ == 0) buf_.reset();  // the scanner records the header spans into it
  HeadScanner::Result scanned = scanner_.scan(data, scan_length, &used);
  buf_.addRaw(data, used);
  // llhttp parses the request line as it arrives, so that its refusals there (501, 505) come as
  // early as they can; after a scanner error, up to the byte before it. The header lines
  // follow once the head is complete (head_feed.h).
  size_t line_bytes = scanner_.firstLinePart(used);
  llhttp_errno_t err = line_bytes > 0 ? feedFirstLine(data, line_bytes) : HPE_OK;
  head_bytes_ += used;
  if (scanned == HeadScanner::Result::kError) {
    // The earliest refusal wins however the head was split into reads: llhttp may refuse a
    // byte before the one the scanner stopped at (an unknown method: 501), as it would have
    // if that byte had arrived in an earlier read.
    if (err != HPE_OK && err != HPE_PAUSED)
      return fail(refusalStatus(err), llhttp_get_error_reason(&parser_), used);
    return fail(400, scanner_.error(), used);
  }
  if (scanned == HeadScanner::Result::kNeedMore) {
    if (err != HPE_OK) return fail(refusalStatus(err), llhttp_get_error_reason(&parser_), used);
    if (head_bytes_ >= limits_.max_header_bytes) {
      // 414 when the request line alone leaves no room for a head (with its CRLF and the
      // blank line, the least that can follow it, it is over the limit): the target is what
      // the client must shorten. 431 when header fields took the room.
      bool line_too_long =
          !scanner_.firstLineDone() || scanner_.firstLineBytes() + 4 > limits_.max_header_bytes;
      return line_too_long ? fail(414, "request line too long", used)
                           : fail(431, "request head too large", used);
    }
    return {Status::kNeedMore, used};
  }
  // The scanner saw the end of the head: llhttp must stop in onHeadersComplete at the blank
  // line, or the two disagree about the message and it is refused.
  const char* end = nullptr;
  if (err == HPE_OK) err = executeHeaderLines(&parser_, buf_, head_bytes_, &verdict_, &end);
  if (err != HPE_PAUSED || in_head_ || llhttp_get_error_pos(&parser_) != end) {
    if (err == HPE_PAUSED || err == HPE_OK) return fail(400, "head boundary mismatch", used);
    return fail(refusalStatus(err), llhttp_get_error_reason(&parser_), used);
  }
  if (HttpError e = finishHead()) return fail(e.status, e.reason, used);
  llhttp_resume(&parser_);
  state_ = State::kBody;
  body_bytes_ = 0;
  trailer_bytes_ = 0;
  body_wire_bytes_ = 0;
  chunks_ = 0;
  chunk_size_ = 0;
  return {Status::kHeadComplete, used};
}

RequestParser::Result RequestParser::feedBody(const char* data, size_t length, BodySink* sink) {
  sink_ = sink;
  Result result{Status::kNeedMore, length};
  size_t pos = 0;
  // At least one llhttp call, also with no bytes: a request without a body completes in it.
  for (bool first = true; first || pos < length; first = false) {
    const char* at = data + pos;
    size_t give = length - pos;
    HeadScanner::Result scanned = HeadScanner::Result::kNeedMore;
    const bool was_in_trailers = inTrailers();
    if (was_in_trailers) {
      // The trailer section: the scanner first, as for a head; llhttp parses what it passed.
      scanned = scanner_.scan(at, give, &give);
      if (scanned == HeadScanner::Result::kError) {
        result = fail(400, "malformed trailer section", pos + give);
        break;
      }
    }
    llhttp_errno_t err = llhttp_execute(&parser_, at, give);
    size_t consumed =
        err == HPE_OK ? pos + give : pos + static_cast<size_t>(llhttp_get_error_pos(&parser_) - at);
    body_wire_bytes_ += consumed - pos;
    if (head_.framing == BodyFraming::kChunked &&
        body_wire_bytes_ - body_bytes_ >
            kMaxChunkExtensionAndTrailerBytes + kMaxFramingBytesPerChunk * (chunks_ + 1)) {
      result = fail(400, "chunk size line too long", consumed);
      break;
    }
    if (err == HPE_PAUSED && state_ == State::kComplete) {
      // With trailers, the scanner must have seen the same end of the message.
      result =
          !inTrailers() || (scanned == HeadScanner::Result::kComplete && consumed == pos + give)
              ? Result{Status::kMessageComplete, consumed}
              : fail(400, "trailer section boundary mismatch", consumed);
      break;
    }
    if (err == HPE_PAUSED && inTrailers() && !was_in_trailers) {
      llhttp_resume(&parser_);  // onChunkHeader stopped at the last chunk: trailers follow
      pos = consumed;
      continue;
    }
    if (err != HPE_OK) {
      result = state_ == State::kError ? Result{Status::kError, consumed}  // a callback refused
                                       : fail(400, llhttp_get_error_reason(&parser_), consumed);
      break;
    }
    if (scanned == HeadScanner::Result::kComplete) {  // llhttp did not end the message there
      result = fail(400, "trailer section boundary mismatch", consumed);
      break;
    }
    pos = consumed;
  }
  sink_ = nullptr;
  return result;
}

RequestParser::Result RequestParser::skipRestOfBody() {
  const uint64_t left = lengthBodyLeft();
  if (left == 0) return fail(400, "no body left to skip", 0);
  skipBody(left - 1);
  // llhttp ends a Content-Length body on its last byte, whatever the byte is: it is given one
  // stand-in byte, with no sink to pass it to.
  static constexpr char kStandIn = 0;
  Result r = feedBody(&kStandIn, 1, nullptr);
  if (r.status == Status::kMessageComplete) return {Status::kMessageComplete, 0};
  return r.status == Status::kError ? Result{Status::kError, 0} : fail(400, "body did not end", 0);
}

void RequestParser::emit(const char* data, size_t length) {
  if (sink_ != nullptr && length > 0) sink_->onBodyBytes(data, length);
}

void RequestParser::emitChunkSizeLine(uint64_t size) {
  char line[kMaxChunkSizeLine];
  emit(line, static_cast<size_t>(writeChunkSizeLine(line, size) - line));
}

// A chunk size that a 32-bit parser would truncate or read as negative never reaches the
// backend: such a backend would find the chunk's end early and read the rest of its data, which
// the client chose, as a request of its own. Such a chunk goes out as one chunk per piece of
// data as it arrives (HAProxy re-frames every chunk this way); any other keeps its size, one
// chunk for one.
bool RequestParser::splitsChunk() const { return chunk_size_ > kMaxForwardedChunkSize; }

int RequestParser::onMessageBegin(llhttp_t* p) {
  self(p)->in_head_ = true;  // the head buffer was reset by feedHead
  return 0;
}

int RequestParser::onUrl(llhttp_t* p, const char* at, size_t length) {
  self(p)->buf_.appendFirst(at, length);
  return 0;
}

int RequestParser::onTrailerBytes(llhttp_t* p, const char*, size_t length) {
  RequestParser* r = self(p);
  r->trailer_bytes_ += length;
  if (r->trailer_bytes_ > kMaxChunkExtensionAndTrailerBytes) {
    r->state_ = State::kError;
    r->error_ = HttpError{400, "trailers too large"};
    return HPE_USER;
  }
  return 0;
}

int RequestParser::onHeadersComplete(llhttp_t* p) {
  RequestParser* r = self(p);
  recordHeadVerdict(&r->verdict_, *p);
  r->in_head_ = false;
  r->useSettings(false);  // header fields from here on are trailers
  return HPE_PAUSED;      // the caller checks the head before any body byte is parsed
}

int RequestParser::onBody(llhttp_t* p, const char* at, size_t length) {
  RequestParser* r = self(p);
  r->body_bytes_ += length;
  if (r->splitsChunk() && length > 0) {  // never a zero size: that would end the body
    r->emitChunkSizeLine(length);
    r->emit(at, length);
    r->emit("\r\n", 2);
    return 0;
  }
  r->emit(at, length);
  return 0;
}

int RequestParser::onChunkHeader(llhttp_t* p) {
  RequestParser* r = self(p);
  r->chunk_size_ = p->content_length;
  ++r->chunks_;
  if (r->chunk_size_ == 0) {
    // The last chunk (written by onMessageComplete): the trailer section goes through the
    // scanner first (feedBody), from the byte after this line.
    r->scanner_.restart(HeadScanner::Kind::kTrailer, nullptr);
    return HPE_PAUSED;
  }
  // The size goes to the backend as it is: one that a signed 64-bit parser (off_t, int64_t)
  // would read as negative is refused, as nginx and HAProxy refuse it.
  if (r->chunk_size_ > static_cast<uint64_t>(INT64_MAX)) {
    r->state_ = State::kError;
    r->error_ = HttpError{400, "chunk size too large"};
    return HPE_USER;
  }
  if (r->limits_.max_body_bytes != 0 &&
      (r->chunk_size_ > r->limits_.max_body_bytes ||
       r->body_bytes_ + r->chunk_size_ > r->limits_.max_body_bytes)) {
    r->state_ = State::kError;
    r->error_ = HttpError{413, "request body too large"};
    return HPE_USER;
  }
  if (!r->splitsChunk()) r->emitChunkSizeLine(r->chunk_size_);
  return 0;
}

int RequestParser::onChunkComplete(llhttp_t* p) {
  RequestParser* r = self(p);
  if (r->chunk_size_ != 0 && !r->splitsChunk()) r->emit("\r\n", 2);
  return 0;
}

int RequestParser::chunkExtensionBytes(size_t length) {
  trailer_bytes_ += length;
  return trailer_bytes_ > kMaxChunkExtensionAndTrailerBytes
             ? refuseChunkLine("chunk extensions too large")
             : 0;
}

int RequestParser::refuseChunkLine(const char* why) {
  state_ = State::kError;
  error_ = HttpError{400, why};
  return HPE_USER;
}

int RequestParser::onMessageComplete(llhttp_t* p) {
  RequestParser* r = self(p);
  if (r->head_.framing == BodyFraming::kChunked) r->emit("0\r\n\r\n", 5);
  r->state_ = State::kComplete;
  return HPE_PAUSED;  // one request at a time: a pipelined next one waits for nextMessage()
}

}  // namespace fulcrum::http
