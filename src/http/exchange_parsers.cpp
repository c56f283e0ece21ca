#include "fulcrum/http/exchange_parsers.h"

#include <memory>
#include <utility>

namespace fulcrum::http {

namespace {

struct Spares {
  ExchangeParsers* head = nullptr;
  size_t count = 0;
  ~Spares() {
    gone = true;
    while (head != nullptr) delete std::exchange(head, head->next_free);
  }
  static inline thread_local bool gone = false;  // after thread exit, give() just frees
};
thread_local Spares spares;

}  // namespace

ExchangeParsers* ExchangeParsers::take(RequestLimits limits) {
  if (Spares::gone || spares.head == nullptr) return new ExchangeParsers(limits);
  ExchangeParsers* p = std::exchange(spares.head, spares.head->next_free);
  --spares.count;
  p->next_free = nullptr;
  p->request.setLimits(limits);
  return p;
}

void ExchangeParsers::give(ExchangeParsers* parsers) {
  if (Spares::gone || spares.count >= kMaxSpares) {
    delete parsers;
    return;
  }
  if (parsers->request.idleAfterKeepAlive()) {
    // Between two requests of a keep-alive connection (nextMessage was called): what the
    // next request of that connection would have found, minus the head memory.
    parsers->request.release();
    parsers->response.release();
  } else {
    // Mid-request, refused, or after a last request (llhttp then refuses anything more on
    // its connection): made new, as a new connection's would be.
    std::destroy_at(parsers);
    std::construct_at(parsers, RequestLimits{});
  }
  parsers->next_free = std::exchange(spares.head, parsers);
  ++spares.count;
}

size_t ExchangeParsers::sparesForTest() { return Spares::gone ? 0 : spares.count; }

}  // namespace fulcrum::http
