"""Listener limits and client timeouts (issue 4, "Safety"): 414, 431, 413 (up front and
while streaming), 408 for a slowloris client within `client_header`, `max_connections`,
and every proxy-generated error counted in fulcrum_http_requests_total with its code."""

import os
import re
import socket
import time

import harness as h
import http_helpers as hh
from wire import SockReader, read_head


def hold_half_heads(port: int, count: int) -> list:
    """Up to `count` connections, each holding half a request head (what a process out of
    descriptors accepts of them, and the rest waits in the kernel)."""
    held = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"GET /held HTTP/1.1\r\n")
            held.append(s)
        except OSError:
            pass
    return held


class Limits(h.FulcrumTestCase):
    def start(self, listener_extra):
        b = self.backend(h.HttpBackend("b1"))
        port, admin = h.free_port(), h.free_port()
        self.f = self.fulcrum(hh.http_config(port, [hh.pool("p", [b])],
                                             listener_extra=listener_extra, admin_port=admin))
        return b, port, admin

    def test_head_and_body_limits(self):
        b, port, admin = self.start(
            "limits: { max_header_bytes: 1KiB, max_body_bytes: 1KiB }")
        long_line = b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        data, closed = hh.raw_exchange(port, long_line)
        self.assertEqual((hh.status_of(data), closed), (414, True))
        # A line whose CRLF fits but leaves no room for the blank line is still the line's
        # fault (414), not the header fields' (431).
        filling = b"GET /" + b"a" * 1008 + b" HTTP/1.1\r\n\r\n"
        self.assertEqual(hh.status_of(hh.raw_exchange(port, filling)[0]), 414)
        big_head = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 1500 + b"\r\n\r\n"
        data, closed = hh.raw_exchange(port, big_head)
        self.assertEqual((hh.status_of(data), closed), (431, True))
        many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n"
        self.assertEqual(hh.status_of(hh.raw_exchange(port, many)[0]), 431)
        # Content-Length over the limit: refused before any backend is contacted.
        data, closed = hh.raw_exchange(
            port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + b"z" * 2000)
        self.assertEqual((hh.status_of(data), closed), (413, True))
        self.assertEqual(b.connections, 0)
        # Within the limits everything passes.
        ok = h.http_request(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" +
                            b"k" * 1024)
        self.assertEqual(ok.status, 200)
        self.assertEqual(len(b.requests), 1)
        # Chunked over the limit: refused when exceeded; the backend never gets a complete
        # request.
        with h.connect(port) as s:
            s.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"200\r\n" + b"c" * 512 + b"\r\n")
            time.sleep(0.2)
            s.sendall(b"400\r\n" + b"c" * 1024 + b"\r\n0\r\n\r\n")
            closed, data = h.wait_closed(s, h.scaled(3))
        self.assertTrue(closed)
        self.assertEqual(hh.status_of(data), 413)
        hh.wait_for(lambda: len(b.requests) == 2, 3, "backend saw the aborted upload end")
        self.assertFalse(b.requests[1].complete)
        text = hh.metrics(admin)
        for code in (414, 431, 413):
            self.assertGreaterEqual(hh.metric(text, "fulcrum_http_requests_total", code=code), 1,
                                    f"code {code} not counted")
        self.assertEqual(hh.metric(text, "fulcrum_http_requests_total", code=200,
                                   listener="web", pool="p"), 1)

    def test_answers_to_head_requests_have_no_body(self):
        # RFC 9110 9.3.2: the proxy's own errors to HEAD carry the length a GET would get,
        # and no content, also when the head itself was refused.
        b, port, admin = self.start("limits: { max_body_bytes: 1KiB }")
        for raw, status in (
                (b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
                (b"HEAD / HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n", 417),
                (b"HEAD / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400)):
            with self.subTest(status=status):
                data, closed = hh.raw_exchange(port, raw)
                self.assertEqual((hh.status_of(data), closed), (status, True), data)
                self.assertTrue(data.endswith(b"\r\n\r\n"), data)
        # After a HEAD on the same connection, a GET's error has its body again.
        with h.connect(port, h.scaled(5)) as s:
            s.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.2)
            # Refused before its method is known: the previous request's HEAD must not count.
            s.sendall(b"\x01GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            closed, data = h.wait_closed(s, h.scaled(3))
        last = data[data.rfind(b"HTTP/1.1 "):]
        head, _, body = last.partition(b"\r\n\r\n")
        self.assertIn(hh.status_of(last), (400, 501), data)
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        self.assertEqual(len(body), length, data)
        self.assertGreater(length, 0)

    def test_backend_not_reading_an_upload_is_a_504_not_a_408(self):
        # The client sends as fast as it can; the backend takes the head and stops reading.
        # That stall is the backend's: 504 (counted against it), and the client, still
        # sending, reads the answer (lingering close, no reset).
        class HeadOnly(h.ThreadedServer):
            def handle(self, conn, conn_id):
                read_head(SockReader(conn), is_request=True)
                self._stopping.wait(h.scaled(10))

        b = self.backend(HeadOnly(name="head-only"))
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b], timeouts="{ idle: 500ms }")]))
        s = h.connect(port, h.scaled(10))
        s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n")
        start = time.monotonic()

        def pump():
            block = b"u" * 65536
            try:
                while time.monotonic() - start < h.scaled(8):
                    s.sendall(block)
            except OSError:
                pass

        import threading
        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        self.assertEqual(read_head(SockReader(s), is_request=False).status, 504)
        self.assertLess(time.monotonic() - start, h.scaled(4))
        s.close()
        sender.join(h.scaled(10))

    def test_client_stalling_its_upload_has_client_idle(self):
        # A client that stops sending its body mid-way is the client's stall: it has the
        # listener's client_idle, as when it stops reading a download (HAProxy's `timeout
        # client` covers both), not the pool's idle, which is for a backend that stops.
        b = self.backend(h.HttpBackend("b1"))
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b], timeouts="{ idle: 20s }")],
                                    listener_extra="timeouts: { client_idle: 600ms }"))
        with h.connect(port, h.scaled(10)) as s:
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"u" * 10)
            start = time.monotonic()
            closed, data = h.wait_closed(s, h.scaled(5))
            took = time.monotonic() - start
        self.assertEqual(hh.status_of(data), 408)
        self.assertTrue(closed)
        self.assertGreaterEqual(took, 0.5)
        self.assertLess(took, h.scaled(0.6) + 1.0, "cut after the pool's idle, not client_idle")

        # The other way round: a client that pauses longer than the pool's idle but less than
        # client_idle is not cut; its upload completes.
        b2 = self.backend(h.HttpBackend("b2"))
        port2 = h.free_port()
        self.fulcrum(hh.http_config(port2, [hh.pool("p", [b2], timeouts="{ idle: 300ms }")],
                                    listener_extra="timeouts: { client_idle: 20s }"),
                     name="second.yaml")
        with h.HttpClient(port2, timeout=h.scaled(10)) as c:
            c.send(b"POST /paused HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n" + b"a" * 10)
            time.sleep(1.2)
            c.send(b"b" * 10)
            self.assertEqual(c.read_response().status, 200)
        self.assertEqual([(r.target, r.body) for r in b2.requests],
                         [("/paused", b"a" * 10 + b"b" * 10)])

    def test_slowloris_cut_off_with_408(self):
        b, port, admin = self.start("timeouts: { client_header: 1s }")
        # A head trickling in one byte at a time never completes within client_header.
        s = h.connect(port, timeout=h.scaled(5))
        start = time.monotonic()
        head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200
        closed_at = None
        for byte in head:
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            closed, data = h.wait_closed(s, 0.1)
            if closed or data:
                closed_at = time.monotonic()
                break
        if closed_at is None:
            closed, data = h.wait_closed(s, h.scaled(3))
            closed_at = time.monotonic()
        s.close()
        self.assertEqual(hh.status_of(data), 408)
        self.assertLess(closed_at - start, h.scaled(1) + 1.0)
        self.assertGreaterEqual(closed_at - start, 0.9)
        # A connection that sends nothing at all gets the same.
        with h.connect(port, timeout=h.scaled(5)) as idle:
            start = time.monotonic()
            closed, data = h.wait_closed(idle, h.scaled(4))
            self.assertTrue(closed)
            self.assertEqual(hh.status_of(data), 408)
            self.assertLess(time.monotonic() - start, h.scaled(1) + 1.0)
        self.assertEqual(b.requests, [])
        self.assertGreaterEqual(hh.metric(hh.metrics(admin), "fulcrum_http_requests_total",
                                          code=408), 2)
        # Meanwhile normal clients are served.
        self.assertEqual(h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status, 200)

    def test_client_header_under_a_second_holds_for_a_silent_client(self):
        # HTTP listeners defer accept for up to a second until the first bytes arrive; with a
        # shorter client_header there is no deferral, so a silent client is cut on time too.
        b, port, admin = self.start("timeouts: { client_header: 300ms }")
        with h.connect(port, timeout=h.scaled(5)) as idle:
            start = time.monotonic()
            closed, data = h.wait_closed(idle, h.scaled(4))
            took = time.monotonic() - start
        self.assertTrue(closed)
        self.assertEqual(hh.status_of(data), 408)
        self.assertGreaterEqual(took, 0.25)
        self.assertLess(took, h.scaled(0.3) + 0.4)
        self.assertEqual(h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status, 200)

    def test_out_of_file_descriptors_pauses_accepting(self):
        # 64 open files and 2 workers, then 150 clients that send half a head and hold it:
        # the process runs out of descriptors. It must not spin (libuv's accept loop once
        # retried EMFILE without returning to the event loop, at 100% CPU, stalling the
        # worker's connections and logging millions of lines), an open keep-alive client
        # must still be served, and everything recovers once the clients go.
        if h.SANITIZE:
            # UBSan's vptr check opens a pipe to test that memory is readable: out of
            # descriptors it fails, and every virtual destructor call is reported as an
            # invalid vptr (a false positive that aborts the process).
            self.skipTest("the sanitizer runtime needs file descriptors of its own")
        b = self.backend(h.HttpBackend("b1"))
        port = h.free_port()
        f = self.fulcrum(hh.http_config(port, [hh.pool("p", [b])], workers=2,
                                        listener_extra="timeouts: { client_header: 30s }"),
                         open_files=64)
        with h.HttpClient(port) as kept:
            self.assertEqual(kept.request("GET", "/before").status, 200)
            held = []
            try:
                held += hold_half_heads(port, 150)
                time.sleep(0.5)
                def cpu():
                    with open(f"/proc/{f.pid}/stat") as stat:
                        return sum(int(x) for x in stat.read().rsplit(")", 1)[1].split()[11:13])
                before = cpu()
                time.sleep(1.0)
                ticks = cpu() - before
                self.assertLess(ticks, 30, f"{ticks} ticks of CPU in 1 s while out of fds")
                self.assertEqual(kept.request("GET", "/during").status, 200)
            finally:
                for s in held:
                    s.close()
        self.assertLess(f.log_text().count("not accepting"), 20)
        hh.wait_for(lambda: h.http_request(port, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
                    .status == 200, h.scaled(5), "a new client served after the clients left")

    def test_out_of_file_descriptors_for_backends_is_a_warning(self):
        # Clients use up the descriptors, so the socket for a backend cannot be made: the
        # client gets a 502, as for a backend that refuses, but the log says why at warn
        # level (a refusing backend is debug: routine, and counted per backend). It was
        # logged at debug, so an operator saw 502s with nothing in the log.
        if h.SANITIZE:
            self.skipTest("the sanitizer runtime needs file descriptors of its own")
        b = self.backend(h.HttpBackend("b1"))
        port = h.free_port()
        f = self.fulcrum(hh.http_config(port, [hh.pool("p", [b],
                                                       keepalive="{ max_idle_per_backend: 0 }")],
                                        listener_extra="timeouts: { client_header: 30s }"),
                         open_files=40)
        with h.HttpClient(port, timeout=h.scaled(5)) as kept:
            kept.sock.sendall(b"G")  # accepted first (the listener defers accept until data)
            held = []
            try:
                held += hold_half_heads(port, 60)
                hh.wait_for(lambda: "not accepting" in f.log_text(), h.scaled(5),
                            "the clients used up the descriptors")
                kept.sock.sendall(b"ET /during HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(kept.read_response().status, 502)
            finally:
                for s in held:
                    s.close()
            hh.wait_for(lambda: "failed on this host" in f.log_text(), h.scaled(3),
                        "a warning for the backend connect")
            line = next(l for l in f.log_text().splitlines() if "failed on this host" in l)
            self.assertIn(" warn ", line)
            self.assertIn(f"127.0.0.1:{b.port}", line)
            self.assertIn("too many open files", line)
            # The 502 kept the connection; with descriptors free again it is served.
            def served():
                return kept.request("GET", "/after").status == 200
            hh.wait_for(served, h.scaled(5), "served once the clients left")

    def test_max_connections(self):
        b = self.backend(h.HttpBackend("b1"))
        port, admin = h.free_port(), h.free_port()
        log_path = os.path.join(self.tmp, "access.log")
        self.f = self.fulcrum(f'log: {{ access_log: "{log_path}", format: json }}\n' +
                              hh.http_config(port, [hh.pool("p", [b])], admin_port=admin,
                                             listener_extra="limits: { max_connections: 3 }"))
        held = [h.HttpClient(port) for _ in range(3)]
        try:
            for c in held:
                self.assertEqual(c.request("GET", "/").status, 200)
            # A 4th client is told why (nginx's limit_conn answers 503 too) and closed with a
            # FIN: its request was read and dropped first, so no reset can make its kernel
            # drop the answer. It used to be closed with its request unread: a reset.
            with h.connect(port) as extra:
                extra.sendall(b"GET /extra HTTP/1.1\r\nHost: x\r\n\r\n")
                closed, data = h.wait_closed(extra, h.scaled(2))
                self.assertTrue(closed, "a 4th connection was accepted")
                self.assertEqual(hh.status_of(data), 503)
                self.assertIn(b"\r\nconnection: close\r\n", data.lower())
            # One that sends nothing is closed too, once the listener's deferred accept
            # hands it over.
            with h.connect(port) as idle:
                closed, _ = h.wait_closed(idle, h.scaled(3))
                self.assertTrue(closed, "an idle 4th connection was accepted")
            self.assertEqual([r.target for r in b.requests].count("/extra"), 0)
            # The operator hears of it (once a second at most).
            self.assertIn("at its max_connections (3): refusing new connections",
                          self.f.log_text())
            # The 503s count as the proxy's other answers do, and each refusal has its access
            # log line (as nginx logs its limit_conn refusals).
            text = hh.metrics(admin)
            self.assertEqual(hh.metric(text, "fulcrum_http_requests_total", code=503,
                                       listener="web", pool="p"), 2)
            refused = [l for l in hh.access_log_lines(log_path) if l["status"] == 503]
            self.assertEqual(len(refused), 2, refused)
            self.assertEqual((refused[0]["method"], refused[0]["path"]), ("GET", "/extra"))
            self.assertEqual(refused[0]["bytes_in"], len(b"GET /extra HTTP/1.1\r\nHost: x\r\n\r\n"))
            self.assertGreater(refused[0]["bytes_out"], 0)
            self.assertEqual((refused[1]["method"], refused[1]["bytes_in"]), ("", 0))
        finally:
            for c in held:
                c.close()
        hh.wait_for(lambda: self._one_ok(port), 3, "a slot is free again")

    @staticmethod
    def _one_ok(port):
        try:
            return h.http_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200
        except (OSError, h.ConnectionClosed):
            return False


if __name__ == "__main__":
    h.main()
