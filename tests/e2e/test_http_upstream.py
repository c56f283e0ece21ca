"""Upstream failures (issue 4, "Safety"): connect failure goes to the next backend, else
502; 503 when no backend is eligible; `timeouts.response` gives 504; a malformed response
gives 502; a backend that dies mid-response makes the proxy close the client connection
(the response never looks complete) and the next request is served normally."""

import os
import socket
import struct
import time

import harness as h
import http_helpers as hh
from http_servers import Response


def dead_address() -> str:
    return f"127.0.0.1:{h.free_port()}"  # nothing listens there: connection refused


class Upstream(h.FulcrumTestCase):
    def start(self, backends, pool_extra=None):
        port, admin = h.free_port(), h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", backends, **(pool_extra or {}))],
                                    admin_port=admin))
        return port, admin

    def get(self, port, target="/"):
        return h.http_request(port, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                              timeout=h.scaled(10))

    def test_connect_failure_goes_to_next_backend(self):
        live = self.backend(h.HttpBackend("live"))
        dead = dead_address()
        port, admin = self.start([dead, live, dead_address()])
        for _ in range(12):
            self.assertEqual(self.get(port).status, 200)
        self.assertEqual(len(live.requests), 12)
        text = hh.metrics(admin)
        self.assertGreaterEqual(hh.metric(text, "fulcrum_upstream_connect_failures_total",
                                          backend=dead), 1)
        self.assertEqual(hh.metric(text, "fulcrum_upstream_requests_total", backend=live.address,
                                   code=200), 12)

    def test_dead_backend_costs_only_its_own_turns(self):
        # No health check marks it down: a dead backend still gets its turn in the round
        # robin, but the retry does not move the schedule, so it is not first again at the
        # next request (it once was, and every request paid a failed connect).
        live = self.backend(h.HttpBackend("live"))
        dead = dead_address()
        port, admin = self.start([dead, live])
        for _ in range(20):
            self.assertEqual(self.get(port).status, 200)
        self.assertEqual(hh.metric(hh.metrics(admin), "fulcrum_upstream_connect_failures_total",
                                   backend=dead), 10)

    def test_all_backends_failing_gives_502(self):
        port, admin = self.start([dead_address(), dead_address()])
        data, closed = hh.raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                       wait=h.scaled(5))
        self.assertEqual(hh.status_of(data), 502)
        self.assertIn(b"Content-Length: 16\r\n", data)
        self.assertTrue(data.endswith(b"\r\n\r\n502 Bad Gateway\n"))
        self.assertGreaterEqual(hh.metric(hh.metrics(admin), "fulcrum_http_requests_total",
                                          code=502), 1)

    def test_proxy_made_5xx_keeps_a_keep_alive_client(self):
        # A backend outage must not cost each keep-alive client a new connection per request
        # (nginx keeps them too). What the client sent was read whole, so the connection is
        # as clean as after any response; pipelined requests behind it are answered in order.
        b = self.backend(h.HttpBackend("b", handler=lambda r: Response(
            200, delay=2.0) if r.target == "/slow" else None))
        port, _ = self.start([b], {"timeouts": "{ response: 300ms }"})
        dead_port, _ = self.start([dead_address()])
        with h.HttpClient(dead_port, timeout=h.scaled(5)) as c:
            c.send(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"DELETE /3 HTTP/1.1\r\nHost: x\r\n\r\n")
            rs = [c.read_response() for _ in range(3)]
            self.assertEqual([r.status for r in rs], [502, 502, 502])
            self.assertEqual([r.header("Connection") for r in rs], [None] * 3)
            self.assertEqual(rs[1].body, b"")  # HEAD: no body
            self.assertFalse(c.is_closed(0.2))
        # An HTTP/1.0 client that asked for keep-alive is told it stays.
        with h.HttpClient(dead_port, timeout=h.scaled(5)) as c:
            c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.header("Connection")), (502, "keep-alive"))
            self.assertFalse(c.is_closed(0.2))
        # A body that has all arrived is read and dropped: the next request follows it. One
        # still on its way would leave its bytes where the next request starts: that
        # connection closes.
        with h.HttpClient(dead_port, timeout=h.scaled(5)) as c:
            c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 100 +
                   b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3\r\nabc\r\n0\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            rs = [c.read_response() for _ in range(3)]
            self.assertEqual([(r.status, r.header("Connection")) for r in rs], [(502, None)] * 3)
            c.send(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
            r = c.read_response()
            self.assertEqual((r.status, r.header("Connection")), (502, "close"))
            self.assertTrue(c.is_closed(h.scaled(2)))
        # A 504 after the request was sent whole: the next request goes on the same connection.
        with h.HttpClient(port, timeout=h.scaled(5)) as c:
            self.assertEqual(c.request("GET", "/slow").status, 504)
            self.assertEqual(c.request("POST", "/after", body=b"abc").status, 200)

    def test_no_eligible_backend_gives_503(self):
        slow = self.backend(h.HttpBackend("slow", handler=lambda r: Response(200, delay=1.0)))
        # One connection at most (circuit breaker): while it is busy nothing is eligible.
        port, admin = self.start([{"address": f'"{slow.address}"', "max_connections": 1}])
        import threading
        first = []
        t = threading.Thread(target=lambda: first.append(self.get(port).status))
        t.start()
        hh.wait_for(lambda: slow.requests, 3, "first request at the backend")
        r = self.get(port)
        self.assertEqual(r.status, 503)
        t.join(h.scaled(5))
        self.assertEqual(first, [200])
        self.assertGreaterEqual(hh.metric(hh.metrics(admin), "fulcrum_http_requests_total",
                                          code=503), 1)

    def test_response_timeout_gives_504(self):
        b = self.backend(h.HttpBackend("b", handler=lambda r: Response(
            200, delay=2.0) if r.target == "/slow" else None))
        port, admin = self.start([b], {"timeouts": "{ response: 500ms }"})
        start = time.monotonic()
        r = self.get(port, "/slow")
        self.assertEqual(r.status, 504)
        self.assertLess(time.monotonic() - start, h.scaled(1.8))
        self.assertEqual(self.get(port, "/fast").status, 200)
        text = hh.metrics(admin)
        self.assertGreaterEqual(hh.metric(text, "fulcrum_http_requests_total", code=504), 1)
        # Per backend too: a timeout counts for the backend that had the request.
        self.assertEqual(hh.metric(text, "fulcrum_upstream_requests_total", backend=b.address,
                                   code=504), 1)
        self.assertEqual(hh.metric(text, "fulcrum_upstream_requests_total", backend=b.address,
                                   code=200), 1)

    def test_response_timeout_runs_again_after_an_interim_response(self):
        # A 1xx is not the answer: a backend that sends 103 Early Hints and then nothing gets
        # its 504 after timeouts.response, not after the (much longer) timeouts.idle.
        hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        b = self.backend(h.HttpBackend("b", handler=lambda r: Response(raw=hints) if
                                       r.target == "/hints-then-nothing" else
                                       Response(raw=hints + b"HTTP/1.1 200 OK\r\n"
                                                b"Content-Length: 4\r\n\r\nbody") if
                                       r.target == "/hints-then-answer" else None))
        port, _ = self.start([b], {"timeouts": "{ response: 500ms, idle: 20s }"})
        with h.HttpClient(port, timeout=h.scaled(10)) as c:
            start = time.monotonic()
            r = c.request("GET", "/hints-then-nothing")
            self.assertEqual(r.status, 504)
            self.assertEqual([i.status for i in r.interim], [103])
            self.assertLess(time.monotonic() - start, h.scaled(3))
            # The 1xx and the final head in one read: the body streams on as usual.
            r = c.request("GET", "/hints-then-answer")
            self.assertEqual((r.status, r.body), (200, b"body"))
            self.assertEqual([i.status for i in r.interim], [103])

    def test_malformed_responses_give_502(self):
        bad = {
            "/two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "/garbage": b"this is not http\r\n\r\n",
            "/obs-fold": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",
            "/bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
            "/te-gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab",
            "/cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "/101-unasked": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
            "/empty": b"",
            "/status-2-digits": b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
            "/status-none": b"HTTP/1.1 \r\nContent-Length: 2\r\n\r\nok",
            "/status-600": b"HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n",
            "/version-2": b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            # Chunked to the RFC, not to llhttp (which would frame the body by the close and
            # hand on its chunk framing as data), or with an empty list member.
            "/te-trailing-tab": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n"
                                b"5\r\nhello\r\n0\r\n\r\n",
            "/te-trailing-comma": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n"
                                  b"5\r\nhello\r\n0\r\n\r\n",
            # Closed before the head ended: nothing of it reached the client.
            "/cut-status-line": b"HTTP/1.1 20",
            "/cut-headers": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            "/cut-after-103": b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n",
            # The head and a bad chunk in one write: nothing had left for the client yet.
            "/bad-chunk-with-head": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"zz\r\nab\r\n0\r\n\r\n",
            "/bad-chunk-after-body": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     b"2\r\nab\r\n2x\r\ncd\r\n0\r\n\r\n",
        }
        b = self.backend(h.HttpBackend("b", handler=lambda r: Response(
            raw=bad[r.target], close=True) if r.target in bad else None))
        port, admin = self.start([b])
        for target in bad:
            with self.subTest(target), h.HttpClient(port, timeout=h.scaled(3)) as c:
                r = c.request("GET", target)
                self.assertEqual(r.status, 502)
                self.assertEqual(r.body, b"502 Bad Gateway\n")
                # The request was read whole and nothing of the bad response went out: the
                # client's connection goes on (as in nginx), ready for its next request.
                self.assertIsNone(r.header("Connection"))
                self.assertEqual(c.request("GET", "/good").status, 200)
        self.assertEqual(hh.metric(hh.metrics(admin), "fulcrum_http_requests_total", code=502),
                         len(bad))

    def test_later_minor_version_response_is_read_as_http11(self):
        # RFC 9110 2.5, as HAProxy and nginx read it: the client gets the answer as HTTP/1.1,
        # and the backend's connection is kept as an HTTP/1.1 one would be.
        b = self.backend(h.HttpBackend("b", handler=lambda r: Response(
            raw=b"HTTP/1.2 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                b"HTTP/1.2 200 OK\r\nContent-Length: 4\r\n\r\nbody")))
        port, _ = self.start([b])
        with h.HttpClient(port) as c:
            for _ in range(3):
                r = c.request("GET", "/v12")
                self.assertEqual((r.status, r.version, r.body), (200, "HTTP/1.1", b"body"))
                self.assertEqual([i.status for i in r.interim], [103])
        self.assertEqual(len(b.requests), 3)
        self.assertEqual(len({q.conn_id for q in b.requests}), 1)  # one pooled connection

    def test_http10_response_with_transfer_encoding_is_not_reused(self):
        # RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; its
        # connection is closed after it, whatever its Connection header says.
        raw = {"/te": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
               "/cl": b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"}
        b = self.backend(h.HttpBackend("b", handler=lambda r: Response(raw=raw[r.target])))
        port, _ = self.start([b])
        for target in ("/te", "/cl"):
            with self.subTest(target):
                b.clear()
                for _ in range(3):
                    r = self.get(port, target)
                    self.assertEqual((r.status, r.body), (200, b"ok"))
                conns = {q.conn_id for q in b.requests}
                self.assertEqual(len(conns), 3 if target == "/te" else 1, target)

    def test_chunk_extensions_in_a_response_are_dropped_not_refused(self):
        # RFC 9112 7.1.1: any number of extensions per chunk line; a recipient ignores them.
        raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;a=b;c=d\r\nhello\r\n6;e;f=\"g\\\"h\"\r\n world\r\n0;h=i;j\r\n\r\n")
        b = self.backend(h.HttpBackend("b", handler=lambda r: Response(raw=raw)))
        port, admin = self.start([b])
        with h.HttpClient(port, timeout=h.scaled(5)) as c:
            for _ in range(2):  # and the connection goes on
                r = c.request("GET", "/ext")
                self.assertEqual(r.status, 200)
                self.assertTrue(r.complete)
                self.assertEqual(r.body, b"hello world")

    def test_backend_dying_mid_response_closes_the_client(self):
        body = h.payload(200_000)

        def handler(req):
            if req.target == "/cl":
                return Response(200, body=body, drop_after=50_000)
            if req.target == "/chunked":
                return Response(200, body=iter([body[:40_000], body[40_000:]]), chunked=True,
                                drop_after=60_000)
            return None

        b = self.backend(h.HttpBackend("b", handler=handler))
        port, admin = self.start([b])
        for target in ("/cl", "/chunked"):
            with self.subTest(target):
                with h.HttpClient(port, timeout=h.scaled(5)) as c:
                    r = c.request("GET", target)
                    self.assertEqual(r.status, 200)
                    self.assertFalse(r.complete, "a truncated response looked complete")
                    self.assertLess(len(r.body), len(body))
                    self.assertTrue(c.is_closed(wait=h.scaled(3)))
                # The next request, on a new connection, is served normally.
                self.assertEqual(self.get(port, "/fine").status, 200)
        # An HTTP/1.0 client gets a chunked answer close-delimited: a FIN would read as its
        # end, so the cut is a reset.
        with h.connect(port, timeout=h.scaled(5)) as s:
            s.sendall(b"GET /chunked HTTP/1.0\r\nHost: x\r\n\r\n")
            got, reset = b"", False
            try:
                while chunk := s.recv(65536):
                    got += chunk
            except ConnectionResetError:
                reset = True
            self.assertTrue(reset, f"a clean end after {len(got)} bytes: the cut looked complete")

    def test_backend_resetting_a_close_delimited_body_is_not_its_end(self):
        # A body delimited by the backend's close ends at its FIN, never at a reset. When the
        # last data and the reset come in one event, libuv reports an end without reading the
        # ECONNRESET (core::pendingError); taken for the FIN, the cut body went to the client
        # re-chunked and complete (2 in 40 here before).
        class ResetAfterBody(h.ThreadedServer):
            def handle(self, conn, conn_id):
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 300_000)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()

        b = self.backend(ResetAfterBody())
        port, _ = self.start([b])
        for n in range(60):
            with h.connect(port, timeout=h.scaled(5)) as s:
                # Connection: close, so that a body taken for complete ends with a FIN too.
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = b""
                try:
                    while chunk := s.recv(1 << 20):
                        got += chunk
                except ConnectionResetError:
                    pass
            self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:100])
            self.assertFalse(got.endswith(b"\r\n0\r\n\r\n"),
                             f"request {n}: a reset body looked complete")

    def test_unfinished_exchanges_are_counted_and_logged(self):
        # A response the backend cuts, and a client that resets while its answer is awaited:
        # neither ends with an answer of the proxy's own, and both are counted and logged
        # (with the status the client got: the backend's 200, or 499 for nothing).
        body = h.payload(200_000)

        def handler(req):
            if req.target == "/cut":
                return Response(200, body=body, drop_after=50_000)
            if req.target == "/slow":
                return Response(200, body=b"late", delay=3.0)
            return None

        b = self.backend(h.HttpBackend("b", handler=handler))
        port, admin = h.free_port(), h.free_port()
        log_path = os.path.join(self.tmp, "access.log")
        self.fulcrum(f'log: {{ access_log: "{log_path}", format: json }}\n' +
                     hh.http_config(port, [hh.pool("p", [b])], admin_port=admin))

        def lines():
            return hh.access_log_lines(log_path)

        # bytes_in is the request as it came on the wire, chunk framing included.
        upload = (b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5;ext=1\r\nhello\r\n0\r\nX-T: t\r\n\r\n")
        self.assertEqual(h.http_request(port, upload).status, 200)
        hh.wait_for(lambda: len(lines()) == 1, h.scaled(3), "the upload's line")
        self.assertEqual(lines()[0]["bytes_in"], len(upload))
        with h.HttpClient(port, timeout=h.scaled(5)) as c:
            self.assertFalse(c.request("GET", "/cut").complete)
        hh.wait_for(lambda: len(lines()) == 2, h.scaled(3), "the cut response's line")
        self.assertEqual((lines()[1]["path"], lines()[1]["status"]), ("/cut", 200))
        self.assertEqual(hh.metric(hh.metrics(admin), "fulcrum_http_requests_total", code=200), 2)
        # The client resets while the backend takes 3 s: the exchange ends at once.
        s = h.connect(port)
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST
        start = time.monotonic()
        hh.wait_for(lambda: hh.metric(hh.metrics(admin), "fulcrum_http_requests_total",
                                      code=499) == 1, h.scaled(2), "the reset counted as 499")
        self.assertLess(time.monotonic() - start, h.scaled(1.5))
        hh.wait_for(lambda: len(lines()) == 3, h.scaled(2), "the reset request's line")
        self.assertEqual((lines()[2]["path"], lines()[2]["status"]), ("/slow", 499))
        self.assertEqual(lines()[2]["bytes_in"], len(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"))
        # A refused request counts what arrived of it, not only what was parsed up to the
        # byte that was refused.
        bad = b"GET /a\xff HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 100 + b"\r\n\r\n"
        data, _ = hh.raw_exchange(port, bad)
        self.assertEqual(hh.status_of(data), 400)
        hh.wait_for(lambda: len(lines()) == 4, h.scaled(2), "the refused request's line")
        self.assertEqual((lines()[3]["status"], lines()[3]["bytes_in"]), (400, len(bad)))

    def test_backend_closing_without_answer_gives_502(self):
        b = self.backend(h.HttpBackend("b", handler=lambda r: Response(
            raw=b"", close=True) if r.target == "/drop" else None))
        port, admin = self.start([b])
        self.assertEqual(self.get(port, "/drop").status, 502)
        self.assertEqual(self.get(port, "/ok").status, 200)
        # The 502 counts for the backend that dropped the request.
        text = hh.metrics(admin)
        self.assertEqual(hh.metric(text, "fulcrum_upstream_requests_total", backend=b.address,
                                   code=502), 1)
        self.assertEqual(hh.metric(text, "fulcrum_upstream_requests_total", backend=b.address,
                                   code=200), 1)


    def test_backend_dropping_requests_sends_resendable_ones_to_the_next(self):
        # A backend that takes requests and closes without an answer (killed, crashing): a
        # request that can do no harm sent twice goes on to the next backend, as after a failed
        # connect (nginx's proxy_next_upstream error); one with a body, or a POST, gets the 502
        # (it may have been acted on), and the backend sees it once.
        dropper = self.backend(h.HttpBackend("dropper", handler=lambda r: Response(
            raw=b"", close=True), keep_alive=False))
        good = self.backend(h.HttpBackend("good"))
        port, admin = self.start([dropper, good])
        statuses = {"GET": [], "HEAD": [], "DELETE": [], "POST": [], "PUT": []}
        for _ in range(4):
            for method in statuses:
                body = b"data" if method in ("POST", "PUT") else b""
                with h.HttpClient(port, timeout=h.scaled(10)) as c:
                    statuses[method].append(c.request(method, "/x", body=body).status)
        for method in ("GET", "HEAD", "DELETE"):
            self.assertEqual(statuses[method], [200] * 4, method)
        self.assertEqual(sum(r.method in ("GET", "HEAD", "DELETE") for r in good.requests), 12)
        answered_502 = sum(statuses[m].count(502) for m in ("POST", "PUT"))
        self.assertEqual(answered_502 + sum(statuses[m].count(200) for m in ("POST", "PUT")), 8)
        dropped = len(dropper.requests)
        # Every request the dropper had is a 502 for it; those with a body went no further.
        self.assertEqual(sum(r.method in ("POST", "PUT") for r in dropper.requests), answered_502)
        resent = dropped - answered_502
        self.assertGreater(resent, 0)  # the round robin gave it some of each kind
        self.assertGreater(answered_502, 0)
        # An exchange is counted when it ends, which may be just after its answer was read.
        hh.wait_for(lambda: hh.metric(hh.metrics(admin), "fulcrum_http_requests_total",
                                      code=502) == answered_502, h.scaled(3), "the 502s counted")
        text = hh.metrics(admin)
        self.assertEqual(hh.metric(text, "fulcrum_retries_total", pool="p"), resent)
        self.assertEqual(hh.metric(text, "fulcrum_upstream_requests_total",
                                   backend=dropper.address, code=502), dropped)

if __name__ == "__main__":
    h.main()
