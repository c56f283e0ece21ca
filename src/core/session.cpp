#include "fulcrum/core/session.h"

#include "fulcrum/core/worker.h"

namespace fulcrum::core {

Session::Session(Worker& worker, uint64_t listener_id)
    : worker_(worker), listener_id_(listener_id) {
  worker_.addSession(this);
}

Session::~Session() { worker_.removeSession(this); }

}  // namespace fulcrum::core
