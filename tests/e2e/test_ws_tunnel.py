"""WebSocket pass-through (issue 4): a 101 turns both connections into a tunnel (the L4
byte pump); 1 MiB frames pass byte-exact both ways; any other answer goes back and the
connection stays HTTP; `websocket.idle_timeout`; `fulcrum_websocket_tunnels_active`;
plain requests on the same listener are unaffected."""

import base64
import os
import time

import harness as h
import http_helpers as hh
from http_servers import Response
from wire import WS_BINARY, WS_TEXT, SockReader, read_head, ws_accept_key, ws_encode_frame


class Tunnel(h.FulcrumTestCase):
    def start(self, pool_extra=None, **kw):
        b = self.backend(h.WebSocketBackend("ws", **kw))
        port, admin = h.free_port(), h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b], **(pool_extra or {}))],
                                    admin_port=admin))
        return b, port, admin

    def test_echo_and_1mib_frames_both_ways(self):
        b, port, admin = self.start()
        with h.WsClient.connect(port, "/chat", timeout=h.scaled(10)) as ws:
            self.assertEqual(ws.response.header("Upgrade"), "websocket")
            ws.send_text("hello")
            self.assertEqual(ws.recv_message(), (WS_TEXT, b"hello"))
            for seed in range(3):
                data = h.payload(h.MiB, seed=seed)
                ws.send(data)
                opcode, got = ws.recv_message()
                self.assertEqual(opcode, WS_BINARY)
                self.assertEqual(len(got), len(data))
                self.assertTrue(got == data, "1 MiB frame altered in the tunnel")
        req = b.requests[0]
        self.assertEqual(req.header("Upgrade"), "websocket")
        self.assertIn("upgrade", req.header("Connection").lower())
        self.assertIsNotNone(req.header("Sec-WebSocket-Key"))

    def test_many_large_frames_pipelined(self):
        # Several MiB in flight at once in both directions: backpressure, nothing lost.
        b, port, admin = self.start()
        frames = [h.payload(h.MiB + i, seed=10 + i) for i in range(6)]
        with h.WsClient.connect(port, timeout=h.scaled(20)) as ws:
            import threading
            sender = threading.Thread(target=lambda: [ws.send(f) for f in frames])
            sender.start()
            for f in frames:
                self.assertTrue(ws.recv_message()[1] == f)
            sender.join(h.scaled(10))

    def test_bytes_right_after_the_handshake(self):
        b, port, admin = self.start()
        key = base64.b64encode(os.urandom(16)).decode()
        raw = (f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        # The first frame travels in the same packet as the upgrade request.
        c = h.HttpClient(port)
        c.send(raw + ws_encode_frame(WS_TEXT, b"early"))
        resp = c.read_response()
        self.assertEqual(resp.status, 101)
        self.assertEqual(resp.header("Sec-WebSocket-Accept"), ws_accept_key(key))
        ws = h.WsClient(c.sock, c.reader, resp)
        self.assertEqual(ws.recv_message(), (WS_TEXT, b"early"))
        ws.close()

    def test_refused_upgrade_stays_http(self):
        refusals = {
            "/forbidden": Response(403, body=b"no"),
            # A version the backend does not speak: 426 names what it does (RFC 6455 4.4).
            "/old": Response(426, body=b"v13", headers=[
                ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13")]),
        }
        b, port, admin = self.start(upgrade_handler=lambda req: refusals.get(req.target))
        key = base64.b64encode(os.urandom(16)).decode()
        with h.HttpClient(port) as c:
            r = c.request("GET", "/forbidden", headers=[
                ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
            self.assertEqual((r.status, r.body), (403, b"no"))
            self.assertIsNone(r.header("Upgrade"))
            r = c.request("GET", "/old", headers=[
                ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "8")])
            # RFC 9110 15.5.22: a 426 carries Upgrade (with its Connection option).
            self.assertEqual((r.status, r.body), (426, b"v13"))
            self.assertEqual(r.header("Upgrade"), "websocket")
            self.assertEqual(r.header("Connection"), "upgrade")
            self.assertEqual(r.header("Sec-WebSocket-Version"), "13")
            # Same connection, plain HTTP again.
            r = c.request("GET", "/plain")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["target"], "/plain")

    def test_plain_requests_unaffected_and_tunnel_metric(self):
        b, port, admin = self.start()
        tunnels = [h.WsClient.connect(port, f"/t{i}") for i in range(3)]
        try:
            hh.wait_for(lambda: hh.metric(hh.metrics(admin), "fulcrum_websocket_tunnels_active",
                                          listener="web") == 3, 3, "3 tunnels in the gauge")
            with h.HttpClient(port) as c:
                for i in range(10):
                    self.assertEqual(c.request("GET", f"/p{i}").status, 200)
            for i, ws in enumerate(tunnels):
                ws.send_text(f"m{i}")
                self.assertEqual(ws.recv_message(), (WS_TEXT, f"m{i}".encode()))
        finally:
            for ws in tunnels:
                ws.close()
        hh.wait_for(lambda: hh.metric(hh.metrics(admin), "fulcrum_websocket_tunnels_active",
                                      listener="web") == 0, 3, "tunnel gauge back to 0")
        self.assertGreaterEqual(hh.metric(hh.metrics(admin), "fulcrum_http_requests_total",
                                          code=101), 3)

    def test_bytes_sent_counts_http_and_tunnel_bytes(self):
        # fulcrum_bytes_sent_total follows a keep-alive connection as it goes (not only when
        # it closes) and includes the 101 and everything the tunnel carried after it.
        b, port, admin = self.start()

        def sent():
            return hh.metric(hh.metrics(admin), "fulcrum_bytes_sent_total", listener="web")

        with h.connect(port, h.scaled(5)) as s:
            reader = SockReader(s, record=True)  # .raw: every byte the client received
            for i in range(3):
                s.sendall(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                head = read_head(reader, is_request=False)
                reader.read_exact(int(head.get("Content-Length")))
                hh.wait_for(lambda: sent() == len(reader.raw), 3,
                            f"{len(reader.raw)} bytes counted")
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall((f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                       f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
            self.assertEqual(read_head(reader, is_request=False).status, 101)
            s.sendall(ws_encode_frame(WS_TEXT, b"hi"))
            reader.read_exact(4)  # the echo: 2-byte header, "hi"
            received = len(reader.raw)
        hh.wait_for(lambda: sent() == received, 3, f"{received} bytes counted after the tunnel")

    def test_access_log_line_when_the_tunnel_ends(self):
        # A plain request is logged when it is answered; a tunnel when it ends, with what it
        # carried both ways and how long it lived (as nginx and HAProxy log them).
        b = self.backend(h.WebSocketBackend("ws"))
        port = h.free_port()
        log_path = os.path.join(self.tmp, "access.log")
        self.fulcrum(f'log: {{ access_log: "{log_path}", format: json }}\n' +
                     hh.http_config(port, [hh.pool("p", [b])]))

        def lines():
            return hh.access_log_lines(log_path)

        with h.HttpClient(port) as c:
            self.assertEqual(c.request("GET", "/plain").status, 200)
        hh.wait_for(lambda: len(lines()) == 1, 3, "the plain request's line")
        self.assertEqual((lines()[0]["path"], lines()[0]["status"]), ("/plain", 200))
        ws = h.WsClient.connect(port, "/chat")
        payload = h.payload(100_000)
        ws.send(payload)
        self.assertTrue(ws.recv_message()[1] == payload)
        time.sleep(0.3)
        self.assertEqual(len(lines()), 1, "tunnel logged before it ended")
        ws.close()
        hh.wait_for(lambda: len(lines()) == 2, 3, "the tunnel's line")
        t = lines()[1]
        self.assertEqual((t["method"], t["path"], t["status"]), ("GET", "/chat", 101))
        self.assertGreater(t["bytes_in"], len(payload))
        self.assertGreater(t["bytes_out"], len(payload))
        self.assertGreaterEqual(t["duration_ms"], 300)
        self.assertEqual(t["backend"], b.address)

    def test_sticky_cookie_applies_to_upgrades(self):
        backends = [self.backend(h.WebSocketBackend(f"ws{i}")) for i in range(3)]
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool(
            "p", backends, sticky="{ mode: cookie, cookie: STICKY, secret: s }")]))
        first = h.WsClient.connect(port)
        cookie = first.response.header("Set-Cookie")
        self.assertRegex(cookie or "", r"^STICKY=[^;]+; Path=/; HttpOnly$")
        landed = first.response.header("X-Backend")
        first.close()
        for _ in range(6):
            with h.WsClient.connect(port, headers=[("Cookie", cookie.split(";")[0])]) as ws:
                self.assertEqual(ws.response.header("X-Backend"), landed)
                self.assertIsNone(ws.response.header("Set-Cookie"))
                ws.send_text("hi")
                self.assertEqual(ws.recv_message(), (WS_TEXT, b"hi"))

    def test_idle_timeout_closes_tunnel(self):
        b, port, admin = self.start({"websocket": "{ idle_timeout: 500ms }"})
        ws = h.WsClient.connect(port)
        ws.send_text("x")
        self.assertEqual(ws.recv_message(), (WS_TEXT, b"x"))
        closed, _ = h.wait_closed(ws.sock, h.scaled(3))
        self.assertTrue(closed, "idle tunnel not closed")
        ws.sock.close()
        hh.wait_for(lambda: b.tunnels_active == 0, 3, "backend side closed too")

    def test_idle_timeout_counts_from_the_last_byte(self):
        # Traffic early in a period must not buy a second period: the tunnel ends one timeout
        # after its last byte (a timer that only checked on fixed ticks closed it at 2x).
        b, port, admin = self.start({"websocket": "{ idle_timeout: 1s }"})
        ws = h.WsClient.connect(port)
        time.sleep(0.1)
        ws.send_text("x")
        self.assertEqual(ws.recv_message(), (WS_TEXT, b"x"))
        last = time.monotonic()
        closed, _ = h.wait_closed(ws.sock, h.scaled(4))
        idle = time.monotonic() - last
        ws.sock.close()
        self.assertTrue(closed, "idle tunnel not closed")
        self.assertGreater(idle, 0.9, f"closed {idle:.2f}s after the last byte")
        self.assertLess(idle, 1.0 + h.scaled(0.4), f"closed {idle:.2f}s after the last byte")


if __name__ == "__main__":
    h.main()
