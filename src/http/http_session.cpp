#include "fulcrum/http/http_session.h"

#include "fulcrum/http/client_session.h"

namespace fulcrum::http {

void startHttpSession(core::Worker& worker, core::WorkerSnapshotSharedPtr snapshot,
                      core::AcceptedBy listener, uv_tcp_t* client, core::ConnectionSlot slot,
                      bool deferred) {
  // Frees itself when its connection closes.
  auto* session = new ClientSession(worker, std::move(snapshot), listener, client, std::move(slot));
  session->start(deferred);
}

}  // namespace fulcrum::http
