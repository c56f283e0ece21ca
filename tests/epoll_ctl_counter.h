#pragma once
// Counts the epoll_ctl calls this thread makes, libuv's included: the unit test binary
// defines epoll_ctl itself (tests/epoll_ctl_counter.cpp), which takes precedence over libc's
// for every caller in the process, and passes each call on to the kernel unchanged. For tests
// that assert a path costs no epoll re-registration.

#include <cstdint>

namespace fulcrum::testing {

uint64_t epollCtlCalls();

}  // namespace fulcrum::testing
