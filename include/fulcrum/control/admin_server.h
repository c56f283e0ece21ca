#pragma once
// The admin HTTP/1.1 endpoint (CONFIG.md "Admin endpoints"): GET /metrics, /healthz,
// /readyz, /status, with keep-alive. Control thread only: it runs on the control loop and
// reads the process through AdminContext.

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
// `target` is the request target; its query string is ignored.
AdminResponse handleAdminRequest(AdminContext& ctx, bool is_get, std::string_view target);

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, AdminContext& ctx);
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
  void maybeDone();

  uv_loop_t* loop_;
  AdminContext& ctx_;
  uv_tcp_t* listener_ = nullptr;  // freed in its close callback
  std::unordered_set<Connection*> connections_;
  bool closing_ = false;
  std::function<void()> done_;
};

}  // namespace fulcrum::control
