"""Lingering close (issue 4, "Bad input gets a clear answer"): when the proxy answers before
it has read the whole request (413 for an over-limit Content-Length, 400 in the middle of a
chunked body, a backend's early answer to an upload), it half-closes and drains the rest for
a bounded time instead of closing with unread bytes, which would send a RST that destroys
the answer in the client's kernel. A quiet lingering client is let go after 5 s."""

import http.client
import threading
import time

import harness as h
import http_helpers as hh
from http_servers import Response

# ctest-label: asan


def upload(port: int, body: bytes, path: str = "/up") -> int | str:
    """What python's http.client (send the whole body, then read) gets back."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=h.scaled(10))
    try:
        c.request("POST", path, body=body)
        return c.getresponse().status
    except OSError as e:
        return type(e).__name__
    finally:
        c.close()


class Lingering(h.FulcrumTestCase):
    def start(self, handler=None, limits="limits: { max_body_bytes: 1MiB }"):
        b = self.backend(h.HttpBackend("b1", handler=handler))
        port, admin = h.free_port(), h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b])], listener_extra=limits,
                                    admin_port=admin))
        return b, port, admin

    def test_over_limit_upload_gets_its_413_not_a_reset(self):
        b, port, admin = self.start()
        body = b"u" * (3 * h.MiB)
        # Several times: a reset loses the answer only when it races the client's read.
        results = [upload(port, body) for _ in range(5)]
        self.assertEqual(results, [413] * 5)
        self.assertEqual(b.connections, 0, "an over-limit upload reached the backend")
        # What was read only to be dropped was still received: the bytes counter has it all
        # (it counted the head only).
        hh.wait_for(lambda: hh.metric(hh.metrics(admin), "fulcrum_bytes_received_total",
                                      listener="web") >= 5 * len(body), 5,
                    "every byte the clients sent counted as received")
        # Within the limit it is proxied as usual.
        self.assertEqual(upload(port, b"k" * 1000), 200)

    def test_bad_chunk_mid_upload_answered_before_close(self):
        b, port, admin = self.start()
        s = h.connect(port, timeout=h.scaled(10))
        s.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"10\r\n0123456789abcdef\r\nzz\r\n")
        # Like most clients, it sends its whole body before it reads anything: 4 MiB more.
        send_error = None
        try:
            s.sendall(b"j" * (4 * h.MiB))
        except OSError as e:
            send_error = type(e).__name__
        closed, data = h.wait_closed(s, h.scaled(5))
        s.close()
        self.assertIsNone(send_error, "the proxy reset the connection under the upload")
        self.assertTrue(closed)
        self.assertEqual(hh.status_of(data), 400)
        self.assertIn(b"Connection: close", data)
        # The head and the bad chunk arrived together: nothing was forwarded at all (and
        # certainly none of the drained bytes).
        time.sleep(0.2)
        self.assertTrue(all(not r.complete for r in b.requests))
        for raw in b.raw_streams.values():
            self.assertNotIn(b"jjjj", bytes(raw))

    def test_backend_early_answer_to_an_upload_reaches_the_client(self):
        # The backend refuses the upload after its head (401) without reading the body: the
        # proxy relays the 401, stops forwarding and drains the rest of the client's body.
        b = self.backend(EarlyRefusal())
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b])]))
        self.assertEqual(upload(port, b"e" * (4 * h.MiB)), 401)

    def test_quiet_lingering_client_is_let_go(self):
        b, port, admin = self.start()
        s = h.connect(port, timeout=h.scaled(10))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n" + b"x" * 1000)
        closed, data = h.wait_closed(s, h.scaled(3))
        # FIN right after the answer: the client reads 413 then EOF.
        self.assertTrue(closed)
        self.assertEqual(hh.status_of(data), 413)
        # The proxy still drains (a write does not fail) ...
        time.sleep(0.5)
        s.sendall(b"x" * 1000)
        self.assertEqual(hh.metric(hh.metrics(admin), "fulcrum_downstream_connections_active",
                                   listener="web"), 1)
        # ... and lets go once the client has been quiet for 5 s.
        hh.wait_for(lambda: hh.metric(hh.metrics(admin), "fulcrum_downstream_connections_active",
                                      listener="web") == 0, h.scaled(8),
                    "lingering connection released")
        s.close()

    def test_pipelined_bytes_after_a_closing_request(self):
        # A request with Connection: close followed by megabytes of pipelined requests (more
        # than the proxy reads ahead): the response arrives whole, then EOF, no reset.
        b, port, admin = self.start()
        body = b"r" * 200000
        b.handler = lambda req: Response(200, body=body)
        s = h.connect(port, timeout=h.scaled(10))
        pipelined = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n" * 100000  # 3 MiB
        errors = []

        def send():
            try:
                s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
                          pipelined)
            except OSError as e:
                errors.append(type(e).__name__)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)  # the proxy answers and closes while the client is still sending
        try:
            got = h.recv_to_eof(s)
        except OSError as e:
            got = type(e).__name__.encode()
        sender.join(h.scaled(10))
        s.close()
        self.assertEqual(errors, [])
        self.assertEqual(hh.status_of(got), 200)
        self.assertTrue(got.endswith(body), "response cut short")
        self.assertEqual([r.target for r in b.requests], ["/a"])


class EarlyRefusal(h.HttpBackend):
    """Answers 401 as soon as a POST head arrives, then closes without reading the body."""

    def handle(self, conn, conn_id):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        with self._lock:
            self.requests.append(data)
        hh.refuse_with_401_and_close(conn)


if __name__ == "__main__":
    h.main()
