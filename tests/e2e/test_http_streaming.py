"""Bodies are streamed, never buffered whole (issue 4): 64 MiB down to a client that reads
slowly and 64 MiB up to a backend that reads slowly both arrive byte-exact while the
proxy's RSS stays far below the body size (backpressure both ways)."""

import hashlib
import socket
import time

import harness as h
import http_helpers as hh
from http_servers import Response
from wire import SockReader, read_body, read_head

SIZE = 64 * h.MiB
BLOCK = h.payload(h.MiB, seed=3)
RSS_GROWTH_KIB = 16 * 1024  # a quarter of the 64 MiB body, above the RSS before it


def expected_digest() -> str:
    d = hashlib.sha256()
    for _ in range(SIZE // h.MiB):
        d.update(BLOCK)
    return d.hexdigest()


class SlowReadingBackend(h.ThreadedServer):
    """Reads one request's body slowly (hashing it), then answers 200 with the digest."""

    def handle(self, conn, conn_id):
        reader = SockReader(conn)
        head = read_head(reader, is_request=True)
        digest = hashlib.sha256()
        received = 0

        def sink(data):
            nonlocal received
            digest.update(data)
            received += len(data)
            time.sleep(len(data) / (40 * h.MiB))  # ~40 MiB/s

        read_body(reader, head, is_request=True, sink=sink)
        body = f"{received} {digest.hexdigest()}".encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


class Streaming(h.FulcrumTestCase):
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

    def test_upload_to_slow_backend(self):
        b = self.backend(SlowReadingBackend(name="slow"))
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


if __name__ == "__main__":
    h.main()
