"""SIGHUP reload drains what the new config no longer has.

- A removed listener's open keep-alive client connections drain as on SIGTERM: an idle one
  is closed at once, a request in flight is answered with `Connection: close` and the
  connection then closes. A listener kept across the reload keeps its connections as they
  are, and one removed and then added again on the same address serves keep-alive normally.
- A backend removed from a pool loses its pooled idle upstream connections at once (not after
  `timeouts.idle`), and a connection a request in flight releases after the reload is closed,
  not pooled. Backends that stay keep their pooled connections, which are reused.

Backends are real HTTP servers on 127.0.0.1 that count their open connections (`active`).
ctest-label: asan"""

import time

import harness as h
from http_servers import Response

# How soon after a reload the proxy must act (the old behaviour: never, or timeouts.idle).
PROMPT = 2.0


def slow_handler(req):
    """`/slow` is answered after a second (a request still in flight across a reload)."""
    if req.target.startswith("/slow"):
        return Response(200, body=b"slow", delay=1.0)
    return None  # the backend's default JSON answer


def http_listener(name: str, port: int, pool: str = "p") -> str:
    return (f'  - {{ name: {name}, listen: "127.0.0.1:{port}", protocol: http, '
            f"pool: {pool} }}\n")


def config(listeners: list[tuple[str, int]], backends, workers: int = 2) -> str:
    """http listeners (name, port) on one pool `p` of `backends`; the pool keeps idle upstream
    connections for the default timeouts.idle (60 s), far beyond any wait here."""
    text = f"workers: {workers}\nlisteners:\n"
    text += "".join(http_listener(name, port) for name, port in listeners)
    entries = ", ".join(f'{{ address: "{b.address}" }}' for b in backends)
    return text + f"pools:\n  - {{ name: p, backends: [ {entries} ] }}\n"


def is_close(resp) -> bool:
    return any(v.strip().lower() == "close" for v in resp.header_all("Connection"))


