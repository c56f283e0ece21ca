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
// `source`: a local address to bind first (nullptr: the kernel picks one). A socket that ends
// up connected to itself (below) is reported as UV_ECONNREFUSED.
ConnectAttempt* startConnect(uv_loop_t* loop, const sockaddr* address,
                             std::chrono::milliseconds timeout, ConnectObserver* observer,
                             const sockaddr* source = nullptr);
// No callback will fire; the half-open socket is closed.
void cancelConnect(ConnectAttempt* attempt);

// The socket's local address is the `destination` it connected to. Connecting to a local port
// nobody listens on can end like this when the port is in the ephemeral range
// (net.ipv4.ip_local_port_range) and the kernel picks it as the source port too: TCP
// simultaneous open, and the connect succeeds. What the proxy then sends to the "backend" it
// reads back as the reply. One getsockname per new connection.
bool connectedToItself(uv_tcp_t* handle, const sockaddr* destination);
// Closes with a reset (no TIME_WAIT) and deletes the handle from the close callback.
void closeWithReset(uv_tcp_t* handle);
// Bytes in the kernel's send queue not yet acknowledged by the peer (SIOCOUTQ); 0 when it
// cannot be asked. Whether it changes between two checks tells whether the peer reads at all.
size_t unsentBytes(const uv_tcp_t* handle);

// Bytes received and not yet read (FIONREAD); 0 when it cannot be asked.
size_t unreadBytes(const uv_tcp_t* handle);

// What libuv reports as UV_EOF may be a reset: when the last data and the reset come in one
// event (EPOLLHUP after a partial read), libuv reports the end without the read that would
// have returned ECONNRESET. The socket's pending error (SO_ERROR, which this clears) tells:
// a negative errno, or 0 for a true end (FIN).
int pendingError(const uv_stream_t* stream);

// TCP_NODELAY and keep-alive settings used for every proxied socket.
void tuneSocket(uv_tcp_t* handle);

}  // namespace fulcrum::core
