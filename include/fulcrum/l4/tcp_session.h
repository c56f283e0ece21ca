#pragma once
// Entry point of the L4 layer: a client connection accepted on a `tcp` listener.

#include <uv.h>

#include "fulcrum/core/connection_slot.h"
#include "fulcrum/core/session.h"
#include "fulcrum/core/worker.h"

namespace fulcrum::l4 {

// Takes ownership of the accepted client handle (heap-allocated uv_tcp_t) and of
// its connection slot (released when the connection closes).
void startTcpSession(core::Worker& worker, core::WorkerSnapshotSharedPtr snapshot,
                     core::AcceptedBy listener, uv_tcp_t* client, core::ConnectionSlot slot);

}  // namespace fulcrum::l4
