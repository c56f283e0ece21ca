"""Self-test of the e2e harness (no fulcrum needed): the test backends and clients
against each other, so that a failing e2e test points at fulcrum, not at the harness."""

import hashlib
import socket
import threading
import time
import unittest

import harness as h


class TcpServers(unittest.TestCase):
    def test_echo_and_id(self):
        with h.TcpIdServer("b7") as s, h.connect(s.port) as c:
            self.assertEqual(h.recv_line(c), b"b7\n")
            c.sendall(b"hello\n")
            self.assertEqual(h.recv_line(c), b"hello\n")
        h.wait_until(lambda: s.active == 0, 2, what="server to see the close")
        self.assertEqual(s.connections, 1)

    def test_count_reply_after_half_close(self):
        data = h.payload(300_000, 5)
        with h.TcpCountReplyServer(reply_bytes=100_000) as s, h.connect(s.port) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            reply = h.recv_to_eof(c)
        line, _, rest = reply.partition(b"\n")
        self.assertEqual(line.decode(), f"{len(data)} {hashlib.sha256(data).hexdigest()}")
        self.assertEqual(rest, h.payload(100_000, 7))

    def test_bulk_both_ways_rate_limited(self):
        n = 2 * h.MiB
        with h.TcpBulkServer(n, send_rate=4 * h.MiB) as s, h.connect(s.port) as c:
            start = time.monotonic()
            up = h.payload(n, 9)
            t = threading.Thread(target=lambda: (c.sendall(up), c.shutdown(socket.SHUT_WR)))
            t.start()
            got = h.recv_to_eof(c)
            t.join()
            elapsed = time.monotonic() - start
        h.wait_until(lambda: s.results and s.results[1]["done"], 5, what="bulk done")
        self.assertEqual(hashlib.sha256(got).hexdigest(), s.sha256)
        self.assertEqual(s.results[1]["sha256"], hashlib.sha256(up).hexdigest())
        self.assertGreater(elapsed, 0.4)  # 2 MiB at 4 MiB/s

    def test_half_close_first(self):
        with h.TcpHalfCloseFirstServer(b"hi\n") as s, h.connect(s.port) as c:
            self.assertEqual(h.recv_to_eof(c), b"hi\n")
            c.sendall(b"x" * 5000)
            c.shutdown(socket.SHUT_WR)
            h.wait_until(lambda: s.finished.get(1), 2, what="server EOF")
        self.assertEqual(s.received[1], 5000)

    def test_blackhole_connect_hangs(self):
        with h.BlackholeListener() as b:
            c = socket.socket()
            c.settimeout(0.5)
            start = time.monotonic()
            with self.assertRaises(socket.timeout):
                c.connect(("127.0.0.1", b.port))
            self.assertGreaterEqual(time.monotonic() - start, 0.45)
            c.close()

    def test_stop_unblocks_connections(self):
        s = h.TcpEchoServer().start()
        c = h.connect(s.port)
        c.sendall(b"x")
        h.recv_exact(c, 1)
        start = time.monotonic()
        s.stop()
        self.assertLess(time.monotonic() - start, 2)
        self.assertTrue(h.wait_closed(c, 2)[0])
        c.close()
        self.assertTrue(h.port_refuses(s.port))


