#pragma once
// A listening socket on one worker. Accepts and hands each connection to the session type of
// the listener's protocol, under the worker's current snapshot. Worker-local.
//
// Accepting is ours (a uv_poll_t on the socket, accept4), not libuv's uv_listen: when the
// process is out of file descriptors, libuv retries the failed accept in a loop that does not
// return to the event loop while its one spare descriptor is taken by another thread, which
// spins a worker and stalls its connections. Here an EMFILE pauses accepting on this socket
// for kAcceptPause (nginx pauses for 500 ms) and is logged at most once a second.

#include <uv.h>

#include <chrono>
#include <string>

#include "fulcrum/core/uv_util.h"

namespace fulcrum::core {

class Worker;
struct ListenerRuntime;
struct Snapshot;

// How long the kernel holds a connection on an HTTP listener for its first bytes
// (TCP_DEFER_ACCEPT; one second is the smallest deferral, one SYN-ACK retransmission).
inline constexpr std::chrono::seconds kAcceptDeferral{1};
// An HTTP listener defers accept unless that would keep a silent client past client_header.
inline bool deferHttpAccept(std::chrono::milliseconds client_header) {
  return client_header >= kAcceptDeferral;
}
// How long a listener stops accepting after the process ran out of file descriptors.
inline constexpr std::chrono::milliseconds kAcceptPause{100};

class WorkerListener {
 public:
  WorkerListener(Worker& worker, std::string address, uint32_t index);
  ~WorkerListener();  // closes the socket (asynchronously)

  // Takes ownership of `fd` (bound and listening, made by the control thread).
  int open(int fd);
  const std::string& address() const { return address_; }
  // Tags the sessions this listener accepts (Session::listenerId).
  uint64_t id() const { return id_; }
  // Position of this listener in the worker's current snapshot (changes on reload).
  void setIndex(uint32_t index) { index_ = index; }
  // Whether accept waits (kAcceptDeferral at most) for the client's first bytes, set on open
  // and on every reload (a kept socket may change protocol or timeouts): HTTP listeners do,
  // unless their client_header is shorter than the deferral (deferHttpAccept); TCP listeners,
  // whose protocol may be server-speaks-first, never do.
  void setAcceptDeferral(bool on);
  void stopAccepting();

 private:
  static void onReadable(uv_poll_t* poll, int status, int events);
  void acceptPending();
  void pause(int err);
  void startSession(int fd);
  void refuse(const ListenerRuntime& lr, const Snapshot& snapshot, uv_tcp_t* client);

  Worker& worker_;
  std::string address_;
  uint32_t index_;
  uint64_t id_;
  int defer_accept_ = 0;  // TCP_DEFER_ACCEPT seconds set on the socket
  int fd_ = -1;           // the listening socket (owned)
  UvHandlePtr<uv_poll_t> poll_;
  UvHandlePtr<uv_timer_t> resume_;  // ends a pause
  uint64_t last_pause_log_ms_ = 0;
  uint64_t last_limit_log_ms_ = 0;  // refusals over max_connections: logged once a second
  uint64_t unlogged_refusals_ = 0;
};

// Control thread: a non-blocking TCP socket bound to `address` with SO_REUSEADDR and
// SO_REUSEPORT, listening. Returns the fd, or -errno.
int createListenSocket(const sockaddr* address, socklen_t length, int backlog = 4096);

}  // namespace fulcrum::core