class RemovedListenerDrains(h.FulcrumTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend(h.HttpBackend("b0", handler=slow_handler))
        self.main = h.free_port()
        self.extra = h.free_port()
        self.both = config([("main", self.main), ("extra", self.extra)], [self.b])
        self.main_only = config([("main", self.main)], [self.b])

    def client(self, port: int) -> h.HttpClient:
        c = h.HttpClient(port, h.scaled(5))
        self.addCleanup(c.close)
        return c

    def keep_alive(self, c: h.HttpClient, target: str = "/") -> None:
        """One request answered on `c` that leaves the connection open."""
        r = c.request("GET", target)
        self.assertEqual(r.status, 200)
        self.assertFalse(is_close(r), f"{target}: unexpected Connection: close")
        self.assertFalse(c.is_closed(0.05), f"{target}: the proxy closed the connection")

    def test_idle_keep_alive_client_is_closed(self):
        f = self.fulcrum(self.both)
        idle = self.client(self.extra)
        self.keep_alive(idle)
        kept = self.client(self.main)
        self.keep_alive(kept)

        f.reload(self.main_only)
        h.wait_until(lambda: h.port_refuses(self.extra), h.scaled(5), interval=0.05,
                     what=f"removed listener {self.extra} to refuse connections")
        start = time.monotonic()
        self.assertTrue(idle.is_closed(h.scaled(PROMPT)),
                        "an idle keep-alive client of the removed listener was not closed")
        print(f"idle client of the removed listener closed "
              f"{time.monotonic() - start:.3f}s after the reload was applied")
        # The listener that stayed keeps its connection as it was.
        for i in range(3):
            self.keep_alive(kept, f"/kept/{i}")

    def test_request_in_flight_is_answered_with_connection_close(self):
        f = self.fulcrum(self.both)
        busy = self.client(self.extra)
        self.keep_alive(busy)
        busy.send(h.build_request("GET", "/slow/1"))
        # The request has reached the backend: it is in flight during the reload.
        h.wait_until(lambda: self.b.requests_for("/slow/1"), h.scaled(5),
                     what="/slow/1 to reach the backend")
        f.reload(self.main_only)
        r = busy.read_response()
        self.assertEqual((r.status, r.body), (200, b"slow"))
        self.assertTrue(is_close(r), f"no Connection: close after the reload: {r.raw[:300]!r}")
        self.assertTrue(busy.is_closed(h.scaled(PROMPT)),
                        "the connection stayed open after its Connection: close answer")

    def test_next_request_after_reload_gets_connection_close(self):
        # A client whose request arrives just after the reload (the idle close racing it)
        # sees either the connection closed or an answer with Connection: close, never a
        # keep-alive answer from a listener that is gone.
        f = self.fulcrum(self.both)
        c = self.client(self.extra)
        self.keep_alive(c)
        f.reload(self.main_only)
        try:
            c.send(h.build_request("GET", "/after"))
            r = c.read_response()
        except (h.ConnectionClosed, ConnectionError):
            return  # closed: drained
        self.assertTrue(is_close(r), f"keep-alive answer on a removed listener: {r.raw[:300]!r}")
        self.assertTrue(c.is_closed(h.scaled(PROMPT)))

    def test_tcp_session_of_a_removed_listener_ends_at_the_drain_deadline(self):
        # As on SIGTERM, what still runs on a removed listener at shutdown.drain_timeout (a
        # tcp session, a websocket) is closed then; it lived on until its own idle timeout,
        # keeping the old configuration alive with it.
        backend = self.backend(h.TcpIdServer("b"))
        keep, gone = h.free_port(), h.free_port()

        def cfg(ports):
            c = h.tcp_config(ports[0], [backend], drain_timeout="1s")
            for i, p in enumerate(ports[1:]):
                c["listeners"].append({"name": f"extra{i}", "listen": f"127.0.0.1:{p}",
                                       "protocol": "tcp", "pool": "p"})
            return c

        f = self.fulcrum(cfg([keep, gone]))
        with h.connect(gone, h.scaled(5)) as s, h.connect(keep, h.scaled(5)) as kept:
            self.assertEqual(h.recv_line(s), b"b\n")
            self.assertEqual(h.recv_line(kept), b"b\n")
            f.reload(cfg([keep]))
            start = time.monotonic()
            closed, _ = h.wait_closed(s, h.scaled(5))
            self.assertTrue(closed, "the session outlived its listener's drain deadline")
            self.assertGreaterEqual(time.monotonic() - start, 0.8)
            kept.sendall(b"still\n")  # a kept listener's session is untouched
            self.assertEqual(h.recv_line(kept), b"still\n")

    def test_unchanged_listener_keeps_its_busy_connection(self):
        f = self.fulcrum(self.both)
        busy = self.client(self.main)
        self.keep_alive(busy)
        busy.send(h.build_request("GET", "/slow/2"))
        h.wait_until(lambda: self.b.requests_for("/slow/2"), h.scaled(5),
                     what="/slow/2 to reach the backend")
        f.reload(self.main_only)  # removes the other listener only
        r = busy.read_response()
        self.assertEqual(r.status, 200)
        self.assertFalse(is_close(r), "a listener kept across the reload was drained")
        self.keep_alive(busy, "/after")

    def test_removed_then_added_again_serves_keep_alive(self):
        f = self.fulcrum(self.both)
        old = self.client(self.extra)
        self.keep_alive(old)
        f.reload(self.main_only)
        self.assertTrue(old.is_closed(h.scaled(PROMPT)))
        f.reload(self.both)
        again = self.client(self.extra)
        for i in range(3):
            self.keep_alive(again, f"/again/{i}")
        # Another reload that keeps it (same config) leaves its connection alone.
        f.reload(self.both)
        self.keep_alive(again, "/again/last")


class RemovedBackendClosesPooledConnections(h.FulcrumTestCase):
    """One worker, so the pool's per-worker connections are countable exactly."""

    def setUp(self):
        super().setUp()
        self.b = [self.backend(h.HttpBackend(f"b{i}", handler=slow_handler)) for i in range(2)]
        self.port = h.free_port()

    def get(self, target: str) -> str:
        r = h.http_request(self.port, h.build_request("GET", target), h.scaled(5))
        self.assertEqual(r.status, 200, r.raw[:300])
        return r.header("X-Backend")

    def test_idle_pooled_connections_to_a_removed_backend_close(self):
        f = self.fulcrum(config([("web", self.port)], self.b, workers=1))
        seen = {self.get(f"/warm/{i}") for i in range(6)}
        self.assertEqual(seen, {"b0", "b1"}, "round robin over both backends")
        # One pooled connection each, reused by every request.
        self.assertEqual([b.connections for b in self.b], [1, 1])
        self.assertEqual([b.active for b in self.b], [1, 1])

        f.reload(config([("web", self.port)], self.b[0:1], workers=1))  # b1 goes
        start = time.monotonic()
        h.wait_until(lambda: self.b[1].active == 0, h.scaled(PROMPT), interval=0.02,
                     what="the pooled connection to the removed backend b1 to close")
        print(f"pooled connection to the removed backend closed "
              f"{time.monotonic() - start:.3f}s after the reload was applied")
        # The backend that stays keeps its pooled connection, and it is reused.
        self.assertEqual(self.b[0].active, 1)
        for i in range(5):
            self.assertEqual(self.get(f"/after/{i}"), "b0")
        self.assertEqual(self.b[0].connections, 1, "the kept backend's connection was not reused")
        self.assertEqual(self.b[1].connections, 1)

    def test_connection_released_after_reload_to_a_removed_backend_closes(self):
        f = self.fulcrum(config([("web", self.port)], self.b, workers=1))
        for i in range(4):
            self.get(f"/warm/{i}")
        self.assertEqual([b.connections for b in self.b], [1, 1])
        c = h.HttpClient(self.port, h.scaled(5))
        self.addCleanup(c.close)
        c.send(h.build_request("GET", "/slow/x"))
        gone = h.wait_until(lambda: next((b for b in self.b if b.requests_for("/slow/x")), None),
                            h.scaled(5), what="/slow/x to reach a backend")
        stays = self.b[1] if gone is self.b[0] else self.b[0]
        # The backend serving the request in flight is removed from the pool.
        f.reload(config([("web", self.port)], [stays], workers=1))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"slow"))
        self.assertEqual(r.header("X-Backend"), gone.name)
        start = time.monotonic()
        h.wait_until(lambda: gone.active == 0, h.scaled(PROMPT), interval=0.02,
                     what=f"the connection {gone.name} released after the reload to close")
        print(f"connection released to the removed backend closed "
              f"{time.monotonic() - start:.3f}s after its response")
        # The client connection (its listener stayed) and the other backend's pool go on.
        self.assertEqual(stays.active, 1)
        for i in range(3):
            r = c.request("GET", f"/next/{i}")
            self.assertEqual((r.status, r.header("X-Backend")), (200, stays.name))
            self.assertFalse(is_close(r))
        self.assertEqual(stays.connections, 1, "the kept backend's connection was not reused")
        self.assertEqual(gone.connections, 1)

    def test_backend_removed_then_added_again_is_pooled_again(self):
        f = self.fulcrum(config([("web", self.port)], self.b, workers=1))
        for i in range(4):
            self.get(f"/warm/{i}")
        f.reload(config([("web", self.port)], self.b[0:1], workers=1))
        h.wait_until(lambda: self.b[1].active == 0, h.scaled(PROMPT), what="b1 to be closed")
        f.reload(config([("web", self.port)], self.b, workers=1))
        for i in range(6):
            self.get(f"/back/{i}")
        # b1 is pooled again: one new connection, reused.
        self.assertEqual(self.b[1].connections, 2)
        self.assertEqual(self.b[1].active, 1)
        self.assertEqual(self.b[0].connections, 1)


if __name__ == "__main__":
    h.main()
