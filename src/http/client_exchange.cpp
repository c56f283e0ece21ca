// ClientSession: routing, backend choice, the upstream connection and the request body.
#include <algorithm>
#include <memory>

#include "fulcrum/core/log.h"
#include "fulcrum/core/splice_pipe.h"
#include "fulcrum/core/uv_util.h"
#include "fulcrum/http/client_session.h"
#include "fulcrum/http/error_response.h"
#include "fulcrum/http/request_keys.h"
#include "fulcrum/http/router.h"

namespace fulcrum::http {

namespace {

// Worker-local request-id source, seeded once per worker thread.
RequestIdGenerator& idGenerator(core::Worker& worker) {
  static thread_local std::unique_ptr<RequestIdGenerator> generator;
  if (!generator) generator = std::make_unique<RequestIdGenerator>(worker.randomSeed());
  return *generator;
}

bool hasBody(const RequestHead& h) {
  return h.framing == BodyFraming::kChunked ||
         (h.framing == BodyFraming::kContentLength && h.content_length > 0);
}

// What the proxy may send again on a fresh connection when the pooled one it went out on
// closes without an answer: the backend may have read it, and acted on it, before closing. So
// nothing of it must be lost by then (no body), and acting on it twice must be harmless: an
// idempotent method (RFC 9110 9.2.2, "a proxy MUST NOT automatically retry non-idempotent
// requests"). nginx and HAProxy keep the same rule; a POST or PATCH gets the 502 instead.
bool resendable(const RequestHead& h) { return h.idempotent && !hasBody(h); }

uint64_t micros(uint64_t from_us, uint64_t to_us) { return to_us > from_us ? to_us - from_us : 0; }

}  // namespace

void ClientSession::beginExchange() {
  ex() = Exchange{};
  const RequestHead& head = parser().head();
  ex().has_head = true;
  ex().started_us = head_started_us_ != 0 ? head_started_us_ : eventUs();
  ex().bytes_out_start = client_writer_.bytesAppended();
  ex().route = &selectRoute(*listener_, head.host, head.target);
  ex().pool = &ws_->snapshot->pools[ex().route->pool];
  if (listener_->config->headers.request_id) {
    idGenerator(worker()).next(state().generated_id);
    ex().request_id = effectiveRequestId(head, {state().generated_id, sizeof state().generated_id});
  } else if (const Header* id = head.find(HeaderId::kXRequestId)) {
    ex().request_id = id->value;
  }
  ex().close_after = !head.keep_alive || draining_ || worker().draining();
  arm(Wait::kNone, {});
  phase_ = Phase::kConnecting;
  pickAndConnect();
}

std::string_view ClientSession::generateRequestId() {
  idGenerator(worker()).next(state().generated_id);
  return {state().generated_id, sizeof state().generated_id};
}

std::string_view ClientSession::stickyToken() const {
  const config::StickyConfig& sticky = ex().pool->config().sticky;
  if (sticky.mode != config::StickyMode::kCookie) return {};
  // Of several cookies of that name, the one that names a backend of this pool.
  const balancer::PoolBalancer& balancer = *ex().pool->balancer;
  return findCookie(parser().head(), sticky.cookie,
                    [&](std::string_view v) { return balancer.findByCookie(v) != nullptr; })
      .value_or(std::string_view());
}

void ClientSession::pickAndConnect() {
  const core::PoolRuntime& pool = *ex().pool;
  // uv_hrtime and steady_clock are both CLOCK_MONOTONIC: the event's reading serves the pick
  // (a designated `now` also keeps PickContext from reading the clock again).
  balancer::PickContext ctx{
      .hash = requestHash(pool.config().hash_key, parser().head(), clientAddr()),
      .tried = &ex().tried,
      .now = balancer::MonotonicTime(std::chrono::microseconds(eventUs())),
      .client_addr = clientAddr(),
      .affinity_token = stickyToken(),
  };
  const upstream::PoolMember* member = ws_->picker(ex().route->pool).pick(ctx);
  if (member == nullptr) {
    // Nothing eligible at all: 503. Every eligible one failed to connect: 502.
    failExchange(ex().tried.size() == 0 ? 503 : 502, "no backend available");
    return;
  }
  if (ex().tried.size() > 0 && pool.stats) pool.stats->cell(worker().id()).retries.add();
  ex().tried.add(member->index);
  ex().member = member;
  member->state->acquire();
  ex().acquired = true;
  state().set_cookie.clear();
  if (pool.config().sticky.mode == config::StickyMode::kCookie) {
    std::string_view id = pool.balancer->cookieFor(*member);
    if (!id.empty() && id != ctx.affinity_token) {
      state().set_cookie.append(pool.config().sticky.cookie).append("=").append(id);
      state().set_cookie.append("; Path=/; HttpOnly");
    }
  }
  if (member != key_member_ || ws_.get() != key_snapshot_) {
    // The keep-alive pool's key, built in a worker-local string (only the list pointer is
    // kept), so a new connection does not allocate it.
    static thread_local std::string key;
    UpstreamPool::keyInto(key, pool.pool().name(), member->address());
    idle_list_ = UpstreamPool::list(key);
    key_member_ = member;
    key_snapshot_ = ws_.get();
  }
  connectTo(*member, true);
}

void ClientSession::connectTo(const upstream::PoolMember& member, bool allow_pooled) {
  if (allow_pooled) {
    if (UpstreamConnection* c = UpstreamPool::take(idle_list_, !resendable(parser().head()))) {
      attachUpstream(c);
      return;
    }
  }
  attempt_ = core::startConnect(worker().loop(), member.config->address.sockAddr(),
                                ex().pool->config().timeouts.connect, this);
}

void ClientSession::onConnected(uv_tcp_t* handle) {
  attempt_ = nullptr;
  if (phase_ != Phase::kConnecting) {
    core::closeAndDelete(handle);
    return;
  }
  core::tuneSocket(handle);
  attachUpstream(new UpstreamConnection(worker(), handle));
}

void ClientSession::onConnectFailed(int status) {
  attempt_ = nullptr;
  if (phase_ != Phase::kConnecting) return;
  log::debug("http {}: connect to {} failed: {}", listener_->config->name, ex().member->address(),
             uv_strerror(status));
  ex().pool->backend_stats[ex().member->index]->cell(worker().id()).connect_failures.add();
  releaseMember(true, static_cast<uint64_t>(ex().pool->config().timeouts.connect.count()) * 1000);
  pickAndConnect();  // the next eligible backend; the tried set rules out this one
}

void ClientSession::attachUpstream(UpstreamConnection* c) {
  upstream_ = c;
  c->setUser(this);
  c->countUse();
  const RequestHead& head = parser().head();
  response().expect(head.is_head, head.upgrade);
  c->limitReads(kHeadReadBytes);  // until the response head: see maybeSplice
  const config::ListenerConfig& lc = *listener_->config;
  RequestForwarding fwd;
  fwd.client_ip = client_ip_;
  // What the client's connection is: plain text, also on a listener with `tls:` set, whose
  // termination is not built yet (and ignored with a warning). Saying https there would let a
  // backend mark cookies Secure or skip its redirect to https for a request that came in clear.
  fwd.tls = false;
  fwd.forwarded = lc.headers.forwarded;
  fwd.add_request_id = lc.headers.request_id;
  fwd.new_request_id = ex().request_id;
  fwd.fallback_host = ex().member->address();
  scratch_.clear();
  writeRequestHead(head, fwd, scratch_);
  // Not flushed yet: processInput() below checks the body bytes already read first.
  c->writer().append(scratch_.data(), scratch_.size());
  phase_ = Phase::kExchange;
  ex().upstream_sent_us = eventUs();
  c->startReading();
  // Expect: 100-continue is answered by the proxy once a backend is there to take the body
  // (the Expect header itself is not forwarded).
  if (head.expect_continue && hasBody(head) && !ex().continue_sent) {
    ex().continue_sent = true;
    client_writer_.append(kContinueResponse.data(), kContinueResponse.size());
    client_writer_.flush();
  }
  // While the body streams, a stall may be the backend's (the pool's idle) or the client's
  // (the listener's client_idle): the timer fires at the shorter, and uploadStalled() tells.
  const auto& timeouts = ex().pool->config().timeouts;
  arm(Wait::kStream, ex().request_done
                         ? timeouts.idle
                         : std::min(timeouts.idle, listener_->config->timeouts.client_idle));
  // Forwards held body bytes (or completes a request without a body) and flushes. When this
  // runs inside processInput (a pooled connection), the outer loop does it.
  processInput();
  // A retry on a fresh connection after a stale pooled one: the request was complete already,
  // so processInput() had nothing left to feed. Send the re-written head and await the answer.
  if (ex().request_done && upstream_ == c && phase_ == Phase::kExchange) {
    c->writer().flush();
    if (!ex().response_started) arm(Wait::kResponse, ex().pool->config().timeouts.response);
  }
}

void ClientSession::onBodyBytes(const char* data, size_t length) {
  progress();
  // Body bytes are parsed from held_, which stays held (the rest of it may be the next request).
  if (upstream_ != nullptr) upstream_->writer().appendFrom(held_, data, length);
}

void ClientSession::maybeSpliceRequest() {
  if (splice_request_ || ex().request_done || held_ != nullptr || upstream_ == nullptr) return;
  if (upstream_->writer().queued() != 0 || parser().lengthBodyLeft() < kSpliceMinBytes) return;
  if (core::SplicePipe::local() == nullptr) return;
  splice_request_ = true;
}

void ClientSession::onClientReadable() {
  core::SplicePipe* pipe = core::SplicePipe::local();
  const bool uploading = phase_ == Phase::kExchange && !ex().request_done;
  const uint64_t left = uploading ? parser().lengthBodyLeft() : 0;
  if (pipe == nullptr || left == 0 || upstream_ == nullptr || upstream_->writer().queued() != 0) {
    splice_request_ = false;  // the next turn reads the socket as usual
    return;
  }
  uv_os_fd_t from = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(client_), &from);
  const core::SplicePipe::Moved m =
      pipe->move(from, upstream_->fd(), std::min(left, pipe->capacity()));
  if (m.in > 0) {
    progress();
    if (metrics::ListenerCell* cell = slot_.cell()) cell->bytes_received.add(m.in);
    request_bytes_ += m.in;
  }
  const bool whole = m.in == left;
  // The body's last byte may go too: the parser is then told (skipRestOfBody).
  if (!whole) parser().skipBody(m.in);
  upstream_->writer().countWrittenBeside(m.out);
  if (m.dest_error != 0) {
    upstream_->writeFailed(m.dest_error);  // the backend went away (onUpstreamWriteError)
    return;
  }
  if (m.out < m.in) {
    // The backend takes the body slower than the client sends it: the writer holds what its
    // socket did not take, and its backpressure stops reading the client until it drains.
    upstream_->writer().appendPipeRest(*pipe);
    splice_request_ = false;
  }
  if (whole) {
    splice_request_ = false;
    if (parser().skipRestOfBody().status != RequestParser::Status::kMessageComplete) {
      failExchange(400, "request body did not end");  // cannot happen with Content-Length
      return;
    }
    onRequestDone();
    processInput();  // a pipelined next request waits in the socket, as after a read body
    return;
  }
  if (m.source_error != 0) {
    closeNow();  // a reset mid-request: as onClientRead does for one
    return;
  }
  // EOF: a plain read reports it (onClientRead) on the next turn.
  if (m.source_done) splice_request_ = false;
  if (!splice_request_) updateClientRead();
}

