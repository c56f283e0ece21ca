"""The admin endpoint (CONFIG.md "Admin endpoints") through the real binary: HEAD answered
like GET without a body, 405 naming the allowed methods, short request and keep-alive
timeouts, and idle connections that can never lock the health probes out (at the cap of 64
the connection idle longest makes room for a new one). RFC 9112: an absolute-form target is
routed by its path, an HTTP/1.1 request without Host gets 400, and a head over the limit gets
431 and a clean close, never a reset that would discard the answer."""

import time

import harness as h
import http_helpers as hh
from wire import ConnectionClosed

ADMIN_CAP = 64
TIMEOUT = 5.0  # the admin request and keep-alive idle timeouts
PATHS = ("/healthz", "/readyz", "/metrics", "/status")


def request(method: str, path: str, close: bool = True) -> bytes:
    headers = [("Connection", "close")] if close else []
    return h.build_request(method, path, headers)


def read_to_eof(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Everything the admin endpoint sends back for `raw` until it closes."""
    with h.connect(port, timeout) as s:
        s.sendall(raw)
        return h.recv_to_eof(s)


class Admin(h.FulcrumTestCase):
    def start(self) -> int:
        b = self.backend(h.HttpBackend("b1"))
        port, admin = h.free_port(), h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b])], admin_port=admin))
        return admin

    def assert_closed_by_timeout(self, sock, what: str) -> bytes:
        """The proxy closes `sock` after about TIMEOUT seconds; returns what it sent."""
        start = time.monotonic()
        closed, data = h.wait_closed(sock, h.scaled(TIMEOUT + 1.5))
        elapsed = time.monotonic() - start
        self.assertTrue(closed, f"{what}: still open after {elapsed:.1f}s")
        self.assertGreater(elapsed, TIMEOUT - 1.0, f"{what}: closed before the timeout")
        return data

    def test_idle_connections_do_not_lock_out_health_probes(self):
        admin = self.start()
        idle = []
        try:
            for _ in range(ADMIN_CAP + 6):
                idle.append(h.connect(admin, timeout=5.0))
            for path in ("/healthz", "/readyz", "/metrics"):
                start = time.monotonic()
                try:
                    r = h.http_request(admin, request("GET", path), timeout=2.0)
                except (ConnectionClosed, ConnectionResetError) as e:
                    self.fail(f"GET {path} refused with {len(idle)} idle connections open: {e!r}")
                self.assertEqual(r.status, 200, path)
                self.assertLess(time.monotonic() - start, h.scaled(1.0), path)
            # The room was made by closing the connections idle longest: the first ones.
            closed, _ = h.wait_closed(idle[0], h.scaled(1.0))
            self.assertTrue(closed, "the idlest connection was not closed")
        finally:
            for s in idle:
                s.close()

    def test_silent_connection_is_closed(self):
        admin = self.start()
        with h.connect(admin, timeout=10.0) as s:
            self.assertEqual(self.assert_closed_by_timeout(s, "silent connection"), b"")

    def test_partial_request_head_gets_408(self):
        admin = self.start()
        with h.connect(admin, timeout=10.0) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            data = self.assert_closed_by_timeout(s, "partial head")
        self.assertEqual(hh.status_of(data), 408)

    def test_idle_keepalive_connection_is_closed(self):
        admin = self.start()
        with h.HttpClient(admin, timeout=10.0) as c:
            self.assertEqual(c.request("GET", "/healthz").status, 200)
            self.assert_closed_by_timeout(c.sock, "idle keep-alive connection")

    def test_head_is_get_without_body(self):
        admin = self.start()
        for path in PATHS:
            # /metrics and /status may change between requests (backend checks): retry
            # until GET, HEAD, GET agree.
            for _ in range(5):
                before = h.http_request(admin, request("GET", path))
                raw = read_to_eof(admin, request("HEAD", path))
                after = h.http_request(admin, request("GET", path))
                if len(before.body) == len(after.body):
                    break
            head, sep, rest = raw.partition(b"\r\n\r\n")
            self.assertEqual(sep, b"\r\n\r\n", f"HEAD {path}: no complete head: {raw!r}")
            self.assertEqual(rest, b"", f"HEAD {path}: body bytes after the head")
            self.assertEqual(hh.status_of(raw), before.status, f"HEAD {path}")
            self.assertIn(b"\r\nContent-Length: %d\r\n" % len(before.body), head + b"\r\n",
                          f"HEAD {path}: {head!r}")
            self.assertIn(b"\r\nContent-Type: " + before.header("Content-Type").encode(), head)
            self.assertRegex(before.header("Date") or "", r" GMT$", f"GET {path}: no Date")

    def test_head_then_get_on_one_connection(self):
        admin = self.start()
        with h.HttpClient(admin) as c:
            c.send(request("HEAD", "/metrics", close=False) + request("GET", "/healthz"))
            first = c.read_response()  # framed as HEAD: nothing after the head
            second = c.read_response()
        self.assertEqual(first.status, 200)
        self.assertGreater(int(first.header("Content-Length")), 0)
        self.assertEqual((second.status, second.body), (200, b"ok"))

    def test_other_methods_get_405_with_allow(self):
        admin = self.start()
        for method, path in (("POST", "/healthz"), ("PUT", "/metrics"), ("DELETE", "/readyz")):
            r = h.http_request(admin, request(method, path))
            self.assertEqual(r.status, 405, f"{method} {path}")
            self.assertEqual(r.header("Allow"), "GET, HEAD", f"{method} {path}")

    def test_absolute_form_target_is_routed_by_its_path(self):
        # RFC 9112 3.2.2: a server must accept the absolute-form.
        admin = self.start()
        for target in (f"http://127.0.0.1:{admin}/metrics", f"https://127.0.0.1:{admin}/metrics",
                       "http://admin.example/metrics?x=1"):
            r = h.http_request(admin, request("GET", target))
            self.assertEqual(r.status, 200, target)
            self.assertIn(b"fulcrum_", r.body, target)
        r = h.http_request(admin, request("GET", "http://127.0.0.1:9901/healthz"))
        self.assertEqual((r.status, r.body), (200, b"ok"))
        # No path is "/", which is not an admin page.
        self.assertEqual(h.http_request(admin, request("GET", f"http://127.0.0.1:{admin}")).status,
                         404)

    def test_http11_request_without_host_gets_400(self):
        # RFC 9112 3.2: 400 for an HTTP/1.1 request without Host (or with two).
        admin = self.start()
        for raw in (h.build_request("GET", "/healthz", host=None),
                    h.build_request("GET", "/healthz", [("Host", "a"), ("Host", "b")], host=None),
                    h.build_request("GET", f"http://127.0.0.1:{admin}/healthz", host=None)):
            data = read_to_eof(admin, raw)
            self.assertEqual(hh.status_of(data), 400, raw)
            self.assertIn(b"\r\nConnection: close\r\n", data, raw)
        # HTTP/1.0 needs no Host.
        r = h.http_request(admin, h.build_request("GET", "/healthz", host=None,
                                                  version="HTTP/1.0"))
        self.assertEqual((r.status, r.body), (200, b"ok"))

    def test_oversized_head_gets_431_then_close(self):
        # ~70 KB in one go, over the 32 KiB head limit: the 431 arrives (not a reset that
        # discards it), then the connection closes cleanly.
        admin = self.start()
        raw = h.build_request("GET", "/healthz", [("X-Big", "a" * 70_000)])
        data, reset = b"", False
        with h.connect(admin, timeout=h.scaled(5)) as s:
            s.sendall(raw)
            time.sleep(0.2)  # the answer is there before this client reads
            try:
                while chunk := s.recv(65536):  # until EOF (h.recv_to_eof hides a reset)
                    data += chunk
            except ConnectionResetError:
                reset = True
        self.assertEqual(hh.status_of(data), 431, data[:200])
        head = data.partition(b"\r\n\r\n")[0] + b"\r\n"
        self.assertIn(b"\r\nConnection: close\r\n", head)
        self.assertFalse(reset, "the connection was reset instead of closed")
        self.assertEqual(h.http_request(admin, request("GET", "/healthz")).status, 200)


if __name__ == "__main__":
    h.main()
