#include "fulcrum/http/exchange_state.h"

#include <memory>
#include <utility>

namespace fulcrum::http {

namespace {

struct Spares {
  ExchangeState* head = nullptr;
  size_t count = 0;
  ~Spares() {
    gone = true;
    while (head != nullptr) delete std::exchange(head, head->next_free);
  }
  static inline thread_local bool gone = false;  // after thread exit, give() just frees
};
thread_local Spares spares;

}  // namespace

ExchangeState* ExchangeState::take(RequestLimits limits) {
  if (Spares::gone || spares.head == nullptr) return new ExchangeState(limits);
  ExchangeState* s = std::exchange(spares.head, spares.head->next_free);
  --spares.count;
  s->next_free = nullptr;
  s->request.setLimits(limits);
  return s;
}

void ExchangeState::give(ExchangeState* state) {
  if (Spares::gone || spares.count >= kMaxSpares) {
    delete state;
    return;
  }
  // Every spare is as a new connection's: nothing of this connection's exchange goes on.
  if (state->request.idleAfterKeepAlive()) {
    // Between two requests of a keep-alive connection (nextMessage was called): the parsers
    // are as the next request of that connection would have found them, minus the head
    // memory; the exchange record and the cookie start over.
    state->request.release();
    state->response.release();
    state->exchange = Exchange{};
    state->set_cookie.clear();
  } else {
    // Mid-request, refused, or after a last request (llhttp then refuses anything more on
    // its connection): made new, as a new connection's would be.
    std::destroy_at(state);
    std::construct_at(state, RequestLimits{});
  }
  state->next_free = std::exchange(spares.head, state);
  ++spares.count;
}

size_t ExchangeState::sparesForTest() { return Spares::gone ? 0 : spares.count; }

}  // namespace fulcrum::http
