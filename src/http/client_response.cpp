// ClientSession: the backend's response, the proxy's own errors, logging and the tunnel.
#include <algorithm>

#include "fulcrum/core/access_log.h"
#include "fulcrum/core/log.h"
#include "fulcrum/core/splice_pipe.h"
#include "fulcrum/http/client_session.h"
#include "fulcrum/http/error_response.h"
#include "fulcrum/http/http_date.h"
#include "fulcrum/http/wire_format.h"

namespace fulcrum::http {

namespace {
uint64_t micros(uint64_t from_us, uint64_t to_us) { return to_us > from_us ? to_us - from_us : 0; }
}  // namespace

void ClientSession::onUpstreamData(UpstreamConnection& c, core::Buffer& read, size_t length) {
  if (phase_ != Phase::kExchange) return;
  const char* data = read.data;
  progress();
  responseStarted();
  upstream_read_ = &read;  // body pieces are written from it (onResponseBody)
  ResponseParser::Result r = response().feed(data, length, this);
  upstream_read_ = nullptr;
  switch (r.status) {
    case ResponseParser::Status::kNeedMore:
      client_writer_.flush();
      // Backpressure: the client is slower than the backend.
      if (client_writer_.aboveHighWatermark() && upstream_ != nullptr) upstream_->stopReading();
      maybeSplice();
      return;
    case ResponseParser::Status::kComplete:
      if (r.consumed < length) ex().upstream_reusable = false;  // bytes nobody asked for
      onResponseDone();
      return;
    case ResponseParser::Status::kUpgrade:
      if (!ex().request_done) {
        // An upgrade request with a body still streaming: the tunnel would carry the rest of
        // the body unframed. Refused rather than guessed at.
        failExchange(502, "101 before the request body ended");
        return;
      }
      startTunnel(data + r.consumed, length - r.consumed);
      return;
    case ResponseParser::Status::kError:
      log::debug("http {}: bad response from {}: {}", listener_->config->name,
                 ex().member->address(), response().error());
      // On a reused connection, bytes that are no status line may be left over from the
      // exchange before: a body after a HEAD, 204 or 304 answer (which has none) that came
      // after the connection went back to the pool. The request is sent once more on a fresh
      // connection when that can do no harm, as HAProxy's retry-on junk-response does, rather
      // than answering 502 for the backend's earlier mistake.
      if (response().failedBeforeStatusLine() && retryOnFreshConnection(c)) return;
      failExchange(502, response().error());
      return;
  }
}

void ClientSession::responseStarted() {
  if (ex().response_started) return;
  ex().response_started = true;
  arm(Wait::kStream, ex().pool->config().timeouts.idle);
}

void ClientSession::onInformational(const ResponseHead& head) {
  // A 1xx is not the answer: timeouts.response runs again for the final head (a backend that
  // sends 103 Early Hints and then hangs gets its 504 on time, not after timeouts.idle).
  // During an upload the upload's own waits stay (onRequestDone arms this one after it).
  if (ex().request_done) {
    ex().response_started = false;
    arm(Wait::kResponse, ex().pool->config().timeouts.response);
  }
  // 1xx responses are passed to HTTP/1.1 clients (a proxy MUST, RFC 9110 15.2), but a client
  // whose Expect the proxy answered with its own 100 (see attachUpstream) gets no second one.
  if ((head.status == 100 && ex().continue_sent) || parser().head().version_minor == 0 ||
      ex().head_sent)
    return;
  scratch_.clear();
  ResponseForwarding fwd;
  writeResponseHead(head, fwd, scratch_);
  client_writer_.append(scratch_.data(), scratch_.size());
}

void ClientSession::onResponseHead(const ResponseHead& head) {
  uint64_t now = eventUs();
  responseStarted();  // again when the final head came in the read of a 1xx
  ex().status = head.status;
  ex().first_byte_us = now;
  metrics::BackendCell& bc = ex().pool->backend_stats[ex().member->index]->cell(worker().id());
  bc.upstream_requests.add(head.status);
  bc.response.observe(static_cast<double>(micros(ex().upstream_sent_us, now)) / 1e6);
  const RequestHead& req = parser().head();
  if (!head.keep_alive) ex().upstream_reusable = false;
  if (upstream_ != nullptr) upstream_->limitReads(0);  // the body: whole buffers

  ResponseForwarding fwd;
  fwd.client_minor = req.version_minor;
  fwd.head_request = req.is_head;
  if (listener_->config->headers.request_id) fwd.request_id = ex().request_id;
  fwd.set_cookie = state().set_cookie;
  fwd.date = httpDateNow(now);
  if (head.status == 101) {
    // Kept in scratch_ until startTunnel hands it to the pump.
    scratch_.clear();
    writeResponseHead(head, fwd, scratch_);
    return;
  }
  switch (head.framing) {
    case BodyFraming::kNone:
      ex().out_framing = BodyFraming::kNone;
      break;
    case BodyFraming::kContentLength:
      ex().out_framing = BodyFraming::kContentLength;
      fwd.content_length = head.content_length;
      break;
    case BodyFraming::kChunked:
    case BodyFraming::kUntilClose:
      // Re-chunked for HTTP/1.1 clients (so the connection survives an until-close body);
      // an HTTP/1.0 client reads until we close.
      ex().out_framing = req.version_minor == 1 ? BodyFraming::kChunked : BodyFraming::kUntilClose;
      break;
  }
  // Still reading the request body: where the next request would start is unknown.
  if (ex().out_framing == BodyFraming::kUntilClose || !ex().request_done || draining_ ||
      worker().draining())
    ex().close_after = true;
  fwd.keep_alive = !ex().close_after;
  fwd.framing = ex().out_framing;
  scratch_.clear();
  writeResponseHead(head, fwd, scratch_);
  client_writer_.append(scratch_.data(), scratch_.size());
  ex().head_sent = true;
}

void ClientSession::onResponseBody(const char* data, size_t length) {
  if (length == 0) return;
  // Large pieces go out from the upstream read buffer, without a copy (appendFrom copies when
  // there is none: upstream_read_ is set only while a read is being parsed).
  if (ex().out_framing == BodyFraming::kChunked) {
    char line[kMaxChunkSizeLine];
    client_writer_.append(line, static_cast<size_t>(writeChunkSizeLine(line, length) - line));
    client_writer_.appendFrom(upstream_read_, data, length);  // in one writev with the line
    client_writer_.append("\r\n", 2);
  } else {
    client_writer_.appendFrom(upstream_read_, data, length);
  }
}

void ClientSession::maybeSplice() {
  if (upstream_ == nullptr || upstream_->splicing() || client_writer_.queued() != 0) return;
  if (!ex().request_done || ex().out_framing != BodyFraming::kContentLength) return;
  if (response().lengthBodyLeft() < kSpliceMinBytes) return;
  if (core::SplicePipe::local() == nullptr) return;
  upstream_->setSplice(true);
}

void ClientSession::onUpstreamReadable(UpstreamConnection& c) {
  core::SplicePipe* pipe = core::SplicePipe::local();
  const uint64_t left = response().lengthBodyLeft();
  if (phase_ != Phase::kExchange || &c != upstream_ || pipe == nullptr || left == 0 ||
      client_writer_.queued() != 0) {
    c.setSplice(false);  // the next turn reads the socket as usual
    return;
  }
  uv_os_fd_t to = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(client_), &to);
  progress();
  const core::SplicePipe::Moved m = pipe->move(c.fd(), to, std::min(left, pipe->capacity()));
  // The body's last byte may go too: the parser is then told (skipRestOfBody) rather than
  // given it, which saves the client a one-byte segment after the rest.
  const bool whole = m.in == left;
  response().skipBody(whole ? m.in - 1 : m.in);
  client_writer_.countWrittenBeside(m.out);
  if (m.dest_error != 0) {
    onWriterError(client_writer_, m.dest_error);  // the client went away
    return;
  }
  if (m.out < m.in) {
    // The client is slower than the backend: the writer holds what it did not take, and
    // waits for it (backpressure, client_idle) as for any body.
    client_writer_.appendPipeRest(*pipe);
    c.setSplice(false);
    if (!whole && client_writer_.aboveHighWatermark()) c.stopReading();
  }
  if (whole) {
    endSplicedBody(c);
    return;
  }
  if (m.source_error != 0) {
    c.readFailed(m.source_error);  // a reset: not the EOF a read after it would find
    return;
  }
  // EOF: a plain read reports it (onUpstreamClosed) on the next turn.
  if (m.source_done) c.setSplice(false);
}