void ClientSession::onRequestDone() {
  ex().request_done = true;
  ex().unsent_at_check = 0;  // the upload's checks are over (requestStillDelivering)
  if (!ex().response_started) arm(Wait::kResponse, ex().pool->config().timeouts.response);
}

void ClientSession::releaseMember(bool failure, uint64_t latency_us, bool answered) {
  if (!ex().acquired) return;
  ex().acquired = false;
  ex().member->state->release();
  const auto now_ms = static_cast<int64_t>(eventUs() / 1000);
  if (answered) {
    ex().member->state->recordAnswer(latency_us, failure, now_ms);
  } else {
    ex().member->state->recordResponse(latency_us, failure, now_ms);
  }
}

void ClientSession::abandonMember() {
  if (!ex().acquired) return;
  ex().acquired = false;
  ex().member->state->release();
}

void ClientSession::dropUpstream(bool reusable) {
  UpstreamConnection* c = upstream_;
  if (c == nullptr) return;
  upstream_ = nullptr;
  c->setUser(nullptr);
  if (reusable && !draining_ && ex().pool != nullptr) {
    const config::PoolConfig& pc = ex().pool->config();
    UpstreamPool::put(idle_list_, c, pc.max_idle_per_backend, pc.timeouts.idle);
  } else {
    c->close();
  }
}

