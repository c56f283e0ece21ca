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

namespace {

// Method and target of `bytes` when they start with a whole request line ("GET /x HTTP/1.1"),
// for the access log; nothing otherwise.
void requestLineOf(std::string_view bytes, OverLimitRefusal& out) {
  size_t end = bytes.find("\r\n");
  if (end == std::string_view::npos) return;
  std::string_view line = bytes.substr(0, end);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).substr(0, 5) != "HTTP/") return;
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!isToken(method) || target.empty()) return;
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) return;
  }
  out.method = method;
  out.path = target;
}

}  // namespace

OverLimitRefusal refuseOverLimit(uv_tcp_t* client, core::Worker& worker,
                                 const core::ListenerRuntime& listener) {
  OverLimitRefusal r;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(client), &fd) != 0) return r;
  char sink[4096];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n <= 0) break;
    if (r.bytes_in == 0) requestLineOf({sink, static_cast<size_t>(n)}, r);
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
