#pragma once
// The state of the request a client connection has in progress, kept out of the
// ClientSession: its two parsers, its exchange record and the strings made for its answer are
// most of a session's size, and an idle keep-alive connection (of which there may be tens of
// thousands) needs none of them. A session takes an ExchangeState when its next request's first
// byte arrives and gives it back when it goes idle again; the worker thread keeps what was
// given back for the next session that needs one, so steady-state keep-alive traffic allocates
// nothing and takes the state it just gave back (still in cache). Worker-local.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fulcrum/balancer/policy.h"
#include "fulcrum/core/snapshot.h"
#include "fulcrum/http/header_rules.h"
#include "fulcrum/http/request_parser.h"
#include "fulcrum/http/response_parser.h"

namespace fulcrum::http {

// One request's exchange with a backend, reset by ClientSession::beginExchange().
struct Exchange {
  const core::RouteRuntime* route = nullptr;
  const core::PoolRuntime* pool = nullptr;
  const upstream::PoolMember* member = nullptr;
  bool acquired = false;  // member->state->acquire() outstanding
  balancer::TriedSet tried;
  bool has_head = false;       // a request head was parsed (else: a parse error)
  bool retried_fresh = false;  // a stale pooled connection was replaced once
  bool continue_sent = false;
  bool request_done = false;  // the whole request went into the upstream writer
  bool response_started = false;
  size_t unsent_at_check = 0;         // request bytes waiting on the backend at the last timeout
  size_t client_unsent_at_check = 0;  // response bytes waiting on the client, the same
  bool head_sent = false;             // bytes of a response (ours or the backend's) went out
  bool response_done = false;
  bool recorded = false;  // counted in the metrics and written to the access log
  bool upstream_reusable = true;
  bool close_after = false;  // the client connection ends after this response
  BodyFraming out_framing = BodyFraming::kNone;
  uint16_t status = 0;
  std::string_view request_id;
  // Monotonic microseconds (uv_hrtime): backends on a LAN answer in well under the
  // millisecond of uv_now.
  uint64_t started_us = 0;        // head complete
  uint64_t upstream_sent_us = 0;  // request head written upstream
  uint64_t first_byte_us = 0;     // response head received
  uint64_t bytes_out_start = 0;
};

struct ExchangeState {
  explicit ExchangeState(RequestLimits limits) : request(limits) {}
  RequestParser request;
  ResponseParser response;
  Exchange exchange;
  std::string set_cookie;                               // a sticky cookie to insert in the answer
  char generated_id[RequestIdGenerator::kLength] = {};  // an X-Request-Id made for it
  ExchangeState* next_free = nullptr;

  // A state from this thread's spares (set to `limits`), or a new one: either way what a new
  // connection's first request starts from.
  static ExchangeState* take(RequestLimits limits);
  // Back to this thread's spares, as a new connection's would be (its parsers kept as they are
  // only between two requests of a keep-alive connection, else made new), or freed when the
  // spares are full. The caller no longer uses it.
  static void give(ExchangeState* state);
  // Spares kept per thread: enough for every connection that is mid-request at a time on a
  // busy worker; a spike beyond it frees the rest when it ends.
  static constexpr size_t kMaxSpares = 1024;
  static size_t sparesForTest();
};

}  // namespace fulcrum::http
