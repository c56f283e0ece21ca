// PLACEHOLDER from the lead so the binary links while the HTTP layer is written: the HTTP
// engineer replaces this whole file with the real HttpSession.
#include "fulcrum/http/http_session.h"

#include "fulcrum/core/uv_util.h"

namespace fulcrum::http {

void startHttpSession(core::Worker&, core::WorkerSnapshotSharedPtr, uint32_t, uv_tcp_t* client,
                      core::ConnectionSlot) {
  core::closeAndDelete(client);
}

}  // namespace fulcrum::http
