"""consistent_hash on `hash_key: header:X-User`.

Issue 5: 3 backends, 50 users x 5 requests: each user always reaches one backend, the
users spread over at least 2 backends; a second fulcrum process with the backends listed
in a different order maps every user identically (the ring is built from addresses, with
a fixed seed); requests without the header still succeed and are spread (round robin
fallback); a drained backend's users move to others and come back when it returns."""

import collections

import harness as h
import policy_helpers as ph

USERS = [f"user-{i:03d}" for i in range(50)]


class ConsistentHash(h.FulcrumTestCase):
    def config(self, port, backends, weights=None):
        weights = weights or [1] * len(backends)
        entries = "\n".join(f'          - {{ address: "{b.address}", weight: {w} }}'
                            for b, w in zip(backends, weights))
        return (f"workers: 2\n"
                f"listeners:\n"
                f'  - {{ name: web, listen: "127.0.0.1:{port}", protocol: http, pool: p }}\n'
                f"pools:\n"
                f"  - name: p\n"
                f"    policy: consistent_hash\n"
                f"    hash_key: header:X-User\n"
                f"    backends:\n{entries}\n")

    def user_hits(self, port, user):
        r = ph.get(port, f"/u/{user}", [("X-User", user)])
        self.assertEqual(r.status, 200, f"{user}: {r.status}")
        return ph.backend_of(r)

    def mapping(self, port, rounds=5):
        """user -> backend, checking each user lands on one backend over `rounds` requests."""
        out = {}
        for _ in range(rounds):
            for u in USERS:
                name = self.user_hits(port, u)
                prev = out.setdefault(u, name)
                self.assertEqual(prev, name, f"{u} moved from {prev} to {name}")
        return out

    def test_users_stick_and_map_identically_across_processes(self):
        backends = [self.backend(h.HttpBackend(f"b{i}")) for i in range(3)]
        port1, port2 = h.free_port(), h.free_port()
        self.fulcrum(self.config(port1, backends), name="one.yaml")
        first = self.mapping(port1, rounds=5)
        spread = collections.Counter(first.values())
        self.assertGreaterEqual(len(spread), 2, f"all users on one backend: {dict(spread)}")
        # The header really reached the backends (hash key not stripped).
        self.assertTrue(all(r.header("X-User") for b in backends for r in b.requests))
        # Another process, backends listed in reverse order: the same mapping.
        self.fulcrum(self.config(port2, list(reversed(backends))), name="two.yaml")
        second = self.mapping(port2, rounds=1)
        moved = {u: (first[u], second[u]) for u in USERS if first[u] != second[u]}
        self.assertEqual(moved, {}, "users mapped differently by the second process")

    def test_requests_without_key_fall_back_to_round_robin(self):
        backends = [self.backend(h.HttpBackend(f"b{i}")) for i in range(3)]
        port = h.free_port()
        self.fulcrum(self.config(port, backends))
        hits = collections.Counter()
        for i in range(30):
            r = ph.get(port, f"/anon/{i}")
            self.assertEqual(r.status, 200)
            hits[ph.backend_of(r)] += 1
        # Round robin: every backend gets its share (10 each, give or take a worker's start).
        self.assertEqual(set(hits), {"b0", "b1", "b2"}, f"hits {dict(hits)}")
        for name in ("b0", "b1", "b2"):
            self.assertGreaterEqual(hits[name], 6, f"hits {dict(hits)}")

    def test_drained_backend_users_move_and_come_back(self):
        backends = [self.backend(h.HttpBackend(f"b{i}")) for i in range(3)]
        port = h.free_port()
        f = self.fulcrum(self.config(port, backends))
        before = self.mapping(port, rounds=2)
        counts = collections.Counter(before.values())
        victim = counts.most_common(1)[0][0]
        idx = int(victim[1:])
        weights = [0 if i == idx else 1 for i in range(3)]
        f.reload(self.config(port, backends, weights))
        during = self.mapping(port, rounds=2)
        self.assertNotIn(victim, during.values(), f"drained {victim} still gets users")
        kept = sum(1 for u in USERS if before[u] != victim and during[u] == before[u])
        others = sum(1 for u in USERS if before[u] != victim)
        # Consistent hashing: users of the other backends (almost) all stay put.
        self.assertGreaterEqual(kept, others * 0.8, f"only {kept}/{others} stayed")
        f.reload(self.config(port, backends))
        after = self.mapping(port, rounds=2)
        moved = {u: (before[u], after[u]) for u in USERS if before[u] != after[u]}
        self.assertEqual(moved, {}, "users did not come back after the backend returned")


if __name__ == "__main__":
    h.main()
