#pragma once
// The admin HTTP/1.1 endpoint (CONFIG.md "Admin endpoints"): GET (and HEAD) /metrics,
// /healthz, /readyz, /status, with keep-alive. Control thread only: it runs on the control
// loop and reads the process through AdminContext.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>

#include "fulcrum/config/config.h"
#include "fulcrum/control/admin_context.h"

namespace fulcrum::control {

// One answer of the admin endpoint (what a request maps to, before HTTP framing).
struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The routing of the admin endpoint, apart from the socket code so it can be tested alone.
// `get_or_head` is true for GET and for HEAD (answered like GET, the framing drops the body);
// `target` is the request target; its query string is ignored.
AdminResponse handleAdminRequest(AdminContext& ctx, bool get_or_head, std::string_view target);

// Resource bounds of the admin endpoint (defaults suit production; tests shrink them).
// The timeouts are short because the cap is small: a probe must find a free slot even when
// other clients open connections and leave them silent.
struct AdminLimits {
  // At the cap a new connection closes the one idle longest (no request being received, no
  // answer being sent); when none is idle, the new one is closed at once.
  size_t max_connections = 64;
  // A complete request (head, and the body if any: none is needed here) must arrive within
  // this long after the connection opens or after its first byte; else 408 (if a partial
  // request came) and close.
  uint64_t request_timeout_ms = 5'000;
  // An answer makes no progress, or no new request starts after it, for this long: close.
  uint64_t idle_timeout_ms = 5'000;
  size_t max_target_bytes = 8 * 1024;   // over it: 414 and close
  size_t max_header_bytes = 32 * 1024;  // over it: 431 and close
  // A client that pipelines requests without reading the answers stops being read past
  // this much unsent output, and is read again below the low mark: memory stays bounded.
  size_t write_high_watermark = 4 * 1024 * 1024;
  size_t write_low_watermark = 256 * 1024;
  int send_buffer_bytes = 0;  // SO_SNDBUF of accepted connections; 0 = the kernel's default
};

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, AdminContext& ctx, AdminLimits limits = {});
  // Closes whatever is still open; the loop frees the handles on its next turn.
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens. 0 or a libuv error code (UV_EADDRINUSE, ...): the caller reports it
  // naming the address and exits 1.
  int listen(const config::Address& addr);
  // The bound port (the one the kernel chose for port 0); 0 when not listening.
  uint16_t port() const;
  // Stops accepting and closes every connection; `done` runs once every handle is freed.
  void close(std::function<void()> done = {});
  size_t connectionCount() const { return connections_.size(); }

 private:
  class Connection;
  friend class Connection;

  static void onConnection(uv_stream_t* server, int status);
  void accept();
  bool makeRoom(const Connection* newcomer);
  void maybeDone();

  uv_loop_t* loop_;
  AdminContext& ctx_;
  AdminLimits limits_;
  uv_tcp_t* listener_ = nullptr;  // freed in its close callback
  std::unordered_set<Connection*> connections_;
  bool closing_ = false;
  std::function<void()> done_;
};

}  // namespace fulcrum::control