void ClientSession::endSplicedBody(UpstreamConnection& c) {
  c.setSplice(false);
  if (response().skipRestOfBody().status != ResponseParser::Status::kComplete) {
    cutResponse();  // cannot happen with a Content-Length body; never made to look complete
    return;
  }
  // Bytes after the body (more than the Content-Length said) or the backend's close: not
  // reused, as when they come in the same read as the body's end.
  if (c.hasPendingInput()) ex().upstream_reusable = false;
  onResponseDone();
}

void ClientSession::onResponseDone() {
  if (ex().out_framing == BodyFraming::kChunked) client_writer_.append("0\r\n\r\n", 5);
  // A connection that closes next leaves its last bytes to closeAfterFlush, which sends them
  // with the FIN.
  if (!closesAfterExchange()) client_writer_.flush();
  ex().response_done = true;
  releaseMember(ex().status >= 500, micros(ex().upstream_sent_us, ex().first_byte_us),
                /*answered=*/true);
  // Reused only after a complete response that allows it, with the request fully sent. An
  // upgrade request that was refused (no 101) may have left the backend expecting a tunnel
  // (servers hand the socket to their upgrade handler before answering): never reused.
  dropUpstream(ex().upstream_reusable && ex().request_done && !parser().head().upgrade);
  finishExchange();
}