void ClientSession::onUpstreamDrained(UpstreamConnection&) {
  progress();
  if (phase_ == Phase::kExchange) processInput();
}

void ClientSession::onUpstreamWriteError(UpstreamConnection& c, int status) {
  onUpstreamClosed(c, status);
}

void ClientSession::onUpstreamClosed(UpstreamConnection& c, int status) {
  upstream_ = nullptr;  // it is closing itself
  if (phase_ != Phase::kExchange) return;
  uint64_t now = eventUs();
  if (ex().response_started) {
    // A response delimited by the close ends here; any other is truncated, and the client
    // connection is cut so that it cannot look complete.
    if (status == UV_EOF && response().headDone() &&
        response().finish(this).status == ResponseParser::Status::kComplete) {
      ex().upstream_reusable = false;
      onResponseDone();
      return;
    }
    if (!ex().head_sent) {
      // The head never ended: nothing of it reached the client, which gets a 502 like for a
      // backend that sent nothing (nginx and HAProxy answer the same).
      failExchange(502, "backend closed the connection before its response head ended");
      return;
    }
    log::debug("http {}: {} closed mid-response: {}", listener_->config->name,
               ex().member->address(), uv_strerror(status));
    releaseMember(true, micros(ex().upstream_sent_us, now));
    cutResponse();
    return;
  }
  // Nothing came back. A pooled connection the backend had just closed is replaced once by
  // a fresh one when sending the request again can do no harm (resendable); a new one that
  // closed says the backend is failing, and the request goes to the next backend.
  if (retryOnFreshConnection(c) || retryOnNextBackend(c)) return;
  failExchange(502, "backend closed the connection before responding");
}

