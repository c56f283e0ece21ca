#pragma once
// The two parsers of the request a client connection has in progress, kept out of the
// ClientSession: they are half of its size, and an idle keep-alive connection (of which there
// may be tens of thousands) needs neither. A session takes a pair when its next request's
// first byte arrives and gives it back when it goes idle again; the worker thread keeps what
// was given back for the next session that needs a pair, so steady-state keep-alive traffic
// allocates nothing and takes the pair it just gave back (still in cache). Worker-local.

#include <cstddef>

#include "fulcrum/http/request_parser.h"
#include "fulcrum/http/response_parser.h"

namespace fulcrum::http {

struct ExchangeParsers {
  explicit ExchangeParsers(RequestLimits limits) : request(limits) {}
  RequestParser request;
  ResponseParser response;
  ExchangeParsers* next_free = nullptr;

  // A pair from this thread's spares (with `limits`), or a new one.
  static ExchangeParsers* take(RequestLimits limits);
  // Back to this thread's spares (made new unless it is between two requests of a keep-alive
  // connection), or freed when they are full. The caller no longer uses it.
  static void give(ExchangeParsers* parsers);
  // Spares kept per thread: enough for every connection that is mid-request at a time on a
  // busy worker; a spike beyond it frees the rest when it ends.
  static constexpr size_t kMaxSpares = 1024;
  static size_t sparesForTest();
};

}  // namespace fulcrum::http
