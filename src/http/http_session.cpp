#include "fulcrum/http/http_session.h"

#include <sys/socket.h>

#include <string>

#include "fulcrum/http/client_session.h"
#include "fulcrum/http/error_response.h"
#include "fulcrum/http/http_date.h"

namespace fulcrum::http {

void startHttpSession(core::Worker& worker, core::WorkerSnapshotSharedPtr snapshot,
                      core::AcceptedBy listener, uv_tcp_t* client, core::ConnectionSlot slot,
                      bool deferred) {
  // Frees itself when its connection closes.
  auto* session = new ClientSession(worker, std::move(snapshot), listener, client, std::move(slot));
  session->start(deferred);
}

void refuseOverLimit(uv_tcp_t* client, uint64_t loop_us) {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(client), &fd) != 0) return;
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
  std::string response;
  writeErrorResponse(503, {.date = httpDateNow(loop_us)}, response);
  (void)::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace fulcrum::http
