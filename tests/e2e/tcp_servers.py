"""In-process TCP test backends (threads), so tests can count what each one received.

Every server binds 127.0.0.1 (or `server.host = "::1"` set before start(); port 0 =
any free port unless one is given), has
start()/stop(), works as a context manager, and joins its threads on stop().

- `ThreadedServer`: the base: an accept thread plus one thread per connection that runs
  `handle(conn, conn_id)`. Counts connections, keeps per-connection records.
- `TcpEchoServer`: echoes bytes.
- `TcpIdServer(name)`: sends b"NAME\\n" on connect, then echoes: shows which backend a
  proxied connection reached.
- `TcpCountReplyServer`: reads to EOF, then replies b"<count> <sha256>\\n" plus an
  optional bulk payload, then closes (half-close tests).
- `TcpBulkServer`: sends N deterministic bytes (optionally rate limited) while reading
  and hashing everything it receives (throughput / backpressure tests).
- `TcpHalfCloseFirstServer`: sends a greeting, shuts down its write side, then counts
  what the client still sends.
- `BlackholeListener`: a listener that never accepts and whose backlog is full, so a
  connect to it hangs until the connector's timeout (no RST, unlike a closed port).
"""

from __future__ import annotations

import hashlib
import selectors
import socket
import threading
import time

from wire import payload

__all__ = [
    "ThreadedServer", "TcpEchoServer", "TcpIdServer", "TcpCountReplyServer", "TcpBulkServer",
    "TcpHalfCloseFirstServer", "BlackholeListener", "RateLimiter",
]


class RateLimiter:
    """Sleeps so that bytes passed to `consumed()` never exceed `bytes_per_sec` on average."""

    def __init__(self, bytes_per_sec: float | None):
        self.rate = bytes_per_sec
        self.start = time.monotonic()
        self.total = 0

    def consumed(self, n: int) -> None:
        if not self.rate:
            return
        self.total += n
        ahead = self.total / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)


class ThreadedServer:
    """Base class: accept loop + one thread per connection.

    Subclasses implement `handle(conn, conn_id)`; it may block; stop() unblocks it by
    shutting the socket down. Attributes: `port`, `address` ("127.0.0.1:PORT"),
    `connections` (accepted so far), `active` (open now)."""

    def __init__(self, port: int = 0, name: str | None = None, backlog: int = 512):
        self.name = name or self.__class__.__name__
        self.host = "127.0.0.1"  # may be set to "::1" before start()
        self._requested_port = port
        self._backlog = backlog
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: dict[int, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._accept_thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._next_id = 0
        self.connections = 0
        self.active = 0
        self.errors: list[str] = []  # exceptions raised by handle(), for diagnostics
        self.port = 0

    # -- lifecycle
    def start(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self._requested_port))
        s.listen(self._backlog)
        s.setblocking(False)
        self._sock = s
        self.port = s.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name=f"{self.name}-accept")
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every open connection, join all threads."""
        self._stopping.set()
        if self._accept_thread:
            self._accept_thread.join(timeout)
        if self._sock:
            self._sock.close()
        with self._lock:
            conns = list(self._conns.values())
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self):
        return self.start() if self._sock is None else self

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self) -> str:
        """HOST:PORT as a config names it ("[::1]:PORT" for IPv6)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def reset_counts(self) -> None:
        """Zero `connections` (e.g. after fulcrum's start-up)."""
        with self._lock:
            self.connections = 0

    # -- internals
    def _accept_loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                if not sel.select(0.05):
                    continue
                try:
                    conn, _ = self._sock.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    break
                conn.setblocking(True)
                with self._lock:
                    self.connections += 1
                    self.active += 1
                    self._next_id += 1
                    conn_id = self._next_id
                    self._conns[conn_id] = conn
                    self._threads = [t for t in self._threads if t.is_alive()]
                t = threading.Thread(target=self._run, args=(conn, conn_id), daemon=True,
                                     name=f"{self.name}-conn{conn_id}")
                self._threads.append(t)
                t.start()
        finally:
            sel.close()

    def _run(self, conn: socket.socket, conn_id: int) -> None:
        try:
            self.handle(conn, conn_id)
        except (OSError, ConnectionError):
            pass  # peers vanishing is normal in proxy tests
        except Exception as e:  # noqa: BLE001 - kept for the test to inspect
            self.errors.append(f"conn {conn_id}: {type(e).__name__}: {e}")
        finally:
            with self._lock:
                self.active -= 1
                self._conns.pop(conn_id, None)
            try:
                conn.close()
            except OSError:
                pass

    def handle(self, conn: socket.socket, conn_id: int) -> None:
        raise NotImplementedError


class TcpEchoServer(ThreadedServer):
    """Echoes every byte back; on EOF from the client it closes."""

    def __init__(self, port: int = 0, name: str | None = None):
        super().__init__(port, name)
        self.bytes_received = 0

    def handle(self, conn, conn_id):
        while True:
            data = conn.recv(65536)
            if not data:
                return
            with self._lock:
                self.bytes_received += len(data)
            conn.sendall(data)


