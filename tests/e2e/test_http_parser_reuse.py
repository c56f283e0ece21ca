"""Request state handed from one client connection to the next (bench/README.md, "Memory per
idle HTTP client"): an idle keep-alive connection gives its parsers and exchange record back to
its worker, and the next request of any connection takes them. Whatever state a connection
leaves them in
(between keep-alive requests, after `Connection: close` or HTTP/1.0, mid-head, mid-body,
after a refusal, after pipelined requests), the next request must parse as on a new
connection: no 400 for a good request, no body framing or limit carried over, every answer
the one to its own request, and nothing reaching the backend that was not sent whole.

One worker, so that every connection shares one list of spare parsers; several clients at
once, each going through random episodes of those kinds (bounded in count)."""
# ctest-label: asan

import random
import socket
import threading

import harness as h
import http_helpers as hh
from http_servers import Response

EPISODES_PER_CLIENT = 60
CLIENTS = 6


class ParserReuse(h.FulcrumTestCase):
    def test_any_state_a_connection_leaves_its_parsers_in(self):
        def handler(req):
            # The target and the body length back: what the answer must be for its request.
            return Response(200, body=f"{req.method} {req.target} {req.body_len}".encode())

        b = self.backend(h.HttpBackend("b", handler=handler, record_raw=False))
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [b])],
                                    listener_extra="limits: { max_body_bytes: 4096 }"))
        errors: list[str] = []
        completed: list[str] = []  # targets whose answer the client read
        lock = threading.Lock()

        def check(r, method: str, target: str, body_len: int) -> None:
            want = f"{method} {target} {body_len}".encode()
            if r.status != 200 or r.body != want:
                raise AssertionError(f"{method} {target}: {r.status} {r.body[:80]!r}")
            with lock:
                completed.append(target)

        def episode(rng: random.Random, name: str) -> None:
            kind = rng.choice(["keepalive", "close", "http10", "mid_head", "mid_body",
                               "refused", "pipelined", "chunked"])
            if kind == "keepalive":
                with h.HttpClient(port) as c:
                    for i in range(rng.randint(1, 4)):
                        n = rng.choice([0, 5, 300])
                        method = "POST" if n else "GET"
                        check(c.request(method, f"/{name}/{i}", body=b"x" * n), method,
                              f"/{name}/{i}", n)
            elif kind == "close":
                with h.HttpClient(port) as c:
                    check(c.request("GET", f"/{name}", headers=[("Connection", "close")]),
                          "GET", f"/{name}", 0)
            elif kind == "http10":
                with h.HttpClient(port) as c:
                    c.send(f"GET /{name} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
                    check(c.read_response(), "GET", f"/{name}", 0)
            elif kind == "mid_head":
                with h.connect(port, timeout=5) as s:
                    s.sendall(f"GET /{name}-cut HTTP/1.1\r\nHost: x\r\nX-Long: ".encode())
            elif kind == "mid_body":
                with h.connect(port, timeout=5) as s:
                    s.sendall(f"POST /{name}-cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100"
                              "\r\n\r\n0123456789".encode())
            elif kind == "refused":
                raw = rng.choice([b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
                                  b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n",
                                  b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"])
                data, _ = hh.raw_exchange(port, raw, wait=h.scaled(3))
                if hh.status_of(data) not in (400, 413):
                    raise AssertionError(f"refused case {raw!r}: {data[:80]!r}")
            elif kind == "pipelined":
                with h.HttpClient(port) as c:
                    c.send(f"GET /{name}/a HTTP/1.1\r\nHost: x\r\n\r\n"
                           f"POST /{name}/b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                           f"GET /{name}/c HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                    for part, method, n in (("a", "GET", 0), ("b", "POST", 3), ("c", "GET", 0)):
                        check(c.read_response(), method, f"/{name}/{part}", n)
            else:  # a chunked request body, then a plain GET on the same connection
                with h.HttpClient(port) as c:
                    c.send(f"PUT /{name}/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                           "\r\n\r\n4\r\nabcd\r\n0\r\n\r\n".encode())
                    check(c.read_response(), "PUT", f"/{name}/c", 4)
                    check(c.request("GET", f"/{name}/g"), "GET", f"/{name}/g", 0)

        def client(seed: int) -> None:
            rng = random.Random(seed)
            for e in range(EPISODES_PER_CLIENT):
                try:
                    episode(rng, f"c{seed}e{e}")
                except (AssertionError, OSError, socket.timeout) as exc:
                    with lock:
                        errors.append(f"client {seed} episode {e}: {exc!r}")
                    return

        threads = [threading.Thread(target=client, args=(seed,)) for seed in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(h.scaled(120))
        self.assertFalse(any(t.is_alive() for t in threads), "a client hung")
        self.assertEqual(errors, [])
        self.assertGreater(len(completed), CLIENTS * EPISODES_PER_CLIENT // 2)
        # The backend saw each answered request once and whole. Of a request cut mid-body it
        # has the head and part of the body, never a whole request; of one cut mid-head or
        # refused, nothing.
        whole = [r.target for r in b.requests if r.complete]
        self.assertEqual(sorted(whole), sorted(completed))
        for r in b.requests:
            if not r.complete:
                self.assertTrue(r.target.endswith("-cut") and r.method == "POST", r.target)


if __name__ == "__main__":
    h.main()
