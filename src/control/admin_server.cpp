#include "fulcrum/control/admin_server.h"

#include <llhttp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string_view>

#include "fulcrum/control/admin_status.h"
#include "fulcrum/core/uv_util.h"
#include "fulcrum/http/http_date.h"
#include "fulcrum/metrics/collector.h"

namespace fulcrum::control {
namespace {

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
  }
  return "Unknown";
}

AdminResponse text(int status, std::string body) {
  AdminResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// The origin-form part of a request target. A server must accept the absolute-form
// "http://authority/path?query" (RFC 9112 3.2.2) and route it by its path; with no path it
// is "/". Any other form is returned as it is.
std::string_view originForm(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!startsWithNoCase(target, scheme)) continue;
    const std::string_view rest = target.substr(scheme.size());
    const size_t path = rest.find_first_of("/?");
    if (path == std::string_view::npos || rest[path] == '?') return "/";
    return rest.substr(path);
  }
  return target;
}

// How long a connection closed after an error answer keeps reading (and discarding) what
// the client still sends: closing with unread bytes makes the kernel send a reset, which
// can destroy the answer before the client reads it. Bounded by the idle timeout.
constexpr uint64_t kMaxLingerMs = 2'000;

}  // namespace

AdminResponse handleAdminRequest(AdminContext& ctx, bool get_or_head, std::string_view target) {
  target = originForm(target);
  const std::string_view path = target.substr(0, target.find('?'));
  const bool known =
      path == "/metrics" || path == "/healthz" || path == "/readyz" || path == "/status";
  if (!known) return text(404, "not found\n");
  if (!get_or_head) return text(405, "method not allowed\n");
  if (path == "/healthz") return text(200, "ok");
  if (path == "/readyz") {
    if (ctx.ready() && !ctx.draining()) return text(200, "ready");
    return text(503, ctx.draining() ? "draining" : "not ready");
  }
  const core::SnapshotConstSharedPtr snapshot = ctx.currentSnapshot();
  if (path == "/metrics") {
    AdminResponse r = text(200, metrics::renderMetrics(ctx.stats(), snapshot.get()));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  AdminResponse r =
      text(200, renderStatus(snapshot.get(), ctx.ready(), ctx.draining(), ctx.workers()));
  r.content_type = "application/json";
  return r;
}

// One client connection. Owns its tcp and timer handles (members); it deletes itself once
// both close callbacks have run, after which libuv touches neither.
class AdminServer::Connection {
 public:
  Connection(AdminServer* server, const AdminLimits& limits) : server_(server), limits_(limits) {
    tcp_.data = this;
    timer_.data = this;
    llhttp_init(&parser_, HTTP_REQUEST, &settings());
    parser_.data = this;
  }

  int init(uv_loop_t* loop) {
    const int rc = uv_tcp_init(loop, &tcp_);
    if (rc != 0) return rc;
    uv_timer_init(loop, &timer_);  // cannot fail on a live loop
    return 0;
  }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  void start() {
    uv_tcp_nodelay(&tcp_, 1);
    armRequestTimer();
    idle_since_ = uv_hrtime();
    startReading();
  }

  // Idle: waiting for a request, with none partly received and nothing left to send. Only
  // such a connection may be closed to make room (AdminServer::makeRoom): it loses nothing.
  bool idle() const {
    return !closing_ && !close_after_write_ && !in_request_ && !input_paused_ &&
           pending_writes_ == 0;
  }
  uint64_t idleSince() const { return idle_since_; }
  bool closing() const { return closing_; }

  // Idempotent. Pending writes complete with UV_ECANCELED before the close callbacks.
  void close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onHandleClosed);
  }

  void detach() { server_ = nullptr; }

 private:
  struct WriteReq {
    uv_write_t req;
    Connection* conn;
    std::string bytes;  // owned until the write callback
  };

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t v;
      llhttp_settings_init(&v);
      v.on_message_begin = [](llhttp_t* p) { return self(p)->onMessageBegin(); };
      v.on_method_complete = [](llhttp_t* p) { return self(p)->onMethod(); };
      v.on_url = [](llhttp_t* p, const char* at, size_t n) { return self(p)->onUrl(at, n); };
      v.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
        return self(p)->onHeaderField(at, n);
      };
      v.on_header_field_complete = [](llhttp_t* p) { return self(p)->onHeaderFieldComplete(); };
      v.on_header_value = [](llhttp_t* p, const char*, size_t n) { return self(p)->onHead(n); };
      v.on_headers_complete = [](llhttp_t* p) { return self(p)->onHeadersComplete(); };
      v.on_message_complete = [](llhttp_t* p) { return self(p)->onMessageComplete(); };
      return v;
    }();
    return s;
  }
  static Connection* self(llhttp_t* p) { return static_cast<Connection*>(p->data); }

  int onMessageBegin() {
    target_.clear();
    head_bytes_ = 0;
    field_.clear();
    host_fields_ = 0;
    head_only_ = false;
    in_request_ = true;
    // The first byte after a keep-alive pause starts this request's deadline; bytes that
    // follow do not push it back, so trickling a head cannot hold the connection.
    if (!request_timer_armed_) armRequestTimer();
    return 0;
  }
  int onMethod() {
    head_only_ = llhttp_get_method(&parser_) == HTTP_HEAD;
    return 0;
  }
  int onUrl(const char* at, size_t n) {
    if (target_.size() + n > limits().max_target_bytes) return fail(414);
    target_.append(at, n);
    return 0;
  }
  int onHead(size_t n) {
    head_bytes_ += n;
    return head_bytes_ > limits().max_header_bytes ? fail(431) : 0;
  }
  // Only whether the name is "Host" matters: five bytes tell (a name may come in pieces).
  int onHeaderField(const char* at, size_t n) {
    field_.append(at, std::min(n, 5 - std::min<size_t>(field_.size(), 5)));
    return onHead(n);
  }
  int onHeaderFieldComplete() {
    if (field_.size() == 4 && strncasecmp(field_.data(), "host", 4) == 0) ++host_fields_;
    field_.clear();
    return 0;
  }
  // RFC 9112 3.2: an HTTP/1.1 request without Host, or any with more than one, gets 400.
  // HTTP/1.0 has no Host requirement.
  int onHeadersComplete() {
    const bool http11 = parser_.http_major > 1 || parser_.http_minor >= 1;
    if (host_fields_ > 1 || (http11 && host_fields_ == 0)) return fail(400);
    return 0;
  }
  int fail(int status) {
    error_status_ = status;
    return -1;
  }

  int onMessageComplete() {
    in_request_ = false;
    request_timer_armed_ = false;  // the answer's writes arm the idle timer (send())
    if (server_ == nullptr) return HPE_PAUSED;
    const auto method = llhttp_get_method(&parser_);
    const bool get_or_head = method == HTTP_GET || method == HTTP_HEAD;
    const bool keep_alive = llhttp_should_keep_alive(&parser_) != 0;
    const bool http10 = parser_.http_major == 1 && parser_.http_minor == 0;
    AdminResponse response = handleAdminRequest(server_->ctx_, get_or_head, target_);
    respond(response, keep_alive, http10);
    // Stop parsing: nothing after a last request is answered.
    if (!keep_alive) return HPE_PAUSED;
    // Too much unsent output: keep the rest of the pipelined input for later (resume()), so
    // memory stays bounded by the watermark, not by how many requests fit in one read.
    if (backpressured()) {
      input_paused_ = true;
      return HPE_PAUSED;
    }
    return 0;
  }

  bool backpressured() { return stream()->write_queue_size > limits().write_high_watermark; }

  // A HEAD answer is the GET answer without its body, Content-Length included (RFC 9110
  // 9.3.2): a client probing with HEAD sees the same status and headers.
  void respond(const AdminResponse& r, bool keep_alive, bool http10) {
    std::string bytes;
    bytes.reserve(160 + r.body.size());
    bytes.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ");
    bytes.append(reasonPhrase(r.status)).append("\r\nContent-Type: ").append(r.content_type);
    bytes.append("\r\nContent-Length: ").append(std::to_string(r.body.size()));
    bytes.append("\r\nCache-Control: no-store\r\nDate: ");
    bytes.append(http::httpDateNow(uv_now(stream()->loop) * 1000)).append("\r\n");
    if (r.status == 405) bytes.append("Allow: GET, HEAD\r\n");
    if (!keep_alive)
      bytes.append("Connection: close\r\n");
    else if (http10)
      bytes.append("Connection: keep-alive\r\n");
    bytes.append("\r\n");
    if (!head_only_) bytes.append(r.body);
    send(std::move(bytes));
    if (!keep_alive) close_after_write_ = true;
  }

  // The error answer is written: send FIN, then read and discard until the client closes or
  // the linger time is up (the timer then closes, see timedOut()).
  void linger() {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) != 0 ||
        ::shutdown(fd, SHUT_WR) != 0) {
      close();
      return;
    }
    if (!reading_) {
      reading_ = true;
      uv_read_start(stream(), onAlloc, onRead);
    }
    armTimer(std::min(limits_.idle_timeout_ms, kMaxLingerMs));
  }

  void send(std::string bytes) {
    auto* w = new WriteReq{};
    w->bytes = std::move(bytes);
    w->conn = this;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    const int rc = uv_write(&w->req, stream(), &buf, 1, onWritten);
    if (rc != 0) {
      delete w;  // no callback comes for a write that never started
      close();
      return;
    }
    ++pending_writes_;
    // Armed after rendering: building a large answer is not the client's idle time.
    armIdleTimer();
    if (reading_ && backpressured()) stopReading();
  }

  static void onWritten(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    Connection* conn = w->conn;
    delete w;
    conn->written(status);  // the connection outlives its writes (see close())
  }

  void written(int status) {
    --pending_writes_;
    if (closing_) return;
    if (status < 0) {
      close();
      return;
    }
    // A client that is reading, however slowly, is not idle. A partly received next request
    // keeps its own deadline, unless it waits on us (input stopped under backpressure).
    if (!in_request_ || !reading_) armIdleTimer();
    if (close_after_write_) {
      if (pending_writes_ > 0) return;
      if (lingering_)
        linger();
      else
        close();
      return;
    }
    if (!reading_ && stream()->write_queue_size < limits().write_low_watermark) resume();
    if (idle()) idle_since_ = uv_hrtime();
  }

  void resume() {
    if (input_paused_) {
      input_paused_ = false;
      llhttp_resume(&parser_);
      const std::string input = std::move(pending_input_);
      pending_input_.clear();
      if (!input.empty()) received(input.data(), input.size());
      if (closing_ || close_after_write_ || input_paused_) return;
    }
    if (!reading_) startReading();
  }

  void startReading() {
    reading_ = true;
    uv_read_start(stream(), onAlloc, onRead);
    // The rest of a request left unread under backpressure gets a whole deadline again.
    if (in_request_) armRequestTimer();
  }
  void stopReading() {
    reading_ = false;
    uv_read_stop(stream());
  }

  void armIdleTimer() { armTimer(limits_.idle_timeout_ms); }
  void armRequestTimer() {
    request_timer_armed_ = true;
    armTimer(limits_.request_timeout_ms);
  }
  void armTimer(uint64_t ms) {
    // The loop's cached time may be a whole render old: refresh it so the deadline is real.
    uv_update_time(timer_.loop);
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<Connection*>(t->data)->timedOut(); }, ms, 0);
  }

  // A client that started a request and did not finish it is told why it is dropped (408);
  // a silent one, or one not reading its answers, is just closed.
  void timedOut() {
    if (!in_request_ || close_after_write_ || pending_writes_ > 0) {
      close();
      return;
    }
    if (reading_) stopReading();
    respond(text(408, "Request Timeout\n"), /*keep_alive=*/false, /*http10=*/false);
  }

  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* conn = static_cast<Connection*>(h->data);
    *buf = uv_buf_init(conn->read_buf_.data(), static_cast<unsigned>(conn->read_buf_.size()));
  }

  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* conn = static_cast<Connection*>(s->data);
    if (nread > 0)
      conn->received(buf->base, static_cast<size_t>(nread));
    else if (nread < 0)
      conn->close();  // EOF or error: nothing left to answer
  }

  void received(const char* data, size_t n) {
    if (closing_ || close_after_write_) return;
    const llhttp_errno_t err = llhttp_execute(&parser_, data, n);
    if (err == HPE_OK) return;
    if (err == HPE_PAUSED && input_paused_) {
      const char* rest = llhttp_get_error_pos(&parser_);
      pending_input_.assign(rest, static_cast<size_t>(data + n - rest));
      if (reading_) stopReading();
      return;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      // Answered a last request, or an upgrade this endpoint does not do: finish and close.
      close_after_write_ = true;
    } else {
      const int status = error_status_ != 0 ? error_status_ : 400;
      AdminResponse r = text(status, std::string(reasonPhrase(status)) + "\n");
      respond(r, /*keep_alive=*/false, /*http10=*/false);
      // The rest of a bad request (a head over the limit may be far longer than what was
      // read) is still coming: keep reading it into the void (received() ignores it) so
      // that the close after the answer is not a reset (linger()).
      lingering_ = true;
      if (pending_writes_ > 0) return;
    }
    if (reading_) stopReading();
    if (pending_writes_ == 0) close();
  }

  static void onHandleClosed(uv_handle_t* h) {
    auto* conn = static_cast<Connection*>(h->data);
    if (--conn->open_handles_ > 0) return;
    AdminServer* server = conn->server_;
    if (server != nullptr) server->connections_.erase(conn);
    delete conn;
    if (server != nullptr) server->maybeDone();
  }

  const AdminLimits& limits() const { return limits_; }

  AdminServer* server_;
  AdminLimits limits_;  // a copy: a detached connection outlives its server
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  llhttp_t parser_{};
  std::string target_;
  std::string pending_input_;  // pipelined bytes not parsed yet while input_paused_
  bool input_paused_ = false;
  size_t head_bytes_ = 0;
  std::string field_;    // the first bytes (up to 5) of the header name being received
  int host_fields_ = 0;  // Host header fields in the current request
  int error_status_ = 0;
  bool head_only_ = false;            // the current request is HEAD: answers carry no body
  bool in_request_ = false;           // a request has begun and is not complete yet
  bool request_timer_armed_ = false;  // the timer holds a request deadline, not an idle one
  uint64_t idle_since_ = 0;           // uv_hrtime() (ns) it last became idle
  int open_handles_ = 2;
  size_t pending_writes_ = 0;
  bool reading_ = false;
  bool closing_ = false;
  bool close_after_write_ = false;
  bool lingering_ = false;  // close_after_write_ after an error: linger() before the close
  std::array<char, 4096> read_buf_{};
};

