#include "fulcrum/l4/tcp_session.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "fulcrum/core/log.h"
#include "fulcrum/core/session.h"
#include "fulcrum/core/tcp_connect.h"
#include "fulcrum/core/uv_util.h"
#include "fulcrum/l4/byte_pump.h"

namespace fulcrum::l4 {
namespace {

using std::chrono::milliseconds;

// A tcp listener's connection: pick a backend, connect (each attempt bounded by
// timeouts.connect, as HAProxy's `timeout connect` + redispatch; a failed backend is never tried
// twice for one connection, so attempts are bounded by the pool size), then pump bytes both
// ways. Worker-local; frees itself.
class TcpSession final : public core::Session, public core::ConnectObserver, public PumpObserver {
 public:
  TcpSession(core::Worker& worker, core::WorkerSnapshotSharedPtr ws, core::AcceptedBy listener,
             uv_tcp_t* client, core::ConnectionSlot slot)
      : core::Session(worker, listener.id),
        ws_(std::move(ws)),
        listener_(ws_->snapshot->listeners[listener.index]),
        pool_(ws_->snapshot->pools[listener_.default_route.pool]),
        client_(client),
        slot_(std::move(slot)) {
    client_->data = this;
    // The peer address costs a syscall: fetch it only for source-IP affinity or the access log.
    const config::PoolConfig& pc = pool_.config();
    if (pc.sticky.mode == config::StickyMode::kSourceIp ||
        pc.hash_key.kind == config::HashKeyKind::kSourceIp || worker.accessLog().enabled()) {
      int len = sizeof client_addr_;
      if (uv_tcp_getpeername(client_, reinterpret_cast<sockaddr*>(&client_addr_), &len) != 0)
        client_addr_.ss_family = AF_UNSPEC;
    }
  }

  void begin() { connectNext(); }

  void drain() override {}  // a byte stream has no request boundary: let it finish

  void forceClose() override {
    if (pump_) {
      pump_->close(CloseReason::kClosed);
    } else {
      cancelConnect(attempt_);
      attempt_ = nullptr;
      status_ = 503;  // shut down before a backend was reached
      finish();
    }
  }

 private:
  void connectNext() {
    const uint64_t now = uv_now(worker().loop());
    const upstream::PoolMember* member = nullptr;
    {
      balancer::PickContext ctx;
      ctx.tried = &tried_;
      ctx.client_addr = client_addr_.ss_family == AF_UNSPEC
                            ? nullptr
                            : reinterpret_cast<const sockaddr*>(&client_addr_);
      if (pool_.config().hash_key.kind == config::HashKeyKind::kSourceIp && ctx.client_addr)
        ctx.hash = balancer::hashAddress(ctx.client_addr);
      member = ws_->picker(pool_.pool().id).pick(ctx);
    }
    if (member == nullptr) {
      log::debug("tcp {}: no backend of pool {} could be reached", listener_.config->name,
                 pool_.pool().name());
      // As nginx's stream $status and the HTTP path's answers: 503 when no backend was
      // eligible to try at all, 502 when every one tried failed to connect.
      status_ = tried_.size() == 0 ? 503 : 502;
      finish();
      return;
    }
    member_ = member;
    tried_.add(member->index);
    member->state->acquire();
    connect_started_ = now;
    attempt_ = core::startConnect(worker().loop(), member->config->address.sockAddr(),
                                  pool_.config().timeouts.connect, this);
  }

  void onConnected(uv_tcp_t* upstream) override {
    attempt_ = nullptr;
    status_ = 200;
    core::tuneSocket(upstream);
    // A tcp backend's answer is its accept.
    member_->state->recordAnswer((uv_now(worker().loop()) - connect_started_) * 1000, false);
    pump_ =
        std::make_unique<BytePump>(worker(), client_, upstream, pool_.config().timeouts.idle, this);
    client_ = nullptr;  // owned by the pump now
    pump_->start();
  }

  void onConnectFailed(int status) override {
    attempt_ = nullptr;
    log::debug("tcp {}: connect to {} failed: {}", listener_.config->name, member_->address(),
               uv_strerror(status));
    member_->state->release();
    member_->state->recordResponse(
        static_cast<uint64_t>(pool_.config().timeouts.connect.count()) * 1000, true);
    pool_.backend_stats[member_->index]->cell(worker().id()).connect_failures.add();
    last_failed_ = member_;
    member_ = nullptr;
    connectNext();
  }

  void onPumpBytes(bool to_upstream, size_t bytes) override {
    if (metrics::ListenerCell* cell = slot_.cell()) {
      if (to_upstream) {
        cell->bytes_received.add(bytes);
      } else {
        cell->bytes_sent.add(bytes);
      }
    }
  }

  void onPumpClosed(CloseReason reason) override {
    log::debug("tcp {}: session to {} closed: {}", listener_.config->name, member_->address(),
               closeReasonName(reason));
    writeAccessLog();
    member_->state->release();
    delete this;
  }

  void writeAccessLog() {
    core::AccessLog& log = worker().accessLog();
    if (!log.enabled()) return;
    core::AccessLogEntry e;
    e.time = started_;
    e.listener = listener_.config->name;
    e.client = client_addr_.ss_family == AF_UNSPEC
                   ? nullptr
                   : reinterpret_cast<const sockaddr*>(&client_addr_);
    if (pump_) {
      e.bytes_in = pump_->bytesToUpstream();
      e.bytes_out = pump_->bytesToDownstream();
    }
    e.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now() - started_);
    e.status = status_;
    e.pool = pool_.pool().name();
    // A session that no backend took names the last one tried, as the HTTP path's 502 does.
    if (const upstream::PoolMember* m = member_ != nullptr ? member_ : last_failed_)
      e.backend = m->address();
    log.write(e);
  }

  // Ends a session that never reached a backend.
  void finish() {
    writeAccessLog();
    if (member_ != nullptr) member_->state->release();
    if (client_ != nullptr) {
      client_->data = nullptr;
      core::closeAndDelete(client_);
      client_ = nullptr;
    }
    delete this;
  }

  core::WorkerSnapshotSharedPtr ws_;
  const core::ListenerRuntime& listener_;
  const core::PoolRuntime& pool_;
  uv_tcp_t* client_;
  core::ConnectionSlot slot_;
  sockaddr_storage client_addr_{};
  balancer::TriedSet tried_;
  const upstream::PoolMember* member_ = nullptr;
  const upstream::PoolMember* last_failed_ = nullptr;  // for the access log of a 502
  core::ConnectAttempt* attempt_ = nullptr;
  std::unique_ptr<BytePump> pump_;
  uint64_t connect_started_ = 0;
  int status_ = 0;  // the access log's: 200 once connected, else 502 or 503
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
};

}  // namespace

void startTcpSession(core::Worker& worker, core::WorkerSnapshotSharedPtr snapshot,
                     core::AcceptedBy listener, uv_tcp_t* client, core::ConnectionSlot slot) {
  auto* session = new TcpSession(worker, std::move(snapshot), listener, client, std::move(slot));
  session->begin();
}

}  // namespace fulcrum::l4