class Http(unittest.TestCase):
    def test_default_echo_and_keepalive(self):
        with h.HttpBackend("hb") as b, h.HttpClient(b.port) as c:
            r1 = c.request("GET", "/a", [("X-T", "1")])
            r2 = c.request("POST", "/b", body=b"12345")
            self.assertEqual(r1.status, 200)
            self.assertEqual(r1.header("X-Backend"), "hb")
            self.assertEqual(r1.json()["target"], "/a")
            self.assertEqual(r2.json()["body_len"], 5)
            self.assertEqual(r1.json()["conn_id"], r2.json()["conn_id"])
        self.assertEqual([r.target for r in b.requests], ["/a", "/b"])
        self.assertEqual(b.requests[1].body, b"12345")
        self.assertTrue(b.raw_streams[1].startswith(b"GET /a HTTP/1.1\r\n"))

    def test_chunked_request_and_response(self):
        body = [b"abc", b"defgh"]
        b = h.HttpBackend("c", handler=lambda req: h.Response(200, body=iter(body))).start()
        try:
            raw = (b"POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n")
            r = h.http_request(b.port, raw)
            self.assertEqual((r.status, r.body, r.complete), (200, b"abcdefgh", True))
            self.assertEqual(r.header("Transfer-Encoding"), "chunked")
            self.assertEqual(b.requests[0].body, b"abcde")
        finally:
            b.stop()

    def test_strict_parsing_rejects_smuggling_shapes(self):
        bad = [
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
            b"\r\n\r\n0\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\nHost: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\nab",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        ]
        with h.HttpBackend("s") as b:
            for raw in bad:
                r = h.http_request(b.port, raw, read_all=True)
                self.assertEqual(r.status, 400, raw)
            self.assertEqual(len(b.protocol_errors), len(bad))
            self.assertEqual(b.requests, [])

    def test_truncated_response_is_incomplete(self):
        resp = h.Response(200, body=b"x" * 1000, drop_after=100)
        with h.HttpBackend("d", handler=resp) as b:
            r = h.http_request(b.port, h.build_request())
        self.assertFalse(r.complete)
        self.assertEqual(len(r.body), 100)

    def test_head_204_and_expect_continue(self):
        def handler(req):
            return h.Response(204) if req.target == "/nc" else None
        with h.HttpBackend("e", handler=handler) as b, h.HttpClient(b.port) as c:
            r = c.request("HEAD", "/")
            self.assertEqual(r.body, b"")
            self.assertGreater(int(r.header("Content-Length")), 0)
            self.assertEqual(c.request("GET", "/nc").status, 204)
            r = c.request("PUT", "/x", [("Expect", "100-continue")], b"data")
            self.assertEqual([i.status for i in r.interim], [100])
            self.assertEqual(r.json()["body_len"], 4)

    def test_http10_and_close(self):
        with h.HttpBackend("o") as b, h.HttpClient(b.port) as c:
            r = c.request("GET", "/", version="HTTP/1.0")
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(c.is_closed(wait=2))


class WebSocket(unittest.TestCase):
    def test_echo_1mib_both_ways(self):
        big = h.payload(h.MiB, 3)
        with h.WebSocketBackend("w") as b, h.WsClient.connect(b.port, "/ws") as ws:
            self.assertEqual(ws.response.header("X-Backend"), "w")
            ws.send(big)
            self.assertEqual(ws.recv_message(), (h.WS_BINARY, big))
            ws.send_text("hi")
            self.assertEqual(ws.recv_message(), (h.WS_TEXT, b"hi"))
            ws.ping(b"p")
            f = ws.recv()
            self.assertEqual((f.opcode, f.payload, f.masked), (h.WS_PONG, b"p", False))
            h.wait_until(lambda: b.tunnels_active == 1, 2, what="tunnel")

    def test_refused_upgrade_stays_http(self):
        with h.WebSocketBackend("w", upgrade_handler=lambda r: h.Response(403)) as b:
            ws = h.WsClient.connect(b.port, expect_101=False)
            self.assertEqual(ws.response.status, 403)
            ws.sock.sendall(h.build_request("GET", "/after"))
            c = h.HttpClient.__new__(h.HttpClient)
            c.sock, c.reader, c.methods = ws.sock, ws.reader, ["GET"]
            self.assertEqual(c.read_response().json()["target"], "/after")
            ws.sock.close()


class Config(unittest.TestCase):
    def test_listen_ports(self):
        text = ('listeners:\n  - name: a  # listen: 1.1.1.1:1\n    listen: "127.0.0.1:81"\n'
                '  - { name: b, listen: "[::1]:82", pool: p }\nadmin: { listen: 127.0.0.1:83 }\n')
        self.assertEqual(h.config_listen_ports(text), [81, 82, 83])

    def test_to_yaml(self):
        y = h.to_yaml({"workers": 2, "pools": [{"name": "p", "backends": [
            {"address": "127.0.0.1:1", "weight": 0}]}], "log": {"access_log": "off"}})
        self.assertEqual(y, 'workers: 2\npools:\n  - name: p\n    backends:\n'
                            '      - address: "127.0.0.1:1"\n        weight: 0\n'
                            'log:\n  access_log: "off"\n')

    def test_free_port_unique(self):
        ports = {h.free_port() for _ in range(50)}
        self.assertEqual(len(ports), 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
