"""L4 balancing: round_robin over tcp listeners spreads connections by weight.

Issue 3: 3 TCP echo backends, 300 sequential connections through a tcp listener: each
backend gets 100 +- 10; weights 3:1:0 give 75% / 25% / 0 +- 5 points (weight 0 =
drained: no new traffic at all)."""

import collections

import harness as h

CONNECTIONS = 300


class TcpBalance(h.FulcrumTestCase):
    def run_connections(self, port: int, n: int) -> collections.Counter:
        """n sequential connections; each reads the backend's name and checks an echo."""
        hits = collections.Counter()
        for i in range(n):
            with h.connect(port, h.scaled(5)) as s:
                name = h.recv_line(s).decode().strip()
                msg = f"ping {i}\n".encode()
                s.sendall(msg)
                self.assertEqual(h.recv_line(s), msg)
            hits[name] += 1
        return hits

    def start(self, weights):
        backends = [self.backend(h.TcpIdServer(f"b{i}")) for i in range(len(weights))]
        port = h.free_port()
        entries = [(b, w) for b, w in zip(backends, weights)]
        self.fulcrum(h.tcp_config(port, entries))
        return port, backends

    def test_equal_weights_spread_evenly(self):
        port, backends = self.start([1, 1, 1])
        hits = self.run_connections(port, CONNECTIONS)
        for b in backends:
            self.assertAlmostEqual(hits[b.name], 100, delta=10, msg=f"hits {dict(hits)}")
        self.assertEqual(sum(hits.values()), CONNECTIONS)

    def test_weights_3_1_0(self):
        port, backends = self.start([3, 1, 0])
        hits = self.run_connections(port, CONNECTIONS)
        share = {b.name: 100.0 * hits[b.name] / CONNECTIONS for b in backends}
        self.assertAlmostEqual(share["b0"], 75, delta=5, msg=f"shares {share}")
        self.assertAlmostEqual(share["b1"], 25, delta=5, msg=f"shares {share}")
        # Drained means no new traffic: not even one connection.
        self.assertEqual(hits["b2"], 0, f"weight-0 backend got traffic: {dict(hits)}")
        self.assertEqual(backends[2].connections, 0)


if __name__ == "__main__":
    h.main()