class TcpIdServer(TcpEchoServer):
    """Sends b"NAME\\n" as soon as a connection arrives, then echoes."""

    def __init__(self, name: str, port: int = 0):
        super().__init__(port, name)

    def handle(self, conn, conn_id):
        conn.sendall(self.name.encode() + b"\n")
        super().handle(conn, conn_id)


class TcpCountReplyServer(ThreadedServer):
    """Reads until the client's EOF, then sends b"<count> <sha256hex>\\n" followed by
    `reply_bytes` bytes of payload(reply_bytes, seed=7), then closes.

    `results` lists (count, sha256hex) per connection."""

    def __init__(self, reply_bytes: int = 0, port: int = 0, name: str | None = None):
        super().__init__(port, name)
        self.reply = payload(reply_bytes, seed=7) if reply_bytes else b""
        self.results: list[tuple[int, str]] = []

    def handle(self, conn, conn_id):
        h = hashlib.sha256()
        count = 0
        while True:
            data = conn.recv(65536)
            if not data:
                break
            h.update(data)
            count += len(data)
        with self._lock:
            self.results.append((count, h.hexdigest()))
        conn.sendall(f"{count} {h.hexdigest()}\n".encode() + self.reply)
        conn.shutdown(socket.SHUT_WR)


class TcpBulkServer(ThreadedServer):
    """Per connection: a sender thread writes `send_bytes` of payload(send_bytes, seed)
    (at most `send_rate` bytes/s if given; starting when `start_on` bytes have been
    received, 0 = at once; never if EOF comes first), then shuts down writing; meanwhile the reader hashes what
    arrives until EOF (at most `recv_rate` bytes/s). `results[conn_id]` =
    {"received": n, "sha256": hex, "sent": n, "done": bool}."""

    def __init__(self, send_bytes: int, seed: int = 2, send_rate: float | None = None,
                 recv_rate: float | None = None, start_on: int = 0, port: int = 0,
                 name: str | None = None, chunk: int = 65536):
        super().__init__(port, name)
        self.data = payload(send_bytes, seed) if send_bytes else b""
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.send_rate, self.recv_rate, self.start_on, self.chunk = (
            send_rate, recv_rate, start_on, chunk)
        self.results: dict[int, dict] = {}

    def handle(self, conn, conn_id):
        res = {"received": 0, "sha256": None, "sent": 0, "done": False}
        self.results[conn_id] = res
        started = threading.Event()

        def sender():
            started.wait()
            if res["received"] < self.start_on:
                return  # the client left before asking for the data
            limiter = RateLimiter(self.send_rate)
            view = memoryview(self.data)
            try:
                for off in range(0, len(view), self.chunk):
                    piece = view[off:off + self.chunk]
                    conn.sendall(piece)
                    res["sent"] += len(piece)
                    limiter.consumed(len(piece))
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=sender, daemon=True, name=f"{self.name}-send{conn_id}")
        t.start()
        if self.start_on == 0:
            started.set()
        h = hashlib.sha256()
        limiter = RateLimiter(self.recv_rate)
        try:
            while True:
                data = conn.recv(self.chunk)
                if not data:
                    break
                h.update(data)
                res["received"] += len(data)
                if res["received"] >= self.start_on:
                    started.set()
                limiter.consumed(len(data))
        finally:
            started.set()
            res["sha256"] = h.hexdigest()
            t.join(120)
            res["done"] = True


class TcpHalfCloseFirstServer(ThreadedServer):
    """Sends `greeting`, shuts down its write side at once, then reads until the
    client's EOF; `received[conn_id]` = bytes received after its own shutdown."""

    def __init__(self, greeting: bytes = b"bye\n", port: int = 0, name: str | None = None):
        super().__init__(port, name)
        self.greeting = greeting
        self.received: dict[int, int] = {}
        self.finished: dict[int, bool] = {}

    def handle(self, conn, conn_id):
        conn.sendall(self.greeting)
        conn.shutdown(socket.SHUT_WR)
        self.received[conn_id] = 0
        self.finished[conn_id] = False
        while True:
            data = conn.recv(65536)
            if not data:
                break
            self.received[conn_id] += len(data)
        self.finished[conn_id] = True


class BlackholeListener:
    """A bound, listening socket that never accepts, with its accept queue filled by
    our own connections: further SYNs are dropped, so connect() to it hangs (until the
    connector times out) instead of being refused."""

    def __init__(self):
        self._sock: socket.socket | None = None
        self._fillers: list[socket.socket] = []
        self.port = 0

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(0)  # Linux keeps backlog+1 = 1 connection queued
        self._sock = s
        self.port = s.getsockname()[1]
        for _ in range(8):  # fill the accept queue until a connect stops completing
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self._fillers.append(c)
            sel = selectors.DefaultSelector()
            sel.register(c, selectors.EVENT_WRITE)
            ready = sel.select(0.2)
            sel.close()
            if not ready:
                break  # this one hangs: the queue is full
        return self

    def stop(self) -> None:
        for c in self._fillers:
            c.close()
        if self._sock:
            self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"
