"""Bodies are streamed, never buffered whole (issue 4): 64 MiB down to a client that reads
slowly and 64 MiB up to a backend that reads slowly both arrive byte-exact while the
proxy's RSS stays far below the body size (backpressure both ways)."""

import hashlib
import socket
import time

import harness as h
import http_helpers as hh
from http_servers import Response
from wire import SockReader, read_body, read_head, request_heads

SIZE = 64 * h.MiB
BLOCK = h.payload(h.MiB, seed=3)
RSS_GROWTH_KIB = 16 * 1024  # a quarter of the 64 MiB body, above the RSS before it


def expected_digest() -> str:
    d = hashlib.sha256()
    for _ in range(SIZE // h.MiB):
        d.update(BLOCK)
    return d.hexdigest()


# Chunk sizes around the no-copy threshold (8 KiB) and the read buffer (32 KiB), so that one
# read holds several chunks, and chunks straddle reads.
CHUNK_SIZES = [9000, 20000, 100, 8192, 40000, 8191, 16384, 3, 65536, 12000] * 6


def chunked_body(sizes, seed):
    data = h.payload(sum(sizes), seed=seed)
    out, at = bytearray(), 0
    for n in sizes:
        out += b"%x\r\n" % n + data[at:at + n] + b"\r\n"
        at += n
    return data, bytes(out + b"0\r\n\r\n")


class OneWriteBackend(h.ThreadedServer):
    """Answers each request on a connection with a whole chunked response written at once
    (head, every chunk, last chunk), or with a close-delimited one for /close."""

    def handle(self, conn, conn_id):
        reader = SockReader(conn)
        for n, head in enumerate(request_heads(reader), start=1):
            if head.target == "/close":
                data = h.payload(1536 * 1024, seed=9)
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + data)
                conn.shutdown(socket.SHUT_WR)
                return
            _, wire = chunked_body(CHUNK_SIZES, seed=n)
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + wire)


