"""Upgrade rules (issue 4, "WebSocket pass-through", and smuggling): only `Upgrade: websocket`
is an upgrade. Any other Upgrade (h2c above all) is dropped as hop-by-hop and the request
goes on as plain HTTP; a 101 that does not switch to websocket is a 502, never a tunnel; an
upstream connection that carried a refused upgrade is never reused."""

import base64
import os
import time

import harness as h
import http_helpers as hh
from http_servers import Response

# ctest-label: asan

H2C = (b"GET /h2c HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
       b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
SECRET = b"GET /admin/secret HTTP/1.1\r\nHost: internal\r\n\r\n"


def ws_request(path: str, upgrade: str = "websocket", method: str = "GET") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nUpgrade: {upgrade}\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "\r\n").encode()


def saw_secret(b) -> bool:
    return any(b"/admin/secret" in bytes(raw) for raw in b.raw_streams.values())


class UpgradeRules(h.FulcrumTestCase):
    def start(self, backend):
        b = self.backend(backend)
        port, admin = h.free_port(), h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b])], admin_port=admin))
        return b, port, admin

    def test_h2c_upgrade_is_dropped_and_served_as_http(self):
        b, port, admin = self.start(h.HttpBackend("b1"))
        with h.HttpClient(port) as c:
            c.send(H2C)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            seen = {k.lower() for k, _ in r.json()["headers"]}
            self.assertNotIn("upgrade", seen)
            self.assertNotIn("http2-settings", seen)  # named by Connection: hop-by-hop
            # The connection is still HTTP: the next request is parsed and routed.
            r = c.request("GET", "/next")
            self.assertEqual((r.status, r.json()["target"]), (200, "/next"))
        self.assertEqual([r.target for r in b.requests], ["/h2c", "/next"])

    def test_naive_backend_101_to_h2c_is_a_502_not_a_tunnel(self):
        # A backend that switches whatever was asked (the h2c smuggling setup): the proxy asked
        # it for no upgrade, so its 101 is a bad response, and the bytes the client sends next
        # never reach the backend unparsed.
        switch = Response(raw=b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                              b"Connection: Upgrade\r\n\r\n")
        b, port, admin = self.start(h.HttpBackend("b1", handler=lambda req: switch))
        with h.connect(port, timeout=h.scaled(5)) as s:
            s.sendall(H2C)
            closed, data = h.wait_closed(s, h.scaled(3))
            self.assertEqual(hh.status_of(data), 502)
            self.assertTrue(closed)
        time.sleep(0.2)
        self.assertFalse(saw_secret(b))
        self.assertEqual(hh.metric(hh.metrics(admin), "fulcrum_websocket_tunnels_active",
                                   listener="web"), 0)

    def test_101_to_another_protocol_than_websocket_is_a_502(self):
        switch = Response(raw=b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                              b"Connection: Upgrade\r\n\r\n")
        b, port, admin = self.start(h.HttpBackend("b1", handler=lambda req: switch))
        with h.connect(port, timeout=h.scaled(5)) as s:
            s.sendall(ws_request("/ws"))
            time.sleep(0.3)
            try:
                s.sendall(SECRET)
            except OSError:
                pass
            closed, data = h.wait_closed(s, h.scaled(3))
        self.assertEqual(hh.status_of(data), 502)
        self.assertTrue(closed)
        self.assertFalse(saw_secret(b), "bytes after a bogus 101 were tunnelled")
        self.assertEqual(b.requests[0].header("Upgrade"), "websocket")

    def test_other_upgrade_values_are_not_upgrades(self):
        b, port, admin = self.start(h.WebSocketBackend("ws"))
        for value in ("websocket, h2c", "h2c", "WebSocket/13"):
            with h.HttpClient(port) as c:
                c.send(ws_request("/x", upgrade=value))
                r = c.read_response()
                self.assertEqual(r.status, 200, value)  # a plain request to the backend
                self.assertNotIn("upgrade", {k.lower() for k, _ in r.json()["headers"]})
        # A WebSocket handshake is a GET (RFC 6455 4.1): another method's Upgrade is dropped.
        for method in ("POST", "PUT"):
            with h.HttpClient(port) as c:
                c.send(ws_request("/m", method=method))
                r = c.read_response()
                self.assertEqual(r.status, 200, method)
                self.assertNotIn("upgrade", {k.lower() for k, _ in r.json()["headers"]})
        # Case does not matter for the real thing.
        with h.HttpClient(port) as c:
            c.send(ws_request("/y", upgrade="WebSocket"))
            self.assertEqual(c.read_response().status, 101)
            # The backend counts its tunnel after it has sent the 101.
            hh.wait_for(lambda: b.tunnels_total == 1, 3, "the one tunnel")
        time.sleep(0.1)
        self.assertEqual(b.tunnels_total, 1)

    def test_refused_upgrade_connection_is_not_reused(self):
        b, port, admin = self.start(h.WebSocketBackend(
            "ws", upgrade_handler=lambda req: Response(403, body=b"no")))
        with h.HttpClient(port) as c:
            c.send(ws_request("/refused"))
            r = c.read_response()
            self.assertEqual((r.status, r.body), (403, b"no"))
            r = c.request("GET", "/plain")  # same client connection: still HTTP
            self.assertEqual(r.status, 200)
        with h.HttpClient(port) as c:
            self.assertEqual(c.request("GET", "/other").status, 200)
        first, second, third = b.requests
        self.assertNotEqual(first.conn_id, second.conn_id,
                            "the upstream connection of a refused upgrade was reused")
        # Plain requests still share a pooled connection.
        self.assertEqual(second.conn_id, third.conn_id)


if __name__ == "__main__":
    h.main()
