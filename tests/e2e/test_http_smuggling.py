"""Request smuggling and malformed requests (issue 4, "Safety").

Every case is answered 400 (501 for a lower-case method, 505 for an unsupported HTTP version)
with
`Connection: close`, the connection is closed, and the backend receives nothing: not a
request, not a byte. A body that looks like a request stays a body."""

import time

import harness as h
import http_helpers as hh

H = b"POST / HTTP/1.1\r\nHost: x\r\n"

CASES = {
    "content-length with transfer-encoding": H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "transfer-encoding with content-length": H + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "two different content-lengths": H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "content-length list": H + b"Content-Length: 3, 4\r\n\r\nabcd",
    "content-length sign": H + b"Content-Length: +3\r\n\r\nabc",
    "content-length hex": H + b"Content-Length: 0x3\r\n\r\nabc",
    "content-length overflow": H + b"Content-Length: 99999999999999999999999\r\n\r\nabc",
    "transfer-encoding gzip": H + b"Transfer-Encoding: gzip\r\n\r\nabc",
    "transfer-encoding chunked, gzip": H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "transfer-encoding chunked twice": H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "transfer-encoding xchunked": H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "transfer-encoding ,chunked": H + b"Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n",
    "transfer-encoding chunked,": H + b"Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n",
    "invalid chunk size": H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "negative chunk size": H + b"Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
    "chunk size overflow": H + b"Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabc\r\n0\r\n\r\n",
    "chunk size with space": H + b"Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n",
    "chunk size bare LF": H + b"Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
    "chunk data too long": H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",
    "obs-fold hiding transfer-encoding": H + b"X-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
    "NUL in header value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "NUL in request line": b"GET /a\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare CR in header": b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
    "bare LF line endings": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare LF in header": b"GET / HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\n",
    "space before colon": H + b"Content-Length : 3\r\n\r\nabc",
    "space in header name": b"GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n",
    "empty header name": b"GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n",
    "bad char in header name": b"GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n",
    "transfer-encoding in HTTP/1.0": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "no host in HTTP/1.1": b"GET / HTTP/1.1\r\n\r\n",
    "empty host": b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
    "host with a port and no name": b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n",
    "absolute-form without Host": b"GET http://x/ HTTP/1.1\r\n\r\n",
    "host with a port that is not a number": b"GET / HTTP/1.1\r\nHost: x:abc\r\n\r\n",
    "host with a port over 65535": b"GET / HTTP/1.1\r\nHost: x:99999999999\r\n\r\n",
}


