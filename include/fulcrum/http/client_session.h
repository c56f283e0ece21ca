#pragma once
// One client connection on an `http` listener (ARCHITECTURE.md "HTTP path"): parses requests
// one at a time (a pipelined next request waits, unread or held, until the current response
// is done), routes, picks a backend, borrows or opens an UpstreamConnection, streams the body
// both ways with backpressure and answers errors itself. A 101 turns both connections into
// an l4::BytePump tunnel. Worker-local; frees itself once its handles are closed.
//
// Split over client_session.cpp (I/O, timers, lifecycle), client_exchange.cpp (routing,
// backend choice, request forwarding) and client_response.cpp (response, errors, tunnel).

#include <netinet/in.h>
#include <uv.h>

#include <chrono>
#include <memory>
#include <string>

#include "fulcrum/core/connection_slot.h"
#include "fulcrum/core/session.h"
#include "fulcrum/core/tcp_connect.h"
#include "fulcrum/core/worker.h"
#include "fulcrum/http/exchange_state.h"
#include "fulcrum/http/header_rules.h"
#include "fulcrum/http/stream_writer.h"
#include "fulcrum/http/upstream_connection.h"
#include "fulcrum/l4/byte_pump.h"

namespace fulcrum::http {

class ClientSession final : public core::Session,
                            private WriterObserver,
                            private UpstreamUser,
                            private core::ConnectObserver,
                            private ResponseSink,
                            private BodySink,
                            private l4::PumpObserver {
 public:
  ClientSession(core::Worker& worker, core::WorkerSnapshotSharedPtr snapshot,
                core::AcceptedBy listener, uv_tcp_t* client, core::ConnectionSlot slot);
  // `deferred`: see startHttpSession.
  void start(bool deferred);
  void drain() override;
  void snapshotChanged() override;
  void forceClose() override;
  ~ClientSession() override;

 private:
  enum class Phase : uint8_t {
    kHead,        // reading / waiting for a request head
    kConnecting,  // head parsed, getting an upstream connection
    kExchange,    // request forwarded (body may still stream), response awaited or streaming
    kTunnel,      // upgraded: the byte pump owns both sockets
    kFlushing,    // last bytes to the client, then close (or linger)
    kLingering,   // answer sent and FIN sent: unread client bytes are read and dropped
    kClosing,     // handles closing; deleted when they are
  };
  enum class Wait : uint8_t { kNone, kHeader, kIdle, kResponse, kStream };

  // ---- client_session.cpp ----
  void updateClientRead();
  void onClientRead(ssize_t nread, const uv_buf_t* buf);
  void processInput();
  void consumeHeld(size_t n);
  void arm(Wait wait, std::chrono::milliseconds timeout);
  // A kStream wait lengthened to `timeout` from the last progress (not from now, as arm()).
  void extendStreamWait(std::chrono::milliseconds timeout);
  void progress() { last_progress_ = uv_now(worker().loop()); }
  // The worker's clock for this loop iteration (Worker::loopTimeUs): what a request costs
  // in clock reads is shared with every other event of the same poll.
  uint64_t eventUs() { return worker().loopTimeUs(); }
  void readFirstBytes();
  static void onTimer(uv_timer_t* timer);
  void onTimeout(Wait wait);
  // `linger`: the client may still be sending (an error before its request was read whole, or
  // bytes after it): once the answer is out, half-close and read what comes for a bounded
  // time before closing, so the close is not a reset that destroys the unread answer.
  void closeAfterFlush(bool linger = false);
  void flushed();  // kFlushing and nothing left to write: linger or close
  void startLingering();
  void onLingerRead(ssize_t nread, const uv_buf_t* buf);
  void closeNow();
  // A response that cannot be finished: the client connection is cut so that it never looks
  // complete (closeNow, with a reset where a FIN would read as the end of the body).
  void cutResponse();
  // An exchange that ends without an answer of its own (cut by the backend, the client gone,
  // a timeout mid-response) is still counted and logged, with the status the client got.
  void recordUnfinished();
  void onHandleClosed();
  // Before a request's first byte: the newest configuration for it (routes, pools, header
  // rules, limits and timeouts), so that one request runs under one config generation.
  void refreshSnapshot();
  // The request in progress (exchange_state.h): taken at its first byte by any of these,
  // given back when the connection goes idle (releaseState()).
  ExchangeState& state() {
    if (state_ == nullptr) [[unlikely]]
      takeState();
    return *state_;
  }
  void takeState();
  RequestParser& parser() { return state().request; }
  ResponseParser& response() { return state().response; }
  Exchange& ex() { return state().exchange; }
  // Mid-request only.
  const RequestParser& parser() const { return state_->request; }
  const Exchange& ex() const { return state_->exchange; }
  RequestLimits requestLimits() const;
  // No byte of a next request yet (an idle keep-alive connection holds no request state).
  bool betweenRequests() const { return state_ == nullptr || state_->request.idle(); }
  void releaseState();
  void onWriterDrained(StreamWriter& writer) override;
  void onWriterError(StreamWriter& writer, int status) override;
  const sockaddr* clientAddr() const;
  static std::string& workerScratch();

  // ---- client_exchange.cpp ----
  void beginExchange();
  void pickAndConnect();
  void connectTo(const upstream::PoolMember& member, bool allow_pooled);
  void onConnected(uv_tcp_t* handle) override;
  void onConnectFailed(int status) override;
  void attachUpstream(UpstreamConnection* c);
  void onBodyBytes(const char* data, size_t length) override;
  // The upload's mirror of maybeSplice: a Content-Length request body with kSpliceMinBytes or
  // more left, nothing held from the client and nothing queued for the backend goes from the
  // client's socket to the backend's by splice(2) (onClientReadable), its last byte too (the
  // parser is told, skipRestOfBody). Off again whenever the backend's socket is full (what it
  // did not take goes through the writer, whose backpressure stops reading the client).
  void maybeSpliceRequest();
  void onClientReadable();
  void onRequestDone();
  // `answered`: the backend's response head came `latency_us` after the request (not a
  // timeout, reset or connect failure folded as one).
  void releaseMember(bool failure, uint64_t latency_us, bool answered = false);
  // Lets go of the backend without a sample (the client, not the backend, ended it).
  void abandonMember();
  // A resendable request whose reused connection failed before any answer went to the
  // client is sent once more on a fresh connection to the same backend; false when it may not.
  bool retryOnFreshConnection(const UpstreamConnection& c);
  // A resendable request whose new connection closed before any answer (the backend died or
  // is failing) goes to the next eligible backend, as after a failed connect; false when it
  // may not.
  bool retryOnNextBackend(const UpstreamConnection& c);
  // Both retries' common rule: the request went whole, nothing of an answer reached the
  // client, and sending it twice can do no harm (no body, an idempotent method).
  bool canSendAgain();
  // The failed attempt's connection goes, and the request waits for its next one.
  void backToConnecting();
  void dropUpstream(bool reusable);
  void onUpstreamDrained(UpstreamConnection& c) override;
  void onUpstreamWriteError(UpstreamConnection& c, int status) override;
  void onUpstreamClosed(UpstreamConnection& c, int status) override;
  std::string_view stickyToken() const;
  // A fresh id in state().generated_id (for requests that got no further than their head).
  std::string_view generateRequestId();

  // ---- client_response.cpp ----
  void onUpstreamData(UpstreamConnection& c, core::Buffer& read, size_t length) override;
  void onInformational(const ResponseHead& head) override;
  void onResponseHead(const ResponseHead& head) override;
  void onResponseBody(const char* data, size_t length) override;
  // A Content-Length body with kSpliceMinBytes or more left, and nothing queued for the
  // client: the rest goes from the backend's socket to the client's by splice(2)
  // (onUpstreamReadable), not through the parser and the writer, up to its last byte (the
  // parser is told: endSplicedBody). Below that, the mode switch costs more than the copy it
  // saves. Until the response head has come, upstream reads take kHeadReadBytes at most, so
  // that a large body is spliced from early on (the head fits: nginx's are ~250 bytes).
  static constexpr uint64_t kSpliceMinBytes = 16 * 1024;
  static constexpr uint32_t kHeadReadBytes = 16 * 1024;
  void maybeSplice();
  void endSplicedBody(UpstreamConnection& c);
  void onUpstreamReadable(UpstreamConnection& c) override;
  void onResponseDone();
  // The first byte of a response (interim or final) came: from here a stall is timeouts.idle.
  void responseStarted();
  void finishExchange();
  // The connection closes once this exchange is over (finishExchange).
  bool closesAfterExchange() const { return !ex().request_done || ex().close_after || draining_; }
  void nextRequest();
  void failExchange(uint16_t status, const char* why);
  void sendError(uint16_t status, const char* why);
  // The proxy's own answer (writeErrorResponse) into the client writer, not flushed.
  void appendOwnResponse(uint16_t status, bool close);
  // After a 502/503/504 of the proxy's own: reads the rest of the request when it has all
  // arrived and returns true when the client connection can then carry on (nothing of a
  // response sent); false when it must close.
  bool finishRequestKeepingClient(uint16_t status);
  void recordRequest(uint16_t status);
  // The request body has not moved for timeouts.idle: wait on, 504 or 408 (whose stall).
  void uploadStalled();
  // A response stalled mid-body while its bytes wait on the client: true (and the wait goes
  // on, for client_idle) while the client still takes bytes.
  bool clientStillReading();
  // The response wait ran out: true (and the wait goes on, or the exchange ended) while the
  // backend is still taking the request from the send queue.
  bool requestStillDelivering();
  // Request bytes the backend has not taken yet (the upstream writer's and the kernel's).
  size_t requestBytesUnsent() const;
  // While `unsent` request bytes wait on the backend: the wait goes on if it took any since
  // the last check, else the exchange ends with a 504.
  void waitOnBackendReading(Wait wait, std::chrono::milliseconds period, size_t unsent);
  // Adds the client bytes written since the last report to fulcrum_bytes_sent_total.
  void reportBytesSent();
  // `closing`: the connection closes now, and what the writer holds is never sent.
  void writeAccessLog(uint16_t status, bool closing = false);
  void startTunnel(const char* upstream_rest, size_t length);
  void onPumpBytes(bool to_upstream, size_t bytes) override;
  void onPumpClosed(l4::CloseReason reason) override;

  core::WorkerSnapshotSharedPtr ws_;
  const core::ListenerRuntime* listener_;
  uv_tcp_t* client_;
  core::ConnectionSlot slot_;
  // An IPv4 or IPv6 peer (a TCP listener has no other): 28 bytes, where a sockaddr_storage
  // would take 128 in every connection.
  sockaddr_in6 client_addr_{};
  std::string client_ip_;
  uv_timer_t timer_storage_{};   // embedded: no allocation per connection
  uv_timer_t* timer_ = nullptr;  // &timer_storage_ until it is closed
  Wait wait_ = Wait::kNone;
  uint64_t wait_ms_ = 0;
  uint64_t armed_at_ = 0;  // uv_now when wait_ was armed
  uint64_t last_progress_ = 0;
  uint64_t head_started_us_ = 0;  // the current head's first byte (or the accept): loop µs
  uint64_t request_bytes_ = 0;    // bytes of the current request parsed so far (access log)
  int open_handles_ = 0;

  ExchangeState* state_ = nullptr;  // the request in progress: see state()
  StreamWriter client_writer_;
  core::Buffer* held_ = nullptr;  // read from the client, not yet parsed
  size_t held_off_ = 0;
  size_t held_len_ = 0;
  bool reading_ = false;
  bool splice_request_ = false;  // client reads report readiness only (maybeSpliceRequest)
  bool client_eof_ = false;      // EOF read while a response was awaited
  bool in_process_ = false;
  bool draining_ = false;
  bool linger_ = false;        // closeAfterFlush(true): linger once flushed
  uint64_t linger_since_ = 0;  // uv_now when lingering began
  Phase phase_ = Phase::kHead;

  core::ConnectAttempt* attempt_ = nullptr;
  UpstreamConnection* upstream_ = nullptr;
  // The keep-alive idle list of the backend (pool name + address), and what its key was built
  // from: a member of the snapshot ws_ holds (so neither pointer can be reused by another
  // while they match).
  IdleList* idle_list_ = nullptr;
  const upstream::PoolMember* key_member_ = nullptr;
  const core::WorkerSnapshot* key_snapshot_ = nullptr;
  // Heads being serialized: one buffer per worker thread (workerScratch()), since a head is
  // written and copied out within one callback (a 101's head: onResponseHead, then
  // startTunnel from the same onUpstreamData). Its capacity is reused by every session, and an
  // idle session holds none.
  std::string& scratch_;
  std::unique_ptr<l4::BytePump> pump_;
  uint64_t bytes_sent_reported_ = 0;
  core::Buffer* upstream_read_ = nullptr;  // inside onUpstreamData: the buffer being parsed
};

}  // namespace fulcrum::http
