"""weighted_response_time: fast errors count as slow; slow backends get less traffic.

Issue 5:
- backend A answers 500 in 1 ms, B and C answer 200 in 20 ms: A receives < 10% of 400
  requests (8 concurrent clients). A naive "fastest wins" policy would send it most.
- a 200 ms backend and a 10 ms backend: the 200 ms one receives less (and < 40%).
- weights 3 and 1 on alike backends, 16 requests in flight: the heavier takes over 65%.
"""

import collections

import harness as h
import policy_helpers as ph


class WeightedResponseTime(h.FulcrumTestCase):
    def start(self, backends, weights=None):
        port = h.free_port()
        weights = weights or [1] * len(backends)
        entries = "\n".join(f'          - {{ address: "{b.address}", weight: {w} }}'
                            for b, w in zip(backends, weights))
        self.fulcrum(f"workers: 2\n"
                     f"listeners:\n"
                     f'  - {{ name: web, listen: "127.0.0.1:{port}", protocol: http, pool: p }}\n'
                     f"pools:\n"
                     f"  - name: p\n"
                     f"    policy: weighted_response_time\n"
                     f"    backends:\n{entries}\n")
        return port

    def drive(self, port, threads, per_thread, ok_statuses):
        def one(t, i):
            r = ph.get(port, f"/t{t}/r{i}")
            if r.status not in ok_statuses:
                raise AssertionError(f"status {r.status}")
            return ph.backend_of(r), r.status

        results, errors = ph.run_parallel(one, threads, per_thread, h.scaled(45))
        self.assertEqual(errors, [], f"failed requests: {errors[:5]}")
        self.assertEqual(len(results), threads * per_thread)
        return results

    def test_fast_errors_lose_traffic(self):
        bad = self.backend(h.HttpBackend("a", handler=lambda r: h.Response(500, delay=0.001)))
        good = [self.backend(h.HttpBackend(n, handler=lambda r: h.Response(200, delay=0.02)))
                for n in ("b", "c")]
        port = self.start([bad, *good])
        results = self.drive(port, 8, 50, (200, 500))
        hits = collections.Counter(name for name, _ in results)
        for name, status in results:
            self.assertEqual(status, 500 if name == "a" else 200, f"{name} answered {status}")
        total = len(results)
        self.assertEqual(len(bad.requests), hits["a"])  # no hidden retries of the 500s
        self.assertLess(hits["a"] / total, 0.10, f"error backend got {dict(hits)}")
        self.assertGreater(hits["b"], 0)
        self.assertGreater(hits["c"], 0)

    def test_slow_backend_gets_less(self):
        slow = self.backend(h.HttpBackend("slow", handler=lambda r: h.Response(delay=0.2)))
        fast = self.backend(h.HttpBackend("fast", handler=lambda r: h.Response(delay=0.01)))
        port = self.start([slow, fast])
        results = self.drive(port, 8, 40, (200,))
        hits = collections.Counter(name for name, _ in results)
        self.assertLess(hits["slow"], hits["fast"], f"hits {dict(hits)}")
        self.assertLess(hits["slow"] / len(results), 0.40, f"hits {dict(hits)}")

    def test_weights_hold_under_concurrency(self):
        # Two backends alike but for their weights, 3 and 1, with 16 requests in flight. The
        # heavier one must take about three quarters. Comparing response time x in-flight
        # requests without the weight gave it about half: its longer queue cancelled its
        # weight.
        backends = [self.backend(h.HttpBackend(n, handler=lambda r: h.Response(delay=0.02)))
                    for n in ("heavy", "light")]
        port = self.start(backends, weights=[3, 1])
        results = self.drive(port, 16, 25, (200,))
        hits = collections.Counter(name for name, _ in results)
        self.assertGreater(hits["heavy"] / len(results), 0.65, f"hits {dict(hits)}")
        self.assertGreater(hits["light"], 0, f"hits {dict(hits)}")


if __name__ == "__main__":
    h.main()