AdminServer::AdminServer(uv_loop_t* loop, AdminContext& ctx, AdminLimits limits)
    : loop_(loop), ctx_(ctx), limits_(limits) {}

AdminServer::~AdminServer() {
  done_ = nullptr;
  for (Connection* conn : connections_) {
    conn->detach();
    conn->close();
  }
  connections_.clear();
  if (listener_ != nullptr) {
    auto* raw = reinterpret_cast<uv_handle_t*>(listener_);
    listener_->data = nullptr;  // a close in progress frees it without calling back
    if (!uv_is_closing(raw)) core::closeAndDelete(listener_);
  }
}

int AdminServer::listen(const config::Address& addr) {
  if (listener_ != nullptr) return UV_EALREADY;
  auto* tcp = new uv_tcp_t{};
  int rc = uv_tcp_init(loop_, tcp);
  if (rc != 0) {
    delete tcp;
    return rc;
  }
  tcp->data = this;
  listener_ = tcp;
  rc = uv_tcp_bind(tcp, addr.sockAddr(), 0);
  if (rc == 0 && limits_.send_buffer_bytes > 0) {
    int size = limits_.send_buffer_bytes;  // accepted sockets inherit the listener's SO_SNDBUF
    uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(tcp), &size);
  }
  // bind(2) errors such as EADDRINUSE may surface only at listen(2): check both.
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 128, onConnection);
  if (rc != 0) {
    core::closeAndDelete(listener_);
    listener_ = nullptr;
    return rc;
  }
  closing_ = false;
  return 0;
}

