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
        n = 0
        while True:
            try:
                head = read_head(reader, is_request=True)
            except Exception:
                return
            n += 1
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