class Smuggling(h.FulcrumTestCase):
    def start(self):
        b = self.backend(h.HttpBackend("b1"))
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b])]))
        return b, port

    def assert_refused(self, port, raw, status=400):
        data, closed = hh.raw_exchange(port, raw, wait=h.scaled(3))
        self.assertEqual(hh.status_of(data), status, f"{raw!r} -> {data[:200]!r}")
        self.assertTrue(closed, f"connection left open after {raw!r}")
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        self.assertIn(b"\r\nconnection: close", head)
        # The answer is one short, complete response and nothing follows it.
        length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
        self.assertEqual(len(data), len(head) + 4 + length)

    def assert_backend_untouched(self, b):
        self.assertEqual(b.requests, [], "a refused request reached the backend")
        received = sum(len(v) for v in b.raw_streams.values())
        self.assertEqual(received, 0, "the backend received bytes of a refused request")

    def test_every_case_refused_and_never_forwarded(self):
        b, port = self.start()
        for name, raw in CASES.items():
            with self.subTest(name):
                self.assert_refused(port, raw)
        self.assert_backend_untouched(b)
        # The proxy is fine afterwards.
        r = h.http_request(port, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(r.status, 200)
        self.assertEqual([q.target for q in b.requests], ["/after"])

    def test_a_coding_before_chunked_is_400(self):
        b, port = self.start()
        for te in (b"gzip, chunked", b"foo, chunked", b"identity, chunked"):
            self.assert_refused(port, H + b"Transfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n", 400)
        self.assert_refused(
            port, H + b"Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
        self.assert_backend_untouched(b)

    def test_extension_methods_pass_lower_case_is_501_and_other_major_version_505(self):
        b, port = self.start()
        # Methods are extensible (RFC 9110 9.1): one llhttp does not know goes on as it came,
        # body and all, and the connection stays usable; a refused one never reaches a backend.
        with h.HttpClient(port) as c:
            c.send(b"BREW /pot HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntea"
                   b"\r\nQUERY /q HTTP/1.1\r\nHost: x\r\n\r\n")
            first, second = c.read_response(), c.read_response()
            self.assertEqual((first.status, second.status), (200, 200))
            self.assertEqual(first.json()["method"], "BREW")
            self.assertEqual(first.json()["body_len"], 3)
            self.assertEqual(second.json()["method"], "QUERY")
            self.assertEqual(c.request("GET", "/after").status, 200)
        self.assertEqual([(q.method, q.target) for q in b.requests],
                         [("BREW", "/pot"), ("QUERY", "/q"), ("GET", "/after")])
        b.requests.clear()
        self.assert_refused(port, b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 501)  # case-sensitive
        self.assert_refused(port, b"Brew / HTTP/1.1\r\nHost: x\r\n\r\n", 501)
        self.assert_refused(port, b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400)  # not a token
        self.assert_refused(port, b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505)
        self.assert_refused(port, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505)
        self.assert_refused(port, b"GET / HTTP/x.1\r\nHost: x\r\n\r\n", 400)  # not a version
        with h.HttpClient(port) as c:  # a malformed version after a good request: still 400
            self.assertEqual(c.request("GET", "/ok").status, 200)
            c.send(b"GET / HTTP/x.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read_response().status, 400)
        self.assertEqual([q.target for q in b.requests], ["/ok"])
        # A later HTTP/1.x is read as HTTP/1.1 (RFC 9110 2.5), as nginx and HAProxy read it,
        # also as the second request on a connection: the backend gets HTTP/1.1.
        b.requests.clear()
        with h.HttpClient(port) as c:
            c.send(b"GET /v12 HTTP/1.2\r\nHost: x\r\n\r\nBREW /v19 HTTP/1.9\r\nHost: x\r\n\r\n")
            first, second = c.read_response(), c.read_response()
            self.assertEqual((first.status, second.status), (200, 200))
            self.assertEqual(first.version, "HTTP/1.1")
            self.assertEqual(c.request("GET", "/after").status, 200)  # still keep-alive
        self.assertEqual([(q.method, q.target, q.version) for q in b.requests],
                         [("GET", "/v12", "HTTP/1.1"), ("BREW", "/v19", "HTTP/1.1"),
                          ("GET", "/after", "HTTP/1.1")])

    def test_refused_after_a_good_request_on_the_same_connection(self):
        b, port = self.start()
        with h.HttpClient(port) as c:
            self.assertEqual(c.request("GET", "/ok").status, 200)
            c.send(H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 400)
            self.assertTrue(c.is_closed(wait=h.scaled(3)))
        self.assertEqual([q.target for q in b.requests], ["/ok"])

    def test_request_in_body_stays_in_body(self):
        b, port = self.start()
        inner = b"GET /admin HTTP/1.1\r\nHost: x\r\n\r\n"
        raw = H + b"Content-Length: %d\r\n\r\n" % len(inner) + inner
        with h.HttpClient(port) as c:
            c.send(raw)
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(c.request("GET", "/second").status, 200)
        self.assertEqual([q.target for q in b.requests], ["/", "/second"])
        self.assertEqual(b.requests[0].body, inner)
        self.assertEqual(b.protocol_errors, [])

    def test_chunked_body_is_reframed_for_the_backend(self):
        b, port = self.start()
        raw = (H + b"Transfer-Encoding: chunked\r\n\r\n"
               b"5;ext=\"x\\\"y\"\r\nhello\r\n6;a=b;c=d\r\n world\r\n0;e\r\nX-Trailer: t\r\n\r\n")
        r = h.http_request(port, raw)
        self.assertEqual(r.status, 200)
        req = b.requests[0]
        self.assertEqual(req.body, b"hello world")
        self.assertEqual(req.header("Transfer-Encoding"), "chunked")
        wire = bytes(b.raw_streams[req.conn_id])
        self.assertIn(b"\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", wire)
        self.assertNotIn(b"ext", wire)
        self.assertNotIn(b"X-Trailer", wire)

    def test_chunk_size_beyond_32_bits_reaches_the_backend_reframed(self):
        # A backend that keeps chunk sizes in 32 bits would read 0x100000005 as 5 and the bytes
        # after "hello" as a second request. The proxy sends that chunk's data as chunks of
        # their own sizes, so every byte the client sent after the size line stays data.
        b, port = self.start()
        after = b"hello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        with h.connect(port) as s:
            s.sendall(H + b"Transfer-Encoding: chunked\r\n\r\n100000005\r\n" + after)

            def forwarded():
                return b"".join(bytes(v) for v in b.raw_streams.values())
            h.wait_until(lambda: forwarded().endswith(b"/smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n"),
                         h.scaled(3), what="all the data forwarded")
        body = forwarded().split(b"\r\n\r\n", 1)[1]
        self.assertNotIn(b"100000005", body)
        data, sizes = b"", []
        while body:
            line, body = body.split(b"\r\n", 1)
            sizes.append(int(line, 16))
            data += body[:sizes[-1]]
            self.assertEqual(body[sizes[-1]:sizes[-1] + 2], b"\r\n")
            body = body[sizes[-1] + 2:]
        self.assertTrue(all(0 < size <= 0x7FFFFFFF for size in sizes), sizes)
        self.assertEqual(data, after)

    def test_body_error_after_head_was_forwarded_never_completes_upstream(self):
        # The bad chunk arrives after the head went out: the backend sees an unfinished
        # request and a closed connection, never a complete (or second) request.
        b, port = self.start()
        with h.connect(port) as s:
            s.sendall(H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
            h.wait_until(lambda: sum(len(v) for v in b.raw_streams.values()) > 0, h.scaled(3),
                         what="head forwarded")
            s.sendall(b"zz\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
            closed, data = h.wait_closed(s, h.scaled(3))
            self.assertTrue(closed)
            self.assertEqual(hh.status_of(data), 400)
        h.wait_until(lambda: b.requests, h.scaled(3), what="backend saw the connection end")
        self.assertEqual(len(b.requests), 1)
        self.assertFalse(b.requests[0].complete)
        self.assertNotIn(b"smuggled", b"".join(bytes(v) for v in b.raw_streams.values()))

    def test_malformed_trailer_section_never_completes_upstream(self):
        # A bare LF, obs-fold or an empty name in the trailer section is refused as in a head:
        # the backend never sees the request end, nor the one pipelined after it.
        b, port = self.start()
        for trailers in (b"0\r\n\n", b"0\r\nX: y\r\n z\r\n\r\n", b"0\r\n: b\r\n\r\n"):
            b.clear()
            raw = (H + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n" + trailers +
                   b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
            data, closed = hh.raw_exchange(port, raw, wait=h.scaled(3))
            self.assertEqual(hh.status_of(data), 400, trailers)
            self.assertTrue(closed, trailers)
            time.sleep(0.3)  # what reached the backend, if anything, has been read
            self.assertFalse(any(r.complete for r in b.requests), trailers)
            self.assertNotIn(b"smuggled", b"".join(bytes(v) for v in b.raw_streams.values()))


if __name__ == "__main__":
    h.main()