uint16_t AdminServer::port() const {
  if (listener_ == nullptr) return 0;
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

void AdminServer::onConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<AdminServer*>(server->data);
  if (self == nullptr || status < 0) return;
  self->accept();
}

void AdminServer::accept() {
  auto* conn = new Connection(this, limits_);
  if (conn->init(loop_) != 0) {
    delete conn;
    return;
  }
  connections_.insert(conn);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_), conn->stream()) != 0 ||
      !makeRoom(conn)) {
    conn->close();  // over the limit and every slot busy: shed it rather than pile up
    return;
  }
  conn->start();
}

// At the cap, the connection idle longest is closed for the newcomer: otherwise sockets left
// open and silent would lock out the health probes. Busy ones are never cut short.
bool AdminServer::makeRoom(const Connection* newcomer) {
  size_t open = 0;
  Connection* idlest = nullptr;
  for (Connection* conn : connections_) {
    if (conn == newcomer || conn->closing()) continue;  // a closing one is freed on this turn
    ++open;
    if (conn->idle() && (idlest == nullptr || conn->idleSince() < idlest->idleSince()))
      idlest = conn;
  }
  if (open < limits_.max_connections) return true;
  if (idlest == nullptr) return false;
  idlest->close();
  return true;
}

void AdminServer::close(std::function<void()> done) {
  closing_ = true;
  done_ = std::move(done);
  for (Connection* conn : connections_) conn->close();  // freed (and erased) later
  if (listener_ != nullptr && !uv_is_closing(reinterpret_cast<uv_handle_t*>(listener_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) {
      auto* self = static_cast<AdminServer*>(h->data);
      delete reinterpret_cast<uv_tcp_t*>(h);
      if (self == nullptr) return;
      self->listener_ = nullptr;
      self->maybeDone();
    });
  }
  maybeDone();
}

void AdminServer::maybeDone() {
  if (!closing_ || listener_ != nullptr || !connections_.empty() || !done_) return;
  auto done = std::move(done_);
  done_ = nullptr;
  done();  // may destroy this server: nothing after
}

}  // namespace fulcrum::control
