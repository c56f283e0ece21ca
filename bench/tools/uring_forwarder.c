// floor_forwarder.c's job done over io_uring instead of epoll, to find out whether io_uring
// would lower the floor that the keep-alive CPU target sits on (bench/README.md, "Keep-alive:
// the kernel part"). It keeps a multishot recv armed on every socket, with buffers from a
// provided-buffer ring, submits each send through the submission queue, and makes one
// io_uring_enter per loop turn, which both submits and waits. DEFER_TASKRUN runs completions
// only then, so that a turn takes what arrived while it worked in one go. PLAIN=1 in the
// environment sets the ring up without it.
//
// Only for small messages on loopback: the backend connect at accept time blocks, and a send is
// taken as whole (every message here fits in the socket buffers). Not part of bench/run.sh; it
// needs liburing (apt-get install -y liburing-dev) and is built by hand:
//
//   gcc -O2 -Wall -o uring_forwarder bench/tools/uring_forwarder.c -luring
//   uring_forwarder LISTEN_PORT BACKEND_PORT MAX_SECONDS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kMaxFd = 1 << 16, kBuffers = 4096, kBufferSize = 16384, kGroup = 1 };
enum { kAccept = 1, kRecv = 2, kSend = 3 };

static int peer[kMaxFd];
static struct io_uring ring;
static struct io_uring_buf_ring* buffer_ring;
static char* buffers;
static int backend_port;

// user_data: the operation in the top byte, then the socket (recv) or the buffer id (send).
static unsigned long long tag(int op, unsigned value) {
  return ((unsigned long long)op << 56) | value;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static struct io_uring_sqe* next_sqe(void) {
  struct io_uring_sqe* s = io_uring_get_sqe(&ring);
  if (s == NULL) {  // queue full: submit what is there and take a fresh entry
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

static void arm_accept(int listener) {
  struct io_uring_sqe* s = next_sqe();
  io_uring_prep_multishot_accept(s, listener, NULL, NULL, 0);
  io_uring_sqe_set_data64(s, tag(kAccept, 0));
}

static void arm_recv(int fd) {
  struct io_uring_sqe* s = next_sqe();
  io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kGroup;
  io_uring_sqe_set_data64(s, tag(kRecv, (unsigned)fd));
}

static void give_back(unsigned id) {
  io_uring_buf_ring_add(buffer_ring, buffers + (size_t)id * kBufferSize, kBufferSize,
                        (unsigned short)id, io_uring_buf_ring_mask(kBuffers), 0);
  io_uring_buf_ring_advance(buffer_ring, 1);
}

static void drop(int fd) {
  if (peer[fd] < 0) return;
  int other = peer[fd];
  shutdown(fd, SHUT_RDWR);  // ends the multishot recvs still armed on both
  shutdown(other, SHUT_RDWR);
  close(fd);
  close(other);
  peer[fd] = peer[other] = -1;
}

static void pair_up(int client) {
  int backend = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in b = loopback(backend_port);
  if (backend < 0 || backend >= kMaxFd || client >= kMaxFd ||
      connect(backend, (struct sockaddr*)&b, sizeof b) != 0) {
    if (backend >= 0) close(backend);
    close(client);
    return;
  }
  setsockopt(backend, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  peer[client] = backend;
  peer[backend] = client;
  arm_recv(client);
  arm_recv(backend);
}

static void on_recv(int fd, const struct io_uring_cqe* c) {
  int more = (c->flags & IORING_CQE_F_MORE) != 0;
  if (c->res > 0) {
    unsigned id = c->flags >> IORING_CQE_BUFFER_SHIFT;
    if (peer[fd] < 0) {
      give_back(id);
      return;
    }
    struct io_uring_sqe* s = next_sqe();
    io_uring_prep_send(s, peer[fd], buffers + (size_t)id * kBufferSize, (size_t)c->res,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(kSend, id));
    if (!more) arm_recv(fd);
  } else if (c->res == -ENOBUFS) {  // every buffer in flight: try again
    if (!more && peer[fd] >= 0) arm_recv(fd);
  } else if (fd < kMaxFd) {
    drop(fd);
  }
}

static int setup(void) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = 16384;
  if (getenv("PLAIN") == NULL) p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int r = io_uring_queue_init_params(1024, &ring, &p);
  if (r != 0) {
    fprintf(stderr, "uring_forwarder: io_uring_queue_init: %s\n", strerror(-r));
    return -1;
  }
  buffer_ring = mmap(NULL, kBuffers * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  buffers = malloc((size_t)kBuffers * kBufferSize);
  if (buffer_ring == MAP_FAILED || buffers == NULL) return -1;
  io_uring_buf_ring_init(buffer_ring);
  struct io_uring_buf_reg reg = {
      .ring_addr = (unsigned long)buffer_ring, .ring_entries = kBuffers, .bgid = kGroup};
  if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) != 0) {
    fprintf(stderr, "uring_forwarder: io_uring_register_buf_ring: %s\n", strerror(-r));
    return -1;
  }
  for (unsigned i = 0; i < kBuffers; i++) give_back(i);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s LISTEN_PORT BACKEND_PORT MAX_SECONDS\n", argv[0]);
    return 2;
  }
  backend_port = atoi(argv[2]);
  alarm((unsigned)atoi(argv[3]));  // bounded, whatever happens to the caller
  for (int i = 0; i < kMaxFd; i++) peer[i] = -1;
  if (setup() != 0) return 1;
  int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = loopback(atoi(argv[1]));
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, (struct sockaddr*)&a, sizeof a) != 0 || listen(listener, 4096) != 0) {
    perror("uring_forwarder: listen");
    return 1;
  }
  arm_accept(listener);
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe* c;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, c) {
      seen++;
      int op = (int)(c->user_data >> 56);
      unsigned value = (unsigned)(c->user_data & 0xffffffffu);
      if (op == kAccept) {
        if (c->res >= 0) pair_up(c->res);
        if (!(c->flags & IORING_CQE_F_MORE)) arm_accept(listener);
      } else if (op == kRecv) {
        on_recv((int)value, c);
      } else if (op == kSend) {
        give_back(value);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
