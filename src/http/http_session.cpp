#include "fulcrum/http/http_session.h"

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "fulcrum/http/client_session.h"
#include "fulcrum/http/error_response.h"
#include "fulcrum/http/http_date.h"
#include "fulcrum/http/message.h"

namespace fulcrum::http {

void startHttpSession(core::Worker& worker, core::WorkerSnapshotSharedPtr snapshot,
                      core::AcceptedBy listener, uv_tcp_t* client, core::ConnectionSlot slot,
                      bool deferred) {
  // Frees itself when its connection closes.
  auto* session = new ClientSession(worker, std::move(snapshot), listener, client, std::move(slot));
  session->start(deferred);
}

OverLimitRefusal refuseOverLimit(uv_tcp_t* client, core::Worker& worker,
                                 const core::ListenerRuntime& listener) {
  OverLimitRefusal r;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(client), &fd) != 0) return r;
  char sink[4096];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n <= 0) break;
    std::string_view method, target;
    if (r.bytes_in == 0 && splitRequestLine({sink, static_cast<size_t>(n)}, method, target)) {
      r.method = method;
      r.path = target;
    }
    r.bytes_in += static_cast<uint64_t>(n);
  }
  std::string response;
  writeErrorResponse(503, {.date = httpDateNow(worker.loopTimeUs())}, response);
  ssize_t sent = ::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent > 0) r.bytes_out = static_cast<uint64_t>(sent);
  if (listener.stats) {
    metrics::ListenerCell& cell = listener.stats->cell(worker.id());
    cell.bytes_received.add(r.bytes_in);
    cell.bytes_sent.add(r.bytes_out);
  }
  if (listener.default_route.stats) {
    metrics::RouteCell& cell = listener.default_route.stats->cell(worker.id());
    cell.requests.add(503);
    cell.duration.observe(0);
  }
  return r;
}

}  // namespace fulcrum::http