bool ClientSession::retryOnNextBackend(const UpstreamConnection& c) {
  // Not a keep-alive race (retryOnFreshConnection): this connection carried nothing before, so
  // the backend was killed, crashed or reset it. A request that can do no harm sent twice
  // (RFC 9110 9.2.2) goes on as after a failed connect: to the next eligible backend, the
  // tried set ruling this one out, and a 502 when none is left (nginx's default
  // proxy_next_upstream error; HAProxy closes the client). The backend had the request and gave
  // no answer: counted for it as the 502 it would have been, and as a failure.
  if (c.uses() > 1 || !canSendAgain()) return false;
  ex().pool->backend_stats[ex().member->index]->cell(worker().id()).upstream_requests.add(502);
  releaseMember(true, micros(ex().upstream_sent_us, eventUs()));
  ex().upstream_sent_us = 0;  // counted: failExchange would count it again
  backToConnecting();
  pickAndConnect();
  return true;
}

bool ClientSession::canSendAgain() {
  return ex().request_done && !ex().head_sent && resendable(parser().head());
}

void ClientSession::backToConnecting() {
  dropUpstream(false);
  ex().response_started = false;
  phase_ = Phase::kConnecting;
  arm(Wait::kNone, {});
}

bool ClientSession::retryOnFreshConnection(const UpstreamConnection& c) {
  if (c.uses() <= 1 || ex().retried_fresh || !canSendAgain()) return false;
  ex().retried_fresh = true;
  // A retry like any other in the metrics: a backend whose keep-alive timeout is shorter than
  // the pool's timeouts.idle shows up there (the client saw nothing of it).
  if (ex().pool->stats) ex().pool->stats->cell(worker().id()).retries.add();
  backToConnecting();
  connectTo(*ex().member, false);
  return true;
}

}  // namespace fulcrum::http
