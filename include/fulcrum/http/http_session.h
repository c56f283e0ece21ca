#pragma once
// Entry point of the HTTP/1.1 layer: a client connection accepted on an `http` listener.

#include <uv.h>

#include <cstdint>
#include <string>

#include "fulcrum/core/connection_slot.h"
#include "fulcrum/core/session.h"
#include "fulcrum/core/worker.h"

namespace fulcrum::http {

// Takes ownership of the accepted client handle (heap-allocated uv_tcp_t) and of
// its connection slot (released when the connection closes). `listener` is the accepting
// listener (its index in `snapshot->snapshot->listeners`, and its id). `deferred`: the listening
// socket defers accept (TCP_DEFER_ACCEPT), so the client's first bytes are normally there already.
void startHttpSession(core::Worker& worker, core::WorkerSnapshotSharedPtr snapshot,
                      core::AcceptedBy listener, uv_tcp_t* client, core::ConnectionSlot slot,
                      bool deferred);

// What refuseOverLimit read and sent, for the access log line the caller writes.
struct OverLimitRefusal {
  std::string method;  // of the request line, when a whole one had arrived
  std::string path;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

// A client connection of an `http` listener that is over its max_connections: answers 503
// (Connection: close), as nginx's limit_conn does, before the caller closes it. What the client
// sent already (with deferred accept, usually its whole first request) is read and dropped
// first, without waiting for more: closing with it unread would send a reset instead of a FIN,
// and a reset can make the client's kernel drop the answer before the client reads it.
// Never blocks: the answer is small and goes out with one send, or not at all. The 503 counts
// in the listener's requests (its own pool's route) and bytes, as every answer of the proxy's.
OverLimitRefusal refuseOverLimit(uv_tcp_t* client, core::Worker& worker,
                                 const core::ListenerRuntime& listener);

}  // namespace fulcrum::http
