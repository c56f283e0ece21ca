"""Large Content-Length request bodies go from the client's socket to the backend's by
splice(2), as large response bodies go the other way (README, "Bodies"). What a backend sees
must not change: every body byte-exact, around the threshold too, on one keep-alive backend
connection (the last byte is spliced too, and the parser told: the request ends as always);
a request pipelined right after a spliced body; a backend that reads slowly (what it cannot
take goes through the writer: backpressure, bounded memory); `Expect: 100-continue`; a
client that goes away mid-body; a backend that answers early; the bytes counted in
fulcrum_bytes_received_total and the access log."""
# ctest-label: asan

import hashlib
import socket
import struct
import time

import harness as h
import http_helpers as hh
from http_servers import Response
from wire import SockReader, read_body, read_head

BLOCK = h.payload(h.MiB, seed=21)


def slow_backend() -> h.SlowReadingBackend:
    """Reads each body at 40 MiB/s through a 64 KiB receive buffer: the proxy's splices
    into it fall short, and what they left goes through the writer."""
    b = h.SlowReadingBackend(name="slow")
    b.rcvbuf = 64 * 1024
    return b


class EarlyAnswer(h.ThreadedServer):
    """Reads a request's head and 1 MiB of its body, then answers 401 and closes (draining a
    little first, so that its close is not a reset)."""

    def handle(self, conn, conn_id):
        reader = SockReader(conn)
        read_head(reader, is_request=True)
        got = len(reader.buf)
        while got < h.MiB:
            chunk = conn.recv(65536)
            if not chunk:
                return
            got += len(chunk)
        hh.refuse_with_401_and_close(conn)


