#include "fulcrum/http/response_parser.h"

#include <algorithm>

#include "fulcrum/http/header_rules.h"
#include "fulcrum/http/llhttp_settings.h"

namespace fulcrum::http {

namespace {

ResponseParser* self(llhttp_t* p) { return static_cast<ResponseParser*>(p->data); }

}  // namespace

const llhttp_settings_t& ResponseParser::settings(bool head) {
  static const HeadBodySettings kSettings = [] {
    llhttp_settings_t v;
    llhttp_settings_init(&v);
    v.on_message_begin = onMessageBegin;
    v.on_status = onStatus;
    v.on_headers_complete = onHeadersComplete;
    v.on_body = onBody;
    v.on_message_complete = onMessageComplete;
    checkChunkExtensions<ResponseParser>(v);
    return headAndBodySettings(v, onTrailerBytes);
  }();
  return head ? kSettings.head : kSettings.body;
}

ResponseParser::ResponseParser() {
  llhttp_init(&parser_, HTTP_RESPONSE, &settings(true));
  parser_.data = this;
  scanner_.recordInto(&buf_);
}

ResponseParser::~ResponseParser() { SpareStorage<std::vector<Header>>::give(head_.headers); }

void ResponseParser::release() {
  buf_.release();
  SpareStorage<std::vector<Header>>::give(head_.headers);
}

void ResponseParser::expect(bool head_request, bool upgrade_requested) {
  llhttp_init(&parser_, HTTP_RESPONSE, &settings(true));
  parser_.data = this;
  scanner_.reset();  // the head buffer is reset by feed when the head starts
  head_request_ = head_request;
  upgrade_requested_ = upgrade_requested;
  in_head_ = true;
  started_ = status_line_seen_ = head_done_ = complete_ = upgrade_ = failed_ = false;
  head_bytes_ = 0;
  error_ = "";
}

ResponseParser::Result ResponseParser::fail(const char* why, size_t consumed) {
  failed_ = true;
  error_ = why;
  return {Status::kError, consumed};
}

ResponseParser::Result ResponseParser::feed(const char* data, size_t length, ResponseSink* sink) {
  if (failed_) return {Status::kError, 0};
  if (complete_) return {Status::kComplete, 0};
  if (upgrade_) return {Status::kUpgrade, 0};
  if (length > 0) started_ = true;
  sink_ = sink;
  size_t pos = 0;
  Result result{Status::kNeedMore, length};
  while (pos < length) {
    const char* at = data + pos;
    size_t n = length - pos;
    if (in_head_) {
      // The head goes through the scanner first, and llhttp only ever sees head bytes here.
      size_t room = kMaxHeadBytes - head_bytes_;
      size_t used = 0;
      // A new head (the first, or after a 1xx): the scanner records its header spans into buf_.
      if (head_bytes_ == 0) buf_.reset();
      HeadScanner::Result scanned = scanner_.scan(at, std::min(n, room), &used);
      if (scanned == HeadScanner::Result::kError) {
        // Whether a status line came before the bad byte (failedBeforeStatusLine): llhttp
        // has not seen this scan's part of it yet.
        size_t line_bytes = scanner_.firstLinePart(used);
        if (scanner_.firstLineDone() && line_bytes > 0 &&
            llhttp_execute(&parser_, at, line_bytes) == HPE_OK)
          status_line_seen_ = true;
        result = fail(scanner_.error(), pos + used);
        break;
      }
      buf_.addRaw(at, used);
      // llhttp parses the status line as it arrives, the header lines once the head is
      // complete (head_feed.h).
      size_t line_bytes = scanner_.firstLinePart(used);
      head_bytes_ += used;  // before llhttp: the end of a 1xx head starts the next at 0
      llhttp_errno_t err =
          line_bytes > 0 ? feedStatusLine(at, line_bytes, head_bytes_ - used + line_bytes) : HPE_OK;
      if (err == HPE_OK && scanner_.firstLineDone()) status_line_seen_ = true;
      if (scanned == HeadScanner::Result::kNeedMore) {
        if (err != HPE_OK) {
          result = fail(llhttp_get_error_reason(&parser_), pos + used);
        } else if (head_bytes_ >= kMaxHeadBytes) {
          result = fail("response head too large", pos + used);
        } else {
          pos += used;
          continue;
        }
        break;
      }
      const char* end = nullptr;
      if (err == HPE_OK) err = executeHeaderLines(&parser_, buf_, head_bytes_, &verdict_, &end);
      if (failed_) {
        result = {Status::kError, pos + used};
        break;
      }
      if (err == HPE_PAUSED && (complete_ || upgrade_) && llhttp_get_error_pos(&parser_) == end) {
        result = {upgrade_ ? Status::kUpgrade : Status::kComplete, pos + used};
        break;
      }
      // A final head with a body to follow, or an interim 1xx after which parsing restarted.
      if (err != HPE_OK || (!head_done_ && !in_head_)) {
        result = fail(err == HPE_OK ? "head boundary mismatch" : llhttp_get_error_reason(&parser_),
                      pos + used);
        break;
      }
      pos += used;
      continue;
    }
    llhttp_errno_t err = llhttp_execute(&parser_, at, n);
    if (err == HPE_OK) {
      pos = length;
      continue;
    }
    size_t consumed = pos + static_cast<size_t>(llhttp_get_error_pos(&parser_) - at);
    result = (err == HPE_PAUSED && complete_) ? Result{Status::kComplete, consumed}
                                              : fail(llhttp_get_error_reason(&parser_), consumed);
    break;
  }
  sink_ = nullptr;
  return result;
}

ResponseParser::Result ResponseParser::finish(ResponseSink* sink) {
  if (failed_) return {Status::kError, 0};
  if (complete_) return {Status::kComplete, 0};
  if (!started_) return fail("backend closed before responding", 0);
  if (in_head_) return fail("backend closed mid-head", 0);
  sink_ = sink;
  llhttp_finish(&parser_);  // returns our onMessageComplete's HPE_PAUSED when it completes
  sink_ = nullptr;
  if (complete_) return {Status::kComplete, 0};
  return fail("backend closed mid-response", 0);
}

ResponseParser::Result ResponseParser::skipRestOfBody() {
  if (complete_) return {Status::kComplete, 0};  // as feed()
  if (lengthBodyLeft() == 0) return fail("no body left to skip", 0);
  // llhttp ends a Content-Length body on its last byte, whatever the byte is: it is given one
  // stand-in byte, with no sink to pass it to (onBody).
  parser_.content_length = 1;
  sink_ = nullptr;
  static constexpr char kStandIn = 0;
  llhttp_errno_t err = llhttp_execute(&parser_, &kStandIn, 1);
  if (err == HPE_PAUSED && complete_) return {Status::kComplete, 0};
  return fail(err == HPE_OK ? "body did not end" : llhttp_get_error_reason(&parser_), 0);
}

// A later HTTP/1.x (HTTP/1.2) is read as HTTP/1.1, as RFC 9110 2.5 has a recipient do (and
// HAProxy and nginx do): llhttp's strict mode knows no such version, so the status line so
// far is given to it again from the head buffer's copy (where it starts the head), its minor
// digit made 1 (RequestParser::feedFirstLine does the same for requests). `line_end`: where
// the status line's bytes so far end in the copy.
llhttp_errno_t ResponseParser::feedStatusLine(const char* at, size_t length, size_t line_end) {
  llhttp_errno_t err = llhttp_execute(&parser_, at, length);
  // llhttp stores a well-formed version before refusing it.
  if (err != HPE_INVALID_VERSION || parser_.http_major != 1 || parser_.http_minor <= 1) return err;
  std::string_view line = buf_.bytes().substr(0, line_end);
  if (line.size() < 8 || line.substr(0, 7) != "HTTP/1.") return err;
  buf_.rewriteByte(7, '1');
  buf_.restartFirst();     // the reason phrase is reported again
  llhttp_reset(&parser_);  // keeps the settings and data; it had stopped at its error
  return llhttp_execute(&parser_, line.data(), line.size());
}

bool ResponseParser::finishHead() {
  uint8_t major = llhttp_get_http_major(&parser_);
  uint8_t minor = llhttp_get_http_minor(&parser_);
  if (major != 1 || minor > 1) {
    error_ = "unsupported response version";
    return false;
  }
  head_.status = static_cast<uint16_t>(llhttp_get_status_code(&parser_));
  // status-code = 3DIGIT in 100..599 (RFC 9112 4, RFC 9110 15), and llhttp takes any number
  // of digits: "HTTP/1.1 20 OK" or "HTTP/1.1 0200" must not reach a client rewritten.
  std::string_view line = buf_.bytes();  // "HTTP/1.x " starts the head
  if (line.size() < 13 || !allDigits(line.substr(9, 3)) || (line[12] != ' ' && line[12] != '\r') ||
      head_.status < 100 || head_.status > 599) {
    error_ = "invalid status code";
    return false;
  }
  head_.version_minor = minor;
  head_.reason = buf_.view(buf_.first());
  buf_.build(head_.headers);

  const Header* content_length = nullptr;
  uint64_t length = 0;
  bool bad = false, has_te = false;
  for (const Header& h : head_.headers) {
    has_te |= h.id == HeaderId::kTransferEncoding;
    if (h.id != HeaderId::kContentLength) continue;
    if (content_length != nullptr || !parseContentLength(h.value, &length)) bad = true;
    content_length = &h;
  }
  // Most responses have none: no second pass over their headers then.
  const TransferCodings te = has_te ? readTransferCodings(head_.headers) : TransferCodings{};
  ConnectionOptions options = ConnectionOptions::from(head_.headers);
  // Only a plain "chunked" coding is passed on: anything else could be framed differently
  // by the client than by us.
  if (bad || (te.present && (!te.loneChunked() || content_length != nullptr))) {
    error_ = "invalid response framing";
    return false;
  }
  // Where llhttp read it otherwise (`chunked<TAB>` makes a response close-delimited for it),
  // the client would get the backend's chunk framing as body data, re-chunked and complete.
  if (!llhttpFramingAgrees(parser_, te.present, content_length != nullptr ? &length : nullptr)) {
    error_ = "response framing disagreement";
    return false;
  }
  head_.content_length = length;
  uint16_t status = head_.status;
  bool no_body = head_request_ || status / 100 == 1 || status == 204 || status == 304;
  if (no_body) {
    head_.framing = BodyFraming::kNone;
  } else if (te.present) {
    head_.framing = BodyFraming::kChunked;
  } else if (content_length != nullptr) {
    head_.framing = BodyFraming::kContentLength;
  } else {
    head_.framing = BodyFraming::kUntilClose;
  }
  // An HTTP/1.0 message with Transfer-Encoding has faulty framing: its body is taken as
  // chunked, but the connection is closed after it (RFC 9112 6.1), whatever Connection says.
  head_.keep_alive = !options.close && (minor == 1 || options.keep_alive) &&
                     head_.framing != BodyFraming::kUntilClose && !(minor == 0 && te.present);
  return true;
}

int ResponseParser::onMessageBegin(llhttp_t* p) {
  self(p)->in_head_ = true;  // the head buffer was reset by feed
  return 0;
}

int ResponseParser::onStatus(llhttp_t* p, const char* at, size_t length) {
  self(p)->buf_.appendFirst(at, length);
  return 0;
}

int ResponseParser::onTrailerBytes(llhttp_t* p, const char*, size_t length) {
  ResponseParser* r = self(p);
  if ((r->head_bytes_ += length) > kMaxHeadBytes) {  // trailers: dropped, but bounded
    r->failed_ = true;
    r->error_ = "response trailers too large";
    return HPE_USER;
  }
  return 0;
}

int ResponseParser::chunkExtensionBytes(size_t) {
  // Dropped, but bounded: one name or value at most as large as a head.
  return ext_part_.length > kMaxHeadBytes ? refuseChunkLine("chunk extension too large") : 0;
}

int ResponseParser::refuseChunkLine(const char* why) {
  failed_ = true;
  error_ = why;
  return HPE_USER;
}

int ResponseParser::onHeadersComplete(llhttp_t* p) {
  ResponseParser* r = self(p);
  recordHeadVerdict(&r->verdict_, *p);
  r->in_head_ = false;
  r->useSettings(false);  // header fields from here on are trailers
  if (!r->finishHead()) {
    r->failed_ = true;
    return HPE_USER;
  }
  uint16_t status = r->head_.status;
  if (status == 101) {
    if (!r->upgrade_requested_) {
      r->failed_ = true;
      r->error_ = "101 to a request that did not ask to upgrade";
      return HPE_USER;
    }
    if (!isWebSocketUpgrade(r->head_.headers)) {
      // A switch to some other protocol than the one asked for: the client would get a
      // tunnel it cannot speak (or one that smuggles requests past the proxy).
      r->failed_ = true;
      r->error_ = "101 without Upgrade: websocket";
      return HPE_USER;
    }
    r->upgrade_ = true;
    r->head_done_ = true;
    if (r->sink_ != nullptr) r->sink_->onResponseHead(r->head_);
    return HPE_PAUSED;  // the rest of the bytes belong to the tunnel
  }
  if (status / 100 == 1) {
    if (p->http_minor == 0) {
      // HTTP/1.0 has no interim responses, and llhttp takes one for a message after which
      // the connection closes: refused here, before the client is sent anything of it,
      // rather than relayed and followed by a 502 for the final response behind it.
      r->failed_ = true;
      r->error_ = "1xx response from an HTTP/1.0 server";
      return HPE_USER;
    }
    if (r->sink_ != nullptr) r->sink_->onInformational(r->head_);
    return 1;
  }
  r->head_done_ = true;
  if (r->sink_ != nullptr) r->sink_->onResponseHead(r->head_);
  return r->head_.framing == BodyFraming::kNone ? 1 : 0;
}

int ResponseParser::onBody(llhttp_t* p, const char* at, size_t length) {
  ResponseParser* r = self(p);
  if (r->sink_ != nullptr) r->sink_->onResponseBody(at, length);
  return 0;
}

int ResponseParser::onMessageComplete(llhttp_t* p) {
  ResponseParser* r = self(p);
  if (!r->head_done_) {
    // An interim 1xx ended: the final response follows on the same connection.
    r->scanner_.reset();
    r->head_bytes_ = 0;
    r->in_head_ = true;
    r->useSettings(true);
    return 0;
  }
  r->complete_ = true;
  return HPE_PAUSED;
}

}  // namespace fulcrum::http
