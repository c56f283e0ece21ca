"""least_connections sends less traffic to the backend that holds its work longer.

Issue 5:
- http: two backends, one answers in 200 ms, the other in 10 ms; 16 concurrent clients:
  the slow one receives clearly fewer requests (< 40%; round robin would give it 50%).
- tcp: connections held open on one backend make every new connection go to the other.
"""

import collections

import harness as h
import policy_helpers as ph

THREADS = 16
PER_THREAD = 15


class LeastConnections(h.FulcrumTestCase):
    def test_http_slow_backend_gets_fewer_requests(self):
        slow = self.backend(h.HttpBackend("slow", handler=lambda r: h.Response(delay=0.2)))
        fast = self.backend(h.HttpBackend("fast", handler=lambda r: h.Response(delay=0.01)))
        port = h.free_port()
        self.fulcrum(f"""
            workers: 2
            listeners:
              - {{ name: web, listen: "127.0.0.1:{port}", protocol: http, pool: p }}
            pools:
              - name: p
                policy: least_connections
                backends:
                  - {{ address: "{slow.address}" }}
                  - {{ address: "{fast.address}" }}
        """)

        def one(t, i):
            r = ph.get(port, f"/t{t}/r{i}")
            if r.status != 200:
                raise AssertionError(f"status {r.status}")
            return ph.backend_of(r)

        results, errors = ph.run_parallel(one, THREADS, PER_THREAD, h.scaled(40))
        self.assertEqual(errors, [], f"failed requests: {errors[:5]}")
        self.assertEqual(len(results), THREADS * PER_THREAD)
        hits = collections.Counter(results)
        self.assertEqual(hits["slow"], len(slow.requests))
        self.assertEqual(hits["fast"], len(fast.requests))
        share = hits["slow"] / len(results)
        self.assertLess(share, 0.40, f"slow backend got {share:.0%}: {dict(hits)}")
        self.assertGreater(hits["slow"], 0, "the slow backend was never used")

    def test_tcp_new_connections_avoid_backend_with_held_connections(self):
        a = self.backend(h.TcpIdServer("a"))
        b = self.backend(h.TcpIdServer("b"))
        port = h.free_port()
        self.fulcrum(h.tcp_config(port, [a, b], policy="least_connections"))
        # 16 connections held open: least_connections splits them 8 / 8 (each pick sees
        # the counts of the connections before it). Then close those on b.
        held = {"a": [], "b": []}
        try:
            for _ in range(16):
                s = h.connect(port, h.scaled(5))
                held[h.recv_line(s).decode().strip()].append(s)
            self.assertEqual({k: len(v) for k, v in held.items()}, {"a": 8, "b": 8})
            for s in held["b"]:
                s.close()
            held["b"] = []
            h.wait_until(lambda: a.active == 8 and b.active == 0, h.scaled(5),
                         what="8 connections on a, none on b")
            # a has 8 active connections, b none: every new connection goes to b.
            hits = collections.Counter(ph.tcp_hit(port) for _ in range(20))
            self.assertEqual(dict(hits), {"b": 20})
            # Concurrent new connections too (while each is open b's count grows, yet
            # stays below a's 8).
            extra = []
            try:
                for _ in range(5):
                    s = h.connect(port, h.scaled(5))
                    extra.append(s)
                    self.assertEqual(h.recv_line(s), b"b\n")
            finally:
                for s in extra:
                    s.close()
        finally:
            for s in held["a"] + held["b"]:
                s.close()
        # Once a's connections are gone, it gets traffic again.
        h.wait_until(lambda: a.active == 0 and b.active == 0, h.scaled(5), what="all closed")
        hits = collections.Counter(ph.tcp_hit(port) for _ in range(10))
        self.assertIn("a", hits, f"a never used again: {dict(hits)}")


if __name__ == "__main__":
    h.main()