class Streaming(h.FulcrumTestCase):
    def test_rechunked_responses_are_byte_exact(self):
        """A chunked (or close-delimited) backend answer is re-chunked for an HTTP/1.1 client;
        large pieces go out from the read buffer, small ones are copied, and the client gets
        every byte in order, valid framing, and the connection stays usable."""
        b = self.backend(OneWriteBackend())
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b])]))
        with h.connect(port, timeout=h.scaled(10)) as s:
            reader = SockReader(s)
            for n in (1, 2, 3):  # three responses on one client connection
                s.sendall(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
                head = read_head(reader, is_request=False)
                self.assertEqual(head.status, 200)
                self.assertEqual(head.get("Transfer-Encoding"), "chunked")
                body, complete = read_body(reader, head, is_request=False)
                self.assertTrue(complete)
                want, _ = chunked_body(CHUNK_SIZES, seed=n)
                self.assertEqual(len(body), len(want))
                self.assertEqual(hashlib.sha256(body).hexdigest(),
                                 hashlib.sha256(want).hexdigest(), f"response {n}")
            # A close-delimited answer is re-chunked too, so the client connection survives it.
            s.sendall(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
            head = read_head(reader, is_request=False)
            self.assertEqual(head.get("Transfer-Encoding"), "chunked")
            body, complete = read_body(reader, head, is_request=False)
            self.assertTrue(complete)
            self.assertEqual(body, h.payload(1536 * 1024, seed=9))
            s.sendall(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
            head = read_head(reader, is_request=False)
            body, complete = read_body(reader, head, is_request=False)
            self.assertTrue(complete)
            self.assertEqual(len(body), sum(CHUNK_SIZES))

    def assertRssBounded(self, base, rss):
        growth = rss.max_kib - base
        print(f"RSS {base} KiB before, +{growth} KiB at most", end=" ")
        self.assertLess(growth, RSS_GROWTH_KIB, f"RSS grew by {growth} KiB")

    def test_download_to_slow_client(self):
        b = self.backend(h.HttpBackend("b", record_raw=False, handler=lambda r: Response(
            200, body=(BLOCK for _ in range(SIZE // h.MiB)))))
        port = h.free_port()
        f = self.fulcrum(hh.http_config(port, [hh.pool("p", [b])]))
        base = f.rss_kib()
        with h.RssSampler(f) as rss, h.connect(port, timeout=h.scaled(30)) as s:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            reader = SockReader(s)
            head = read_head(reader, is_request=False)
            self.assertEqual(head.status, 200)
            digest = hashlib.sha256()
            total = 0

            def sink(data):
                nonlocal total
                digest.update(data)
                total += len(data)
                time.sleep(len(data) / (40 * h.MiB))  # the client reads at ~40 MiB/s

            _, complete = read_body(reader, head, is_request=False, sink=sink)
        self.assertTrue(complete)
        self.assertEqual(total, SIZE)
        self.assertEqual(digest.hexdigest(), expected_digest())
        self.assertRssBounded(base, rss)

    def test_memory_of_a_spike_of_slow_clients_goes_back(self):
        # 160 clients ask for 4 MiB each and read nothing for a while: past what the kernel's
        # socket buffers take, every writer fills to its high watermark, tens of MiB in all.
        # Once they have read everything and gone, the memory goes back to the system
        # (malloc_trim after the spike). malloc alone kept it:
        # the process stayed at its peak, which looks like a leak to whoever watches RSS.
        if h.SANITIZE:
            self.skipTest("the sanitizer's allocator keeps freed memory in its own quarantine")
        body = h.payload(4 * h.MiB, seed=5)
        b = self.backend(h.HttpBackend("b", record_raw=False, handler=lambda r: Response(
            200, body=body)))
        port = h.free_port()
        f = self.fulcrum(hh.http_config(port, [hh.pool("p", [b])], workers=1))
        base = f.rss_kib()
        clients = []
        try:
            for _ in range(160):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(h.scaled(30))
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /mib HTTP/1.1\r\nHost: x\r\n\r\n")
                clients.append(s)
            # The writers hold what the kernel's buffers did not take: tens of MiB. Where
            # the kernel took nearly all of it, there is no spike to give back, and nothing
            # to test.
            try:
                hh.wait_for(lambda: f.rss_kib() - base > 28 * 1024, h.scaled(10),
                            "the writers filled up")
            except TimeoutError:
                self.skipTest(f"no spike: RSS grew by {f.rss_kib() - base} KiB only")
            peak = f.rss_kib()
            for s in clients:
                reader = SockReader(s)
                head = read_head(reader, is_request=False)
                self.assertEqual(head.status, 200)
                _, complete = read_body(reader, head, is_request=False, sink=lambda d: None)
                self.assertTrue(complete)
        finally:
            for s in clients:
                s.close()
        # The pool keeps up to 512 buffers of 32 KiB (16 MiB) for the next requests, and the
        # allocator some MiB between chunks still in use (4.5 on a busy machine).
        try:
            hh.wait_for(lambda: f.rss_kib() < base + 22 * 1024, h.scaled(10), "RSS back")
        except TimeoutError:
            self.fail(f"RSS {f.rss_kib()} KiB 10 s after the spike: not back near {base} KiB "
                      f"(peak {peak} KiB)")

    def test_client_that_does_not_read_a_rechunked_body_holds_bounded_memory(self):
        # A chunked answer is re-chunked: each piece read from the backend is written from its
        # read buffer, its chunk-size line from a buffer of its own. Backpressure counts
        # those buffers, not only the bytes, so a client that reads nothing holds about the
        # high watermark (256 KiB) and a read: 404 KiB per client when bytes alone counted.
        if h.SANITIZE:
            self.skipTest("the sanitizer's allocator keeps freed memory in its own quarantine")
        block = h.payload(64 * 1024, seed=8)
        b = self.backend(h.HttpBackend("b", record_raw=False, handler=lambda r: Response(
            200, body=(block for _ in range(128)), chunked=True)))
        port = h.free_port()
        f = self.fulcrum(hh.http_config(port, [hh.pool("p", [b])], workers=1))
        base, n, clients = f.rss_kib(), 100, []
        try:
            for _ in range(n):
                s = h.connect(port, timeout=h.scaled(30), rcvbuf=4096)
                s.sendall(b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
                clients.append(s)
            # Until every writer has filled up and RSS stops growing.
            last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + h.scaled(15)
            while time.monotonic() < deadline and time.monotonic() - stable_since < 1.5:
                rss = f.rss_kib()
                if rss != last:
                    last, stable_since = rss, time.monotonic()
                time.sleep(0.1)
            per_client = (f.rss_kib() - base) / n
            print(f"{per_client:.0f} KiB per client", end=" ")
            self.assertGreater(per_client, 32, "the writers never filled: nothing was tested")
            self.assertLess(per_client, 320, "a client that reads nothing holds too much")
            # And every byte still comes once the client reads.
            reader = SockReader(clients[0])
            head = read_head(reader, is_request=False)
            body, complete = read_body(reader, head, is_request=False)
            self.assertTrue(complete)
            self.assertEqual(body, block * 128)
        finally:
            for s in clients:
                s.close()

    def test_client_pausing_its_reads_is_not_a_backend_stall(self):
        # The pool's timeouts.idle is for a backend that stops sending. A client that stops
        # reading for a while (a player with a full buffer) makes the proxy stop reading the
        # backend: that stall is the client's, and it has the listener's client_idle to read
        # on. One that reads nothing for client_idle is cut.
        size = 16 * h.MiB
        def handler(r):
            if r.target == "/stall":  # a backend that stops sending mid-body
                return Response(200, body=[b"a" * 1000, b"b" * 1000], chunked=True,
                                chunk_delay=5.0)
            return Response(200, body=(BLOCK for _ in range(
                (SIZE if r.target == "/huge" else size) // h.MiB)))

        b = self.backend(h.HttpBackend("b", record_raw=False, handler=handler))
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b], timeouts="{ idle: 500ms }")],
                                    listener_extra="timeouts: { client_idle: 2s }"))
        with h.connect(port, timeout=h.scaled(30)) as s:
            s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            reader = SockReader(s)
            head = read_head(reader, is_request=False)
            self.assertEqual(head.status, 200)
            time.sleep(1.5)  # three times the pool's idle, under client_idle
            digest = hashlib.sha256()
            _, complete = read_body(reader, head, is_request=False, sink=digest.update)
        self.assertTrue(complete, "a client that paused its reads got a cut response")
        expected = hashlib.sha256()
        for _ in range(size // h.MiB):
            expected.update(BLOCK)
        self.assertEqual(digest.hexdigest(), expected.hexdigest())
        # A client that reads nothing at all for client_idle is cut after it: what the
        # socket buffers hold is far less than 64 MiB.
        with h.connect(port, timeout=h.scaled(30)) as s:
            s.sendall(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(h.scaled(4))  # the pool's idle, then client_idle, pass unread
            got = 0
            while True:
                try:
                    data = s.recv(1 << 20)
                except ConnectionResetError:
                    break
                if not data:
                    break
                got += len(data)
            self.assertLess(got, SIZE, "a client that stopped reading was never cut")
        # While the client keeps up, a backend that stops sending is cut after the pool's idle.
        with h.connect(port, timeout=h.scaled(30)) as s:
            start = time.monotonic()
            s.sendall(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
            reader = SockReader(s)
            head = read_head(reader, is_request=False)
            _, complete = read_body(reader, head, is_request=False, sink=lambda d: None)
            self.assertFalse(complete)
            self.assertLess(time.monotonic() - start, h.scaled(3))

    def test_access_log_counts_what_a_cut_client_received(self):
        # A client that stops reading is cut after client_idle. What the proxy still held for
        # it was never sent: the access log's bytes_out and fulcrum_bytes_sent_total say what
        # reached the client (nginx's $bytes_sent), for a spliced body and a re-chunked one.
        size = 32 * h.MiB

        def handler(r):
            blocks = (BLOCK for _ in range(size // h.MiB))
            if r.target == "/chunked":
                return Response(200, body=blocks, chunked=True)
            return Response(200, headers=[("Content-Length", str(size))], body=blocks,
                            no_length=True)

        b = self.backend(h.HttpBackend("b", record_raw=False, handler=handler))
        port, admin = h.free_port(), h.free_port()
        log_path = f"{self.tmp}/access.log"
        self.fulcrum(f'log: {{ access_log: "{log_path}", format: json }}\n' +
                     hh.http_config(port, [hh.pool("p", [b], timeouts="{ idle: 500ms }")],
                                    admin_port=admin,
                                    listener_extra="timeouts: { client_idle: 1s }"))
        for n, target in enumerate(("/length", "/chunked"), start=1):
            before = hh.metric(hh.metrics(admin), "fulcrum_bytes_sent_total", listener="web")
            with h.connect(port, h.scaled(30), rcvbuf=64 * 1024) as s:
                s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode())
                time.sleep(h.scaled(3))  # nothing read for the pool's idle + client_idle: cut
                received = len(h.recv_to_eof(s))
            self.assertLess(received, size, f"{target}: never cut")
            hh.wait_for(lambda: len(hh.access_log_lines(log_path)) == n, 3, f"{target}'s line")
            line = hh.access_log_lines(log_path)[-1]
            self.assertEqual((line["path"], line["status"]), (target, 200))
            self.assertEqual(line["bytes_out"], received, f"{target}: logged bytes")
            after = hh.metric(hh.metrics(admin), "fulcrum_bytes_sent_total", listener="web")
            self.assertEqual(after - before, received, f"{target}: counted bytes")

    def test_upload_to_slow_backend(self):
        b = self.backend(h.SlowReadingBackend(name="slow"))
        port = h.free_port()
        f = self.fulcrum(hh.http_config(port, [hh.pool("p", [b])]))
        base = f.rss_kib()
        with h.RssSampler(f) as rss, h.connect(port, timeout=h.scaled(30)) as s:
            s.sendall(b"PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(SIZE // h.MiB):
                s.sendall(b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n")
            s.sendall(b"0\r\n\r\n")
            reader = SockReader(s)
            head = read_head(reader, is_request=False)
            body, _ = read_body(reader, head, is_request=False)
        self.assertEqual(head.status, 200)
        self.assertEqual(body.decode(), f"{SIZE} {expected_digest()}")
        self.assertRssBounded(base, rss)

    def test_response_timeout_starts_when_the_backend_has_the_request(self):
        # The last bytes of a large upload can sit in the proxy's socket buffer (megabytes) for
        # seconds after it wrote them; a backend reading them slowly but steadily must not get
        # a 504 for a request it is still receiving (timeouts.response is 500 ms here, reading
        # the rest takes seconds). One that stops reading still gets its 504. (What waits in
        # the backend's own receive buffer cannot be seen from the proxy: kept small here.)
        size = 6 * h.MiB
        body = h.payload(size, seed=5)
        b = self.backend(h.SlowReadingBackend(name="slow"))
        b.rate = 3 * h.MiB
        b.rcvbuf = 64 * 1024
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b], timeouts="{ response: 500ms, idle: 1s }")]))
        with h.connect(port, timeout=h.scaled(30)) as s:
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size + body)
            reader = SockReader(s)
            head = read_head(reader, is_request=False)
            answer, _ = read_body(reader, head, is_request=False)
        self.assertEqual(head.status, 200, answer)
        self.assertEqual(answer.decode(), f"{size} {hashlib.sha256(body).hexdigest()}")

        b.stop_after, b.stop_pause = 3 * h.MiB, h.scaled(6)
        start = time.monotonic()
        with h.connect(port, timeout=h.scaled(30)) as s:
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
            try:
                s.sendall(body)
            except OSError:
                pass  # the proxy may answer and close before taking it all
            head = read_head(SockReader(s), is_request=False)
        self.assertEqual(head.status, 504)
        self.assertLess(time.monotonic() - start, h.scaled(4.5))


if __name__ == "__main__":
    h.main()