void ClientSession::finishExchange() {
  recordRequest(ex().status);
  reportBytesSent();
  writeAccessLog(ex().status);
  arm(Wait::kNone, {});
  if (closesAfterExchange()) {
    // A backend that answered before the request body was all read (an early 413 or 401):
    // the rest of the body is still coming, so linger.
    closeAfterFlush(!ex().request_done);
  } else {
    nextRequest();
  }
}

void ClientSession::nextRequest() {
  parser().nextMessage();
  request_bytes_ = 0;
  if (held_ == nullptr) {
    // Going idle: an idle keep-alive client keeps no parsers and no head memory (there may be
    // many); the next request's first byte takes a pair again.
    releaseState();
  } else {
    parser().shrink();
    response().shrink();
  }
  phase_ = Phase::kHead;
  refreshSnapshot();  // for client_idle; again at the next request's first byte
  // A pipelined request already held starts its client_header clock in processInput.
  arm(Wait::kIdle, listener_->config->timeouts.client_idle);
  processInput();
}

void ClientSession::failExchange(uint16_t status, const char* why) {
  if (attempt_ != nullptr) {
    core::cancelConnect(attempt_);
    attempt_ = nullptr;
  }
  // A request the backend had but gave no usable answer to (a timeout, a reset, a malformed
  // head) counts for it with the status the proxy made of that, as nginx's $upstream_status
  // shows it; one with a response head was counted at the head (onResponseHead).
  if (status >= 500 && ex().upstream_sent_us != 0 && ex().first_byte_us == 0)
    ex().pool->backend_stats[ex().member->index]->cell(worker().id()).upstream_requests.add(status);
  // The head and what spoiled the response came in one read: nothing has left yet, so the
  // client can still get a 502 rather than a connection cut without a word.
  if (ex().head_sent && client_writer_.retract(ex().bytes_out_start)) ex().head_sent = false;
  if (ex().head_sent) {
    // Too late for an answer of our own: cutting the connection is the only honest end.
    if (status >= 500) {
      releaseMember(true, 0);
    } else {
      abandonMember();
    }
    cutResponse();
    return;
  }
  // 5xx produced for a backend count against it (timeout, reset, bad response); a 4xx is
  // the client's doing.
  if (status >= 500) {
    releaseMember(true, micros(ex().upstream_sent_us, eventUs()));
  } else {
    abandonMember();
  }
  dropUpstream(false);
  if (finishRequestKeepingClient(status)) {
    // The request was read whole and nothing of a response went out: the client connection
    // is as clean as after any response, so it stays (nginx does the same). Closing it made
    // every 502 of a backend outage cost each keep-alive client a new connection.
    log::debug("http {}: {} {}", listener_->config->name, status, why);
    appendOwnResponse(status, /*close=*/false);
    client_writer_.flush();
    ex().response_done = true;
    finishExchange();
    return;
  }
  sendError(status, why);
}

