#include "epoll_ctl_counter.h"

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {
thread_local uint64_t calls = 0;
}

namespace fulcrum::testing {
uint64_t epollCtlCalls() { return calls; }
}  // namespace fulcrum::testing

// The executable's definition interposes libc's for libuv too (libuv.so refers to epoll_ctl,
// so the linker exports this one). The kernel call is made directly: no libc function to find.
extern "C" int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) {
  ++calls;
  return static_cast<int>(syscall(SYS_epoll_ctl, epfd, op, fd, event));
}
