#include "fulcrum/core/session.h"

#include <utility>

#include "fulcrum/core/worker.h"

namespace fulcrum::core {

// The first session made while WorkerListener::accept runs is the accepted connection's (the
// session types construct their Session base before anything else): it takes the tag, so
// nothing created later in the same call is mistaken for a connection of that listener.
Session::Session(Worker& worker)
    : worker_(worker), listener_id_(std::exchange(worker.accepting_listener_, 0)) {
  worker_.addSession(this);
}

Session::~Session() { worker_.removeSession(this); }

}  // namespace fulcrum::core