void ClientSession::appendOwnResponse(uint16_t status, bool close) {
  ex().status = status;
  ErrorResponseOptions options;
  options.close = close;
  options.keep_alive = !close && parser().head().version_minor == 0;  // HTTP/1.0 must be told
  options.head_request = parser().methodIsHead();  // also when the head itself was refused
  options.date = httpDateNow(eventUs());
  if (listener_->config->headers.request_id) options.request_id = ex().request_id;
  // A 405 answers CONNECT, or a TRACE at Max-Forwards 0; a 200, an OPTIONS at Max-Forwards 0.
  if (status == 405 || status == 200)
    options.allow = parser().head().method == "TRACE" ? kAllowButTrace : kAllowForwarded;
  scratch_.clear();
  writeErrorResponse(status, options, scratch_);
  client_writer_.append(scratch_.data(), scratch_.size());
  ex().head_sent = true;
}

bool ClientSession::finishRequestKeepingClient(uint16_t status) {
  // Only answers about the backend side (a 4xx is about the client's input: it closes), and
  // only while the client may go on.
  if ((status != 502 && status != 503 && status != 504) || !ex().has_head ||
      (phase_ != Phase::kConnecting && phase_ != Phase::kExchange) || ex().close_after ||
      draining_ || worker().draining() || client_eof_)
    return false;
  // A client that asked to switch protocols (WebSocket, h2c) may send the new protocol's
  // bytes next: they are not read as HTTP requests.
  if (parser().head().upgrade || parser().head().find(HeaderId::kUpgrade) != nullptr) return false;
  if (ex().request_done) return true;
  // The rest of the request, when it has all arrived, is read and dropped (a request without
  // a body ends with its head): the next request starts after it. A body still on its way
  // would sit where the next request should start, so that connection closes (and bounds
  // what is read here to one buffer).
  const char* data = held_ != nullptr ? held_->data + held_off_ : nullptr;
  size_t length = held_ != nullptr ? held_len_ : 0;
  RequestParser::Result r = parser().feed(data, length, nullptr);
  if (held_ != nullptr) consumeHeld(r.consumed);
  request_bytes_ += r.consumed;
  if (r.status != RequestParser::Status::kMessageComplete) return false;
  ex().request_done = true;
  return true;
}

void ClientSession::sendError(uint16_t status, const char* why) {
  log::debug("http {}: {} {}", listener_->config->name, status, why);
  if (!ex().has_head || phase_ == Phase::kHead) {
    // A parse error or a timeout before any head: no route yet.
    ex() = Exchange{};
    ex().started_us = head_started_us_ != 0 ? head_started_us_ : eventUs();
    ex().bytes_out_start = client_writer_.bytesAppended();
    // Returned like any request's (the client's own when its head got that far), so a
    // refused one can be found in the logs too.
    if (listener_->config->headers.request_id)
      ex().request_id = effectiveRequestId(parser().head(), generateRequestId());
  }
  appendOwnResponse(status, /*close=*/true);
  recordRequest(status);
  writeAccessLog(status);
  // An error before the request was read whole: the client may still be sending (the body of
  // a 413, the rest of a bad head). A timeout's client is not sending: no reason to linger.
  closeAfterFlush(status != 408);
}

void ClientSession::reportBytesSent() {
  // Per exchange, so the counter follows keep-alive traffic and not only closed connections.
  if (metrics::ListenerCell* cell = slot_.cell()) {
    uint64_t written = client_writer_.bytesOnWire();
    cell->bytes_sent.add(written - bytes_sent_reported_);
    bytes_sent_reported_ = written;
  }
}

void ClientSession::recordRequest(uint16_t status) {
  ex().recorded = true;
  const core::RouteRuntime* route = ex().route != nullptr ? ex().route : &listener_->default_route;
  if (!route->stats) return;
  metrics::RouteCell& cell = route->stats->cell(worker().id());
  cell.requests.add(status);
  cell.duration.observe(static_cast<double>(micros(ex().started_us, eventUs())) / 1e6);
}

