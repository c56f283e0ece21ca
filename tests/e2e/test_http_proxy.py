"""HTTP/1.1 reverse proxying (issue 4, "Proxying"): methods and bodies both ways, HTTP/1.0
clients, HEAD/204/304, Expect: 100-continue, header rules and routing."""

import email.utils
import hashlib
import re
import subprocess
import time

import harness as h
import http_helpers as hh
from http_servers import Response


class Proxy(h.FulcrumTestCase):
    def start(self, handler=None, pools=None, listener_extra="", **kw):
        b = self.backend(h.HttpBackend("b1", handler=handler, **kw))
        port = h.free_port()
        self.fulcrum(hh.http_config(port, pools or [hh.pool("p", [b])],
                                    listener_extra=listener_extra))
        return b, port

    def test_get_post_and_bodies_both_ways(self):
        big = h.payload(3 * h.MiB + 17, seed=7)

        def handler(req):
            if req.target == "/download":
                return Response(200, body=big)
            if req.target == "/chunked":
                return Response(200, body=(big[i:i + 70000] for i in range(0, len(big), 70000)))
            if req.target == "/eof":
                return Response(200, body=b"until close", no_length=True)
            return None

        b, port = self.start(handler)
        with h.HttpClient(port, timeout=h.scaled(10)) as c:
            r = c.request("GET", "/a?x=1")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["target"], "/a?x=1")
            r = c.request("POST", "/upload", body=big)
            self.assertEqual(r.status, 200)
            self.assertEqual(b.requests[-1].body_sha256, hashlib.sha256(big).hexdigest())
            # Chunked upload, several chunks.
            c.send(b"PUT /up2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (big[:1000], big[1000:300000]))
                   + b"0\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(b.requests[-1].body, big[:300000])
            r = c.request("GET", "/download")
            self.assertEqual(r.body, big)
            self.assertEqual(r.header("Content-Length"), str(len(big)))
            r = c.request("GET", "/chunked")
            self.assertEqual(r.header("Transfer-Encoding"), "chunked")
            self.assertEqual(r.body, big)
            # A close-delimited response is re-chunked: the client connection survives it.
            r = c.request("GET", "/eof")
            self.assertEqual((r.body, r.header("Transfer-Encoding")), (b"until close", "chunked"))
            self.assertEqual(c.request("GET", "/after-eof").status, 200)
        self.assertEqual(b.protocol_errors, [])

    def test_http10_clients(self):
        b, port = self.start()
        r = h.http_request(port, b"GET /old HTTP/1.0\r\n\r\n", read_all=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Connection"), "close")
        req = b.requests[-1]
        self.assertEqual(req.version, "HTTP/1.1")  # the proxy speaks 1.1 upstream
        self.assertEqual(req.header("Host"), b.address)
        # HTTP/1.0 with keep-alive: two requests on one connection.
        with h.HttpClient(port) as c:
            for i in range(2):
                r = c.request("GET", f"/ka{i}", headers=[("Connection", "keep-alive")],
                              version="HTTP/1.0")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Connection"), "keep-alive")
                self.assertIsNotNone(r.header("Content-Length"))

    def test_http10_client_gets_chunked_response_unchunked(self):
        b, port = self.start(lambda req: Response(200, body=iter([b"ab", b"cd"])))
        r = h.http_request(port, b"GET / HTTP/1.0\r\n\r\n", read_all=True)
        self.assertEqual((r.status, r.body), (200, b"abcd"))
        self.assertIsNone(r.header("Transfer-Encoding"))

    def test_head_204_304_have_no_body(self):
        def handler(req):
            if req.target == "/204":
                return Response(204)
            if req.target == "/304":
                return Response(304, headers=[("ETag", '"x"')])
            if req.target == "/chunked":
                return Response(200, body=iter([b"01234", b"56789"]))
            return Response(200, body=b"0123456789")

        b, port = self.start(handler)
        with h.HttpClient(port) as c:
            r = c.request("HEAD", "/")
            self.assertEqual((r.status, r.body, r.header("Content-Length")), (200, b"", "10"))
            # The GET's framing is told, not sent: chunked, as HAProxy passes it on.
            r = c.request("HEAD", "/chunked")
            self.assertEqual((r.status, r.body, r.header("Transfer-Encoding")),
                             (200, b"", "chunked"))
            self.assertIsNone(r.header("Content-Length"))
            r = c.request("GET", "/204")
            self.assertEqual((r.status, r.body), (204, b""))
            r = c.request("GET", "/304")
            self.assertEqual((r.status, r.body, r.header("ETag")), (304, b"", '"x"'))
            r = c.request("GET", "/")
            self.assertEqual(r.body, b"0123456789")  # framing intact after the no-body ones

    def test_expect_100_continue(self):
        b, port = self.start()
        # Expect is a list whose empty members are ignored (RFC 9110 5.6.1.2), as HAProxy and
        # nginx read it: each of these asks for 100-continue, and nothing else.
        spellings = [b"Expect: 100-continue\r\n", b"Expect: 100-Continue,\r\n",
                     b"Expect: , 100-continue\r\n", b"Expect:\r\nExpect: 100-continue\r\n"]
        for i, fields in enumerate(spellings):
            with self.subTest(fields), h.connect(port) as s:
                s.sendall(b"PUT /e HTTP/1.1\r\nHost: x\r\n" + fields +
                          b"Content-Length: 5\r\n\r\n")
                self.assertEqual(h.recv_line(s), b"HTTP/1.1 100 Continue\r\n")
                self.assertEqual(h.recv_line(s), b"\r\n")
                s.sendall(b"hello")
                c = h.HttpClient.__new__(h.HttpClient)
                c.sock, c.reader, c.methods = s, h.SockReader(s), ["PUT"]
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(b.requests[i].body, b"hello")
                self.assertIsNone(b.requests[i].header("Expect"))

    def test_interim_responses_are_passed_on(self):
        # RFC 9110 15.2: a proxy MUST forward 1xx responses, 100 included, unless it asked for
        # them: a client whose Expect the proxy answered itself gets one 100, not two. HTTP/1.0
        # clients get none (1xx is HTTP/1.1).
        raw = (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
               b"HTTP/1.1 100 Continue\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        b, port = self.start(lambda req: Response(raw=raw))

        def statuses(request):
            data, _ = hh.raw_exchange(port, request, wait=h.scaled(1))
            return [int(s) for s in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)], data

        got, data = statuses(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(got, [103, 100, 200], data)
        self.assertIn(b"Link: </a.css>\r\n", data)
        self.assertTrue(data.endswith(b"\r\n\r\nok"), data)
        got, data = statuses(b"PUT /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
        self.assertEqual(got, [100, 103, 200], data)
        got, data = statuses(b"GET /c HTTP/1.0\r\n\r\n")
        self.assertEqual(got, [200], data)

    def test_connect_is_refused_with_405(self):
        # A reverse proxy opens no tunnels on request: CONNECT gets a 405 naming the methods
        # that are forwarded, and never reaches a backend.
        b, port = self.start()
        data, closed = hh.raw_exchange(
            port, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            wait=h.scaled(2))
        self.assertEqual(hh.status_of(data), 405, data)
        self.assertIn(b"\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH\r\n", data)
        self.assertEqual(b.requests, [])
        r = h.http_request(port, b"TRACE /t HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((r.status, b.requests[0].method), (200, "TRACE"))

    def test_max_forwards_counts_hops_for_options_and_trace(self):
        # RFC 9110 7.6.2: each intermediary decrements Max-Forwards on OPTIONS and TRACE, and
        # at 0 answers as the final recipient instead of forwarding.
        b, port = self.start()
        with h.HttpClient(port) as c:
            r = c.request("OPTIONS", "/x", headers=[("Max-Forwards", "3")])
            self.assertEqual(r.status, 200)
            self.assertEqual(b.requests[-1].header("Max-Forwards"), "2")
            r = c.request("TRACE", "/t", headers=[("Max-Forwards", "1")])
            self.assertEqual((r.status, b.requests[-1].method), (200, "TRACE"))
            self.assertEqual(b.requests[-1].header("Max-Forwards"), "0")
            # Other methods' Max-Forwards is not the proxy's to count.
            r = c.request("GET", "/g", headers=[("Max-Forwards", "0")])
            self.assertEqual((r.status, b.requests[-1].header("Max-Forwards")), (200, "0"))
        seen = len(b.requests)
        # At 0 the proxy answers itself: OPTIONS with what it forwards, TRACE refused (no
        # request is reflected), and neither reaches a backend.
        r = h.http_request(port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n",
                           read_all=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Allow"), "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH")
        self.assertIsNotNone(r.header("X-Request-Id"))
        r = h.http_request(port, b"TRACE / HTTP/1.1\r\nHost: x\r\nCookie: s=1\r\n"
                           b"Max-Forwards: 0\r\n\r\n", read_all=True)
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH")
        self.assertNotIn(b"s=1", r.body)
        # A count that cannot be decremented is refused.
        data, _ = hh.raw_exchange(
            port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nMax-Forwards: two\r\n\r\n",
            wait=h.scaled(2))
        self.assertEqual(hh.status_of(data), 400, data)
        self.assertEqual(len(b.requests), seen)

    def test_header_rules(self):
        b, port = self.start(lambda req: Response(200, headers=[
            ("Connection", "X-Backend-Hop"), ("X-Backend-Hop", "1"), ("Keep-Alive", "timeout=5")],
            body=b"ok"))
        raw = (b"GET /h HTTP/1.1\r\nHost: Example.test:8080\r\n"
               b"Connection: keep-alive, X-Client-Hop\r\nX-Client-Hop: secret\r\n"
               b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
               b"Trailer: X-T\r\nUpgrade: h2c\r\nX-Forwarded-For: 203.0.113.9\r\n"
               b"X-Forwarded-Proto: https\r\n"
               b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n")
        r = h.http_request(port, raw)
        req = b.requests[0]
        for hop in ("Connection", "X-Client-Hop", "Keep-Alive", "Proxy-Connection", "TE",
                    "Trailer", "Upgrade"):
            self.assertIsNone(req.header(hop), f"{hop} forwarded")
        self.assertEqual(req.header("X-Forwarded-For"), "203.0.113.9, 127.0.0.1")
        self.assertEqual(req.header("X-Forwarded-Proto"), "http")
        self.assertEqual(req.header("X-Forwarded-Host"), "Example.test:8080")
        self.assertEqual(req.header("traceparent"),
                         "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        rid = req.header("X-Request-Id")
        self.assertRegex(rid, r"^[0-9a-f]{32}$")
        self.assertEqual(r.header("X-Request-Id"), rid)  # returned to the client
        self.assertIsNone(r.header("X-Backend-Hop"))
        self.assertIsNone(r.header("Keep-Alive"))
        # An id sent by the client is kept, and ids differ between requests.
        r2 = h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\n\r\n")
        self.assertEqual(b.requests[1].header("X-Request-Id"), "abc-123")
        self.assertEqual(r2.header("X-Request-Id"), "abc-123")
        h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertNotEqual(b.requests[2].header("X-Request-Id"), rid)
        # Spellings a CGI-style backend reads as X-Forwarded-* (HTTP_X_FORWARDED_FOR) do not
        # reach it: the client cannot spoof its address past the proxy's own header.
        h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\n"
                             b"X-Forwarded_Proto: https\r\nX_Forwarded_Host: evil\r\n"
                             b"X_App_Flag: 1\r\n\r\n")
        names = [n.lower() for n, _ in b.requests[3].headers]
        for lookalike in ("x_forwarded_for", "x-forwarded_proto", "x_forwarded_host"):
            self.assertNotIn(lookalike, names)
        self.assertEqual(b.requests[3].header("X_App_Flag"), "1")
        self.assertEqual(b.requests[3].header("X-Forwarded-For"), "127.0.0.1")
        # Any number of Connection options (nginx and HAProxy take them; 33 and more were
        # once a 400): every header they name is still removed.
        options = ", ".join(f"x-o{i}" for i in range(60)).encode()
        named = b"".join(f"X-O{i}: v\r\n".encode() for i in range(60))
        r = h.http_request(port, b"GET /many HTTP/1.1\r\nHost: x\r\nConnection: " + options +
                           b"\r\n" + named + b"X-Kept: k\r\n\r\n")
        self.assertEqual(r.status, 200)
        req = b.requests[4]
        self.assertEqual([n for n, _ in req.headers if n.lower().startswith("x-o")], [])
        self.assertEqual(req.header("X-Kept"), "k")

    def test_tls_listener_not_built_yet_says_http_to_the_backend(self):
        # TLS termination is not built: a listener with `tls:` starts with a warning and
        # serves plain text. X-Forwarded-Proto must say so (it once said https, which a
        # backend takes as leave to set Secure cookies or skip its redirect to https).
        cert, key = f"{self.tmp}/c.pem", f"{self.tmp}/k.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=fulcrum.test"],
                       check=True, capture_output=True, timeout=30)
        b, port = self.start(listener_extra=f'tls: {{ certificates: [{{ cert: "{cert}", '
                                            f'key: "{key}" }}] }}')
        r = h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(r.status, 200)
        self.assertEqual(b.requests[0].header("X-Forwarded-Proto"), "http")

    def test_response_carries_the_id_the_backend_got(self):
        # A backend that answers with an id of its own: the client still gets the one its
        # request carried to the backend and into the access log (one id per exchange).
        b, port = self.start(lambda req: Response(
            200, headers=[("X-Request-Id", "backend-own")], body=b"ok"))
        r = h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertRegex(r.header("X-Request-Id"), r"^[0-9a-f]{32}$")
        self.assertEqual(r.header("X-Request-Id"), b.requests[0].header("X-Request-Id"))
        self.assertEqual(len(r.header_all("X-Request-Id")), 1)
        r = h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine\r\n\r\n")
        self.assertEqual(r.header("X-Request-Id"), "mine")

    def test_date_added_where_missing(self):
        # RFC 9110 6.6.1: the backend's Date is kept; a response without one gets the proxy's,
        # and so do the proxy's own answers.
        theirs = "Sun, 06 Nov 1994 08:49:37 GMT"
        b, port = self.start(lambda req: Response(
            200, headers=[("Date", theirs)] if req.target == "/dated" else [], body=b"ok"))
        self.assertEqual(h.http_request(port, b"GET /dated HTTP/1.1\r\nHost: x\r\n\r\n")
                         .header("Date"), theirs)
        for raw in (b"GET /undated HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n"):
            r = h.http_request(port, raw)
            date = email.utils.parsedate_to_datetime(r.header("Date"))
            self.assertLess(abs(date.timestamp() - time.time()), 2, r.header("Date"))
            self.assertRegex(r.header("Date"), r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} "
                                               r"\d\d:\d\d:\d\d GMT$")
        # A request refused at its head still gets an id to find it by in the logs: the
        # client's own when it sent one.
        self.assertRegex(h.http_request(port, b"GET / HTTP/1.1\r\n\r\n").header("X-Request-Id"),
                         r"^[0-9a-f]{32}$")
        self.assertEqual(h.http_request(port, b"GET / HTTP/1.1\r\nX-Request-Id: abc\r\n\r\n")
                         .header("X-Request-Id"), "abc")

    def test_headers_off(self):
        b, port = self.start(listener_extra="headers: { forwarded: false, request_id: false }")
        r = h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
        req = b.requests[0]
        self.assertEqual(req.header("X-Forwarded-For"), "1.2.3.4")
        self.assertIsNone(req.header("X-Forwarded-Proto"))
        self.assertIsNone(req.header("X-Request-Id"))
        self.assertIsNone(r.header("X-Request-Id"))

    def test_routes(self):
        api = self.backend(h.HttpBackend("api"))
        static = self.backend(h.HttpBackend("static"))
        default = self.backend(h.HttpBackend("default"))
        port = h.free_port()
        self.fulcrum(f"""
            workers: 1
            listeners:
              - name: web
                listen: "127.0.0.1:{port}"
                protocol: http
                pool: default
                routes:
                  - {{ match: {{ host: api.example.com, path_prefix: /v1/ }}, pool: api }}
                  - {{ match: {{ path_prefix: /static/ }}, pool: static }}
            pools:
              - {{ name: api, backends: [ {{ address: "{api.address}" }} ] }}
              - {{ name: static, backends: [ {{ address: "{static.address}" }} ] }}
              - {{ name: default, backends: [ {{ address: "{default.address}" }} ] }}
        """)
        cases = [("API.Example.COM:8080", "/v1/users", "api"),
                 ("api.example.com", "/v2/users", "default"),
                 ("api.example.com", "/static/a.css", "static"),
                 ("other.example.com", "/static/b.css", "static"),
                 ("other.example.com", "/v1/users", "default"),
                 ("api.example.com.evil", "/v1/x", "default"),
                 # The fully qualified spelling is the same host: it cannot step around a route.
                 ("api.example.com.", "/v1/users", "api"),
                 ("api.example.com.:80", "/v1/users", "api")]
        with h.HttpClient(port) as c:
            for host, path, want in cases:
                r = c.request("GET", path, host=host)
                self.assertEqual(r.header("X-Backend"), want, f"{host}{path}")
            # Absolute form: the target's authority names the host, not the Host header.
            r = c.request("GET", "http://api.example.com/v1/abs", host="other.example.com")
            self.assertEqual(r.header("X-Backend"), "api")
            # RFC 9112 3.2.4: OPTIONS with an empty path goes to the origin as "OPTIONS *".
            default.clear()
            r = c.request("OPTIONS", "http://other.example.com:8001", host="x")
            self.assertEqual(r.status, 200)
            sent = default.requests_for("")
            self.assertEqual([(q.method, q.target, q.header("Host")) for q in sent],
                             [("OPTIONS", "*", "other.example.com:8001")])


if __name__ == "__main__":
    h.main()