class UploadSplice(h.FulcrumTestCase):
    def start(self, backend=None, admin=False, extra=""):
        b = self.backend(backend or h.HttpBackend(
            "b", record_raw=False, store_bodies=False, handler=Response(200, body=b"ok")))
        port = h.free_port()
        admin_port = h.free_port() if admin else None
        f = self.fulcrum(extra + hh.http_config(port, [hh.pool("p", [b])],
                                                admin_port=admin_port))
        return f, port, b, admin_port

    def test_bodies_around_the_threshold_on_one_keep_alive_connection(self):
        sizes = [1, 16383, 16384, 16385, 20000, 65536, 65537, 262_143, 262_145, 200_001,
                 1_048_579, 5 * h.MiB + 17, 7]
        f, port, b, _ = self.start()
        before = hh.open_pipes(f)
        with h.HttpClient(port, timeout=h.scaled(20)) as c:
            for n in sizes:
                r = c.request("POST", f"/{n}", body=h.payload(n, seed=n % 101))
                self.assertEqual((r.status, r.body), (200, b"ok"), f"{n} bytes")
            self.assertFalse(c.is_closed(wait=0.1))
        hh.wait_for(lambda: len(b.requests) == len(sizes), 3, "every request at the backend")
        for n, req in zip(sizes, b.requests):
            self.assertEqual(req.target, f"/{n}")
            self.assertTrue(req.complete, f"{n} bytes")
            self.assertEqual(req.body_len, n)
            self.assertEqual(req.body_sha256,
                             hashlib.sha256(h.payload(n, seed=n % 101)).hexdigest(), f"{n} bytes")
        # One backend connection for all of them: each spliced body ended its request cleanly.
        self.assertEqual(b.connections, 1)
        # The worker made its splice pipe (two descriptors) for the first large body: the
        # bodies went through it, not through a copy (the answers are 2 bytes).
        self.assertEqual(hh.open_pipes(f), before + 2, "no splice pipe: the bodies were copied")

    def test_requests_pipelined_after_a_spliced_body_come_in_order(self):
        one, two = h.payload(3 * h.MiB + 5, seed=1), h.payload(100_000, seed=2)
        f, port, b, _ = self.start()
        with h.connect(port, timeout=h.scaled(20)) as s:
            s.sendall(b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(one)
                      + one + b"GET /get HTTP/1.1\r\nHost: x\r\n\r\n"
                      + b"PUT /two HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(two)
                      + two + b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
            reader = SockReader(s)
            for _ in range(4):
                head = read_head(reader, is_request=False)
                body, complete = read_body(reader, head, is_request=False)
                self.assertEqual((head.status, body, complete), (200, b"ok", True))
        hh.wait_for(lambda: len(b.requests) == 4, 3, "four requests at the backend")
        got = [(r.method, r.target, r.body_len, r.body_sha256) for r in b.requests]
        self.assertEqual(got, [
            ("POST", "/one", len(one), hashlib.sha256(one).hexdigest()),
            ("GET", "/get", 0, hashlib.sha256(b"").hexdigest()),
            ("PUT", "/two", len(two), hashlib.sha256(two).hexdigest()),
            ("GET", "/last", 0, hashlib.sha256(b"").hexdigest()),
        ])
        self.assertEqual(b.connections, 1)

    def test_slow_backend_gets_64_mib_exactly_in_bounded_memory(self):
        size = 64 * h.MiB
        f, port, b, _ = self.start(slow_backend())
        base = f.rss_kib()
        expected = hashlib.sha256()
        for _ in range(size // h.MiB):
            expected.update(BLOCK)
        with h.RssSampler(f) as rss, h.connect(port, timeout=h.scaled(30)) as s:
            for n in (1, 2):  # twice on one connection: the pooled backend connection too
                s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
                for _ in range(size // h.MiB):
                    s.sendall(BLOCK)
                reader = SockReader(s)
                head = read_head(reader, is_request=False)
                body, _ = read_body(reader, head, is_request=False)
                self.assertEqual(head.status, 200)
                self.assertEqual(body.decode(), f"{size} {expected.hexdigest()}", f"upload {n}")
        growth = rss.max_kib - base
        self.assertLess(growth, 16 * 1024, f"RSS grew by {growth} KiB for a 64 MiB body")
        self.assertEqual(b.connections, 1)

    def test_expect_100_continue_then_a_spliced_body(self):
        body = h.payload(3 * h.MiB, seed=7)
        f, port, b, _ = self.start()
        with h.connect(port, timeout=h.scaled(20)) as s:
            s.sendall(b"PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            reader = SockReader(s)
            head = read_head(reader, is_request=False)
            self.assertEqual(head.status, 100)
            s.sendall(body)
            head = read_head(reader, is_request=False)
            answer, complete = read_body(reader, head, is_request=False)
            self.assertEqual((head.status, answer, complete), (200, b"ok", True))
        hh.wait_for(lambda: len(b.requests) == 1, 3, "the request at the backend")
        self.assertEqual(b.requests[0].body_sha256, hashlib.sha256(body).hexdigest())

    def test_client_gone_mid_body_leaves_the_proxy_serving(self):
        f, port, b, _ = self.start()
        for reset in (True, False, True):
            s = h.connect(port, timeout=h.scaled(10))
            s.sendall(b"POST /cut HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (32 * h.MiB))
            for _ in range(3):
                s.sendall(BLOCK)
            time.sleep(0.1)
            if reset:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # a reset or a FIN, in the middle of the body
        # The backend saw each one end short: its connection was closed, not reused.
        hh.wait_for(lambda: len(b.requests) == 3, 5, "three cut requests at the backend")
        for req in b.requests:
            self.assertFalse(req.complete)
            self.assertLess(req.body_len, 32 * h.MiB)
        with h.HttpClient(port, timeout=h.scaled(10)) as c:
            for n in range(3):
                body = h.payload(500_000, seed=n)
                self.assertEqual(c.request("POST", "/fine", body=body).status, 200)
        hh.wait_for(lambda: len(b.requests) == 6, 3, "the next three requests")
        self.assertTrue(all(r.complete and r.body_len == 500_000 for r in b.requests[3:]))
        self.assertTrue(f.running())

    def test_backend_early_answer_mid_body_reaches_the_client(self):
        f, port, b, _ = self.start(EarlyAnswer())
        size = 16 * h.MiB
        with h.connect(port, timeout=h.scaled(20)) as s:
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
            # Like most clients, it sends its whole body before it reads anything.
            send_error = None
            try:
                for _ in range(size // h.MiB):
                    s.sendall(BLOCK)
            except OSError as e:
                send_error = type(e).__name__
            closed, data = h.wait_closed(s, h.scaled(5))
        self.assertIsNone(send_error, "the proxy reset the connection under the upload")
        self.assertTrue(closed)
        self.assertEqual(hh.status_of(data), 401)
        self.assertTrue(data.endswith(b"denied"), data[-200:])
        self.assertTrue(f.running())

    def test_spliced_bytes_are_counted(self):
        body = h.payload(3 * h.MiB, seed=2)
        log_path = f"{self.tmp}/access.log"
        f, port, b, admin = self.start(
            admin=True, extra=f'log: {{ access_log: "{log_path}", format: json }}\n')
        before = hh.metric(hh.metrics(admin), "fulcrum_bytes_received_total", listener="web")
        head = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
        with h.connect(port, timeout=h.scaled(10)) as s:
            reader = SockReader(s)
            for _ in range(4):
                s.sendall(head + body)
                answer = read_head(reader, is_request=False)
                self.assertEqual(read_body(reader, answer, is_request=False), (b"ok", True))
        after = hh.metric(hh.metrics(admin), "fulcrum_bytes_received_total", listener="web")
        self.assertEqual(after - before, 4 * (len(head) + len(body)))
        hh.wait_for(lambda: len(hh.access_log_lines(log_path)) == 4, 3, "four log lines")
        for line in hh.access_log_lines(log_path):
            self.assertEqual((line["status"], line["bytes_in"]), (200, len(head) + len(body)))


if __name__ == "__main__":
    h.main()
