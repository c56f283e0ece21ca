#include "fulcrum/core/session.h"

#include "fulcrum/core/worker.h"

namespace fulcrum::core {

Session::Session(Worker& worker) : worker_(worker) { worker_.addSession(this); }

Session::~Session() { worker_.removeSession(this); }

}  // namespace fulcrum::core
