"""Large Content-Length response bodies go from the backend's socket to the client's by
splice(2), without passing through the proxy's memory (README, "Bodies"). What a client sees
must not change: every body byte-exact, around the threshold too; keep-alive on both sides
(the last byte is spliced too, and the parser told: the response ends as always); a backend
that sends more than its Content-Length, or closes, right after a spliced body (that
connection is not reused); a slow client
(what it cannot take goes through the writer: backpressure, bounded memory); a client or a
backend that goes away mid-body; the bytes counted in fulcrum_bytes_sent_total."""
# ctest-label: asan

import hashlib
import socket
import struct
import time

import harness as h
import http_helpers as hh
from http_servers import Response
from wire import SockReader, read_body, read_head, request_heads

BIG = 64 * h.MiB
BLOCK = h.payload(h.MiB, seed=11)


def big_cl_response(size: int) -> Response:
    """`size` bytes with a Content-Length, streamed by the backend in 1 MiB blocks."""
    return Response(200, headers=[("Content-Length", str(size))],
                    body=(BLOCK for _ in range(size // h.MiB)), no_length=True)


class OneWriteLengthBackend(h.ThreadedServer):
    """Answers /extra with a Content-Length body and stray bytes after it in the same write,
    /close with one followed by its close (no Connection: close), anything else with "ok"."""

    BODY = h.payload(200_000, seed=5)

    def handle(self, conn, conn_id):
        reader = SockReader(conn)
        for head in request_heads(reader):
            cl = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
            if head.target == "/extra":
                conn.sendall(cl % len(self.BODY) + self.BODY + b"HTTP/1.1 200 OK\r\n\r\nstray")
            elif head.target == "/close":
                conn.sendall(cl % len(self.BODY) + self.BODY)
                conn.close()
                return
            else:
                conn.sendall(cl % 2 + b"ok")


class Splice(h.FulcrumTestCase):
    def start(self, handler, admin=False):
        b = self.backend(h.HttpBackend("b", record_raw=False, handler=handler))
        port = h.free_port()
        admin_port = h.free_port() if admin else None
        f = self.fulcrum(hh.http_config(port, [hh.pool("p", [b])], admin_port=admin_port))
        return f, port, b, admin_port

    def test_bodies_around_the_threshold_on_one_keep_alive_connection(self):
        sizes = [1, 16383, 16384, 16385, 20000, 32768, 32769, 49152, 65535, 65536, 65537,
                 200_001, 1_048_579, 3 * h.MiB + 17, 5]
        bodies = {f"/{n}": h.payload(n, seed=n % 97) for n in sizes}
        f, port, b, _ = self.start(lambda r: Response(200, body=bodies[r.target]))
        with h.HttpClient(port, timeout=h.scaled(20)) as c:
            for n in sizes:
                r = c.request("GET", f"/{n}")
                self.assertEqual(r.status, 200)
                self.assertTrue(r.complete)
                self.assertEqual(len(r.body), n)
                self.assertEqual(r.body, bodies[f"/{n}"], f"body of {n} bytes differs")
            self.assertFalse(c.is_closed(wait=0.1))
        # One backend connection for all of them: each spliced response ended cleanly.
        self.assertEqual(b.connections, 1)

    def test_large_response_heads_still_come_whole(self):
        # Reads take 16 KiB at most until the head is complete: a 40 KB head takes three.
        body = h.payload(150_000, seed=4)
        headers = [(f"X-Big-{i}", "v" * 390) for i in range(100)]
        f, port, b, _ = self.start(lambda r: Response(200, headers=headers, body=body))
        with h.HttpClient(port, timeout=h.scaled(10)) as c:
            for _ in range(2):
                r = c.request("GET", "/")
                self.assertEqual(r.status, 200)
                for k, v in headers:
                    self.assertEqual(r.header(k), v)
                self.assertEqual(r.body, body)
        self.assertEqual(b.connections, 1)

    def test_pipelined_requests_get_every_body_in_order(self):
        sizes = [70_000, 3, 500_000, 40_000, 1_000_000]
        bodies = {f"/{n}": h.payload(n, seed=n % 89) for n in sizes}
        f, port, b, _ = self.start(lambda r: Response(200, body=bodies[r.target]))
        with h.connect(port, timeout=h.scaled(20)) as s:
            s.sendall(b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in sizes))
            reader = SockReader(s)
            for n in sizes:
                head = read_head(reader, is_request=False)
                body, complete = read_body(reader, head, is_request=False)
                self.assertTrue(complete)
                self.assertEqual(body, bodies[f"/{n}"], f"body of {n} bytes differs")

    def test_slow_client_gets_64_mib_exactly_in_bounded_memory(self):
        f, port, b, _ = self.start(lambda r: big_cl_response(BIG))
        base = f.rss_kib()
        expected = hashlib.sha256()
        for _ in range(BIG // h.MiB):
            expected.update(BLOCK)
        with h.RssSampler(f) as rss, h.connect(port, timeout=h.scaled(30)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            reader = SockReader(s)
            head = read_head(reader, is_request=False)
            self.assertEqual(head.status, 200)
            self.assertEqual(head.get("Content-Length"), str(BIG))
            digest, total = hashlib.sha256(), 0

            def sink(data):
                nonlocal total
                digest.update(data)
                total += len(data)
                time.sleep(len(data) / (40 * h.MiB))

            _, complete = read_body(reader, head, is_request=False, sink=sink)
        self.assertTrue(complete)
        self.assertEqual(total, BIG)
        self.assertEqual(digest.hexdigest(), expected.hexdigest())
        growth = rss.max_kib - base
        self.assertLess(growth, 16 * 1024, f"RSS grew by {growth} KiB for a 64 MiB body")

    def test_client_gone_mid_body_leaves_the_proxy_serving(self):
        body = h.payload(2 * h.MiB, seed=5)

        def handler(r):
            return big_cl_response(32 * h.MiB) if r.target == "/big" else Response(200, body=body)

        f, port, b, _ = self.start(handler)
        for _ in range(3):
            s = h.connect(port, timeout=h.scaled(10))
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            got = 0
            while got < 300_000:
                chunk = s.recv(65536)
                self.assertTrue(chunk, "closed early")
                got += len(chunk)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # a reset, in the middle of the body
        with h.HttpClient(port, timeout=h.scaled(10)) as c:
            for _ in range(3):
                r = c.request("GET", "/small")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, body)
        self.assertTrue(f.running())

    def test_backend_gone_mid_body_closes_the_client_and_the_next_request_is_served(self):
        body = h.payload(4 * h.MiB, seed=9)

        def handler(r):
            if r.target == "/cut":
                return Response(200, body=body, drop_after=2 * h.MiB + 123)
            return Response(200, body=body[:100_000])

        f, port, b, _ = self.start(handler)
        with h.HttpClient(port, timeout=h.scaled(10)) as c:
            r = c.request("GET", "/cut")
            self.assertEqual(r.status, 200)
            self.assertFalse(r.complete, "a cut body looked complete")
            self.assertEqual(r.body, body[:len(r.body)])
            self.assertLess(len(r.body), len(body))
            self.assertTrue(c.is_closed(wait=h.scaled(3)))
        with h.HttpClient(port, timeout=h.scaled(10)) as c:
            r = c.request("GET", "/fine")
            self.assertEqual(r.body, body[:100_000])

    def test_bytes_or_close_after_a_spliced_body_keep_that_connection_from_reuse(self):
        b = self.backend(OneWriteLengthBackend())
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b])]))
        with h.connect(port, timeout=h.scaled(10)) as s:
            reader = SockReader(s)
            for n, target in enumerate(("/extra", "/close", "/extra"), start=1):
                # Pipelined: the next request is taken up as soon as the spliced body ends,
                # while the backend's stray bytes or close are already there to be seen.
                s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
                          % target.encode())
                head = read_head(reader, is_request=False)
                body, complete = read_body(reader, head, is_request=False)
                self.assertEqual((head.status, complete), (200, True), target)
                self.assertEqual(body, OneWriteLengthBackend.BODY, target)
                # The next answer comes from a new backend connection: the stray bytes are
                # never taken for it, and the closed connection is not tried.
                head = read_head(reader, is_request=False)
                body, complete = read_body(reader, head, is_request=False)
                self.assertEqual((head.status, body), (200, b"ok"), f"after {target}")
                self.assertEqual(b.connections, n + 1)

    def test_spliced_bytes_are_counted(self):
        body = h.payload(3 * h.MiB, seed=2)
        f, port, b, admin = self.start(lambda r: Response(200, body=body), admin=True)
        before = hh.metric(hh.metrics(admin), "fulcrum_bytes_sent_total", listener="web")
        pipes = hh.open_pipes(f)
        with h.HttpClient(port, timeout=h.scaled(10)) as c:
            for _ in range(4):
                self.assertEqual(c.request("GET", "/x").body, body)
        # The worker made its splice pipe (two descriptors) for the first large body: the
        # bodies went through it, not through a copy.
        self.assertEqual(hh.open_pipes(f), pipes + 2, "no splice pipe: the bodies were copied")
        after = hh.metric(hh.metrics(admin), "fulcrum_bytes_sent_total", listener="web")
        self.assertGreaterEqual(after - before, 4 * len(body))
        self.assertLess(after - before, 4 * len(body) + 4 * 1024)  # and the four heads


if __name__ == "__main__":
    h.main()
