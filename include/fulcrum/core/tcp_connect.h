#pragma once
// One outgoing TCP connection attempt with a timeout. Worker-local.

#include <uv.h>

#include <chrono>

namespace fulcrum::core {

class ConnectObserver {
 public:
  virtual ~ConnectObserver() = default;
  // Connected: ownership of the heap-allocated handle passes to the observer (free it with
  // closeAndDelete). Its `data` is null.
  virtual void onConnected(uv_tcp_t* handle) = 0;
  // Failed: a libuv error (UV_ETIMEDOUT on timeout, UV_ECONNREFUSED, ...).
  virtual void onConnectFailed(int status) = 0;
};

class ConnectAttempt;

// Starts connecting; exactly one observer callback follows unless cancel() is called first.
// The returned pointer is valid until that callback (or cancel) and must not be freed.
ConnectAttempt* startConnect(uv_loop_t* loop, const sockaddr* address,
                             std::chrono::milliseconds timeout, ConnectObserver* observer);
// No callback will fire; the half-open socket is closed.
void cancelConnect(ConnectAttempt* attempt);

// TCP_NODELAY and keep-alive settings used for every proxied socket.
void tuneSocket(uv_tcp_t* handle);

}  // namespace fulcrum::core
