#pragma once
// Entry point of the HTTP/1.1 layer: a client connection accepted on an `http` listener.

#include <uv.h>

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

}  // namespace fulcrum::http
