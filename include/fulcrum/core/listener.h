#pragma once
// A listening socket on one worker. Accepts and hands each connection to the session type of
// the listener's protocol, under the worker's current snapshot. Worker-local.

#include <uv.h>

#include <string>

#include "fulcrum/core/uv_util.h"

namespace fulcrum::core {

class Worker;

class WorkerListener {
 public:
  WorkerListener(Worker& worker, std::string address, uint32_t index);
  ~WorkerListener();  // closes the socket (asynchronously)

  // Takes ownership of `fd` (bound and listening, made by the control thread).
  int open(int fd);
  const std::string& address() const { return address_; }
  // Position of this listener in the worker's current snapshot (changes on reload).
  void setIndex(uint32_t index) { index_ = index; }
  void stopAccepting();

 private:
  static void onConnection(uv_stream_t* server, int status);
  void accept();

  Worker& worker_;
  std::string address_;
  uint32_t index_;
  UvHandlePtr<uv_tcp_t> handle_;
};

// Control thread: a non-blocking TCP socket bound to `address` with SO_REUSEADDR and
// SO_REUSEPORT, listening. Returns the fd, or -errno.
int createListenSocket(const sockaddr* address, socklen_t length, int backlog = 4096);

}  // namespace fulcrum::core
