#pragma once
// Base of every connection-owning object on a worker (tcp session, http session, tunnel), so
// the worker can drain and, at the drain deadline, close them. Worker-local.

#include <cstdint>

namespace fulcrum::core {

class Worker;

// The listener that accepted a connection: its index in the snapshot the session starts with,
// and its WorkerListener::id() (stable across reloads, unlike the index).
struct AcceptedBy {
  uint32_t index = 0;
  uint64_t id = 0;
};

class Session {
 public:
  // `listener_id`: the WorkerListener::id() of the listener that accepted the connection, 0
  // for connections the worker opens itself.
  explicit Session(Worker& worker, uint64_t listener_id = 0);
  virtual ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Graceful shutdown began: finish what is in flight, close when idle.
  virtual void drain() = 0;
  // The drain deadline passed: close now (asynchronously; the object frees itself later).
  virtual void forceClose() = 0;
  // A reload installed a new snapshot (Worker::current()). A session between requests moves
  // to it now rather than at its next request, so that an idle connection does not keep a
  // whole old configuration alive (until client_idle, a minute by default).
  virtual void snapshotChanged() {}

  Worker& worker() const { return worker_; }
  // The WorkerListener::id() of the listener that accepted this connection, so that a reload
  // removing that listener drains exactly its connections (an id, not the listener's name or
  // address, which a reload may reuse, nor its pointer, which a later listener may reuse);
  // 0 for connections the worker opens itself (upstream connections).
  uint64_t listenerId() const { return listener_id_; }

 private:
  friend class Worker;
  Worker& worker_;
  uint64_t listener_id_;
  Session* prev_ = nullptr;  // intrusive list of the worker's live sessions
  Session* next_ = nullptr;
};

}  // namespace fulcrum::core