void ClientSession::writeAccessLog(uint16_t status, bool closing) {
  core::AccessLog& log = worker().accessLog();
  if (!log.enabled()) return;
  core::AccessLogEntry e;
  // The wall-clock start is derived at log time: no system clock read per request when the
  // access log is off.
  auto elapsed = std::chrono::microseconds(micros(ex().started_us, eventUs()));
  e.time = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
      std::chrono::system_clock::now() - elapsed);
  e.listener = listener_->config->name;
  e.client = clientAddr();
  // Whatever of the request was parsed (a head refused at its end still has its request
  // line); bytes in, like bytes out, are the bytes on the wire, head and chunk framing
  // included, as nginx's $request_length counts them.
  e.method = parser().loggedMethod();
  e.path = parser().loggedTarget();
  e.bytes_in = request_bytes_;
  e.status = status;
  e.bytes_out = client_writer_.bytesAppended() - ex().bytes_out_start;
  // A connection closing now drops what its writer still holds (the newest bytes, this
  // exchange's first): they never reach the wire, and the log says what did, as the
  // fulcrum_bytes_sent_total counter and nginx's $bytes_sent do.
  if (closing) {
    e.bytes_out -= std::min<uint64_t>(
        e.bytes_out, client_writer_.bytesAppended() - client_writer_.bytesOnWire());
  }
  if (pump_ != nullptr) {
    // A tunnel is logged when it ends, as nginx and HAProxy do: with what it carried both
    // ways (the 101 head included) and how long it lived.
    e.bytes_in += pump_->bytesToUpstream();
    e.bytes_out += pump_->bytesToDownstream();
  }
  e.duration = elapsed;
  const core::PoolRuntime* pool = ex().pool;
  if (pool == nullptr) pool = &ws_->snapshot->pools[listener_->default_route.pool];
  e.pool = pool->pool().name();
  if (ex().member != nullptr) e.backend = ex().member->address();
  e.request_id = ex().request_id;
  if (ex().first_byte_us != 0)
    e.upstream_time = std::chrono::microseconds(micros(ex().upstream_sent_us, ex().first_byte_us));
  log.write(e);
}

void ClientSession::startTunnel(const char* upstream_rest, size_t length) {
  // The 101 head sits in scratch_ (onResponseHead). Both sockets go to the byte pump; what
  // was already read beyond the two heads belongs to the tunnel.
  phase_ = Phase::kTunnel;
  arm(Wait::kNone, {});
  ex().response_done = true;
  ex().member->state->recordAnswer(micros(ex().upstream_sent_us, ex().first_byte_us), false,
                                   static_cast<int64_t>(eventUs() / 1000));
  recordRequest(101);  // the access log line is written when the tunnel ends (onPumpClosed)
  splice_request_ = false;
  if (reading_) {
    reading_ = false;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(client_));
  }
  client_writer_.flush();
  reportBytesSent();  // what this connection carried as HTTP
  client_writer_.detach();
  UpstreamConnection* c = upstream_;
  upstream_ = nullptr;
  uv_tcp_t* up = c->release();  // frees itself once its queued writes have called back
  uv_tcp_t* down = client_;
  client_ = nullptr;
  --open_handles_;  // the client socket is the pump's now
  l4::PumpObserver* observer = this;
  pump_ = std::make_unique<l4::BytePump>(worker(), down, up,
                                         ex().pool->config().websocket_idle_timeout, observer);
  // Counted before the 101 goes out: a client that has its 101 finds its tunnel in /metrics.
  if (metrics::ListenerCell* cell = slot_.cell()) cell->websocket_tunnels_active.add(1);
  pump_->pushToDownstream(scratch_.data(), scratch_.size());
  if (length > 0) pump_->pushToDownstream(upstream_rest, length);
  // The pump counts these as sent once written, as every byte it sends the client (onPumpBytes).
  if (held_ != nullptr) {
    pump_->pushToUpstream(held_->data + held_off_, held_len_);
    worker().buffers().release(held_);
    held_ = nullptr;
  }
  pump_->start();
}

void ClientSession::onPumpBytes(bool to_upstream, size_t bytes) {
  metrics::ListenerCell* cell = slot_.cell();
  if (cell == nullptr) return;
  if (to_upstream) {
    cell->bytes_received.add(bytes);
  } else {
    cell->bytes_sent.add(bytes);
  }
}

void ClientSession::onPumpClosed(l4::CloseReason reason) {
  log::debug("http {}: tunnel to {} closed: {}", listener_->config->name, ex().member->address(),
             l4::closeReasonName(reason));
  writeAccessLog(101);
  if (metrics::ListenerCell* cell = slot_.cell()) cell->websocket_tunnels_active.add(-1);
  if (ex().acquired) {
    ex().acquired = false;
    ex().member->state->release();
  }
  // The pump is destroyed with this session, after this callback returns (the timer's close
  // callback frees us on a later loop turn).
  phase_ = Phase::kClosing;
  if (timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) {
      auto* self = static_cast<ClientSession*>(h->data);
      self->timer_ = nullptr;  // embedded in the session
      self->onHandleClosed();
    });
  }
}

}  // namespace fulcrum::http
