"""random (weighted) and power_of_two.

Issue 5:
- `random` with weights 3:1: 75% / 25% +- 7 points over 400 requests (3.2 standard
  deviations), on an http and on a tcp listener.
- `power_of_two` spreads traffic and prefers the less loaded backend: with one 200 ms
  backend and two 10 ms ones under 12 concurrent clients, the slow one receives less
  than its 1/3 share (< 25%).
"""

import collections

import harness as h
import policy_helpers as ph

N = 400


class RandomAndPowerOfTwo(h.FulcrumTestCase):
    def http_config(self, port, policy, backends, weights):
        entries = "\n".join(f'          - {{ address: "{b.address}", weight: {w} }}'
                            for b, w in zip(backends, weights))
        return (f"workers: 2\n"
                f"listeners:\n"
                f'  - {{ name: web, listen: "127.0.0.1:{port}", protocol: http, pool: p }}\n'
                f"pools:\n"
                f"  - name: p\n"
                f"    policy: {policy}\n"
                f"    backends:\n{entries}\n")

    def assert_shares(self, hits, expected):
        total = sum(hits.values())
        shares = {k: 100.0 * hits[k] / total for k in expected}
        for k, want in expected.items():
            self.assertAlmostEqual(shares[k], want, delta=7, msg=f"shares {shares}")

    def test_random_weights_3_1_http(self):
        heavy = self.backend(h.HttpBackend("heavy"))
        light = self.backend(h.HttpBackend("light"))
        port = h.free_port()
        self.fulcrum(self.http_config(port, "random", [heavy, light], [3, 1]))

        def one(t, i):
            r = ph.get(port, f"/{t}/{i}")
            if r.status != 200:
                raise AssertionError(f"status {r.status}")
            return ph.backend_of(r)

        results, errors = ph.run_parallel(one, 4, N // 4, h.scaled(40))
        self.assertEqual(errors, [], f"failed requests: {errors[:5]}")
        self.assertEqual(len(results), N)
        self.assert_shares(collections.Counter(results), {"heavy": 75, "light": 25})

    def test_random_weights_3_1_tcp(self):
        heavy = self.backend(h.TcpIdServer("heavy"))
        light = self.backend(h.TcpIdServer("light"))
        port = h.free_port()
        self.fulcrum(h.tcp_config(port, [(heavy, 3), (light, 1)], policy="random"))
        hits = collections.Counter(ph.tcp_hit(port) for _ in range(N))
        self.assert_shares(hits, {"heavy": 75, "light": 25})

    def test_power_of_two_prefers_less_loaded(self):
        slow = self.backend(h.HttpBackend("slow", handler=lambda r: h.Response(delay=0.2)))
        fast = [self.backend(h.HttpBackend(f"fast{i}", handler=lambda r: h.Response(delay=0.01)))
                for i in range(2)]
        port = h.free_port()
        self.fulcrum(self.http_config(port, "power_of_two", [slow, *fast], [1, 1, 1]))

        def one(t, i):
            r = ph.get(port, f"/{t}/{i}")
            if r.status != 200:
                raise AssertionError(f"status {r.status}")
            return ph.backend_of(r)

        results, errors = ph.run_parallel(one, 12, 20, h.scaled(40))
        self.assertEqual(errors, [], f"failed requests: {errors[:5]}")
        self.assertEqual(len(results), 240)
        hits = collections.Counter(results)
        self.assertEqual(set(hits), {"slow", "fast0", "fast1"}, f"hits {dict(hits)}")
        self.assertLess(hits["slow"] / len(results), 0.25, f"hits {dict(hits)}")


if __name__ == "__main__":
    h.main()
