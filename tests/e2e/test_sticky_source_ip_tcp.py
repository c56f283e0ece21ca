# ctest-label: asan
"""source_ip stickiness on a tcp listener.

Issue 5: `sticky: {mode: source_ip}` on a tcp listener (round_robin underneath, 3
backends, 2 workers): every connection from one client IP reaches the same backend
(the table is shared by the workers); different client IPs (127.0.0.2, 127.0.0.3 ...,
all loopback on Linux) spread over more than one backend; the mapping survives a SIGHUP
reload that keeps the pool's sticky settings (a weight and an unrelated listener
change); when the sticky backend dies, the client moves to another backend and sticks
there."""

import collections

import harness as h
import policy_helpers as ph

OTHER_IPS = [f"127.0.0.{i}" for i in range(2, 14)]  # 12 more clients


class StickySourceIpTcp(h.FulcrumTestCase):
    def config(self, port, admin, backends, weights=(1, 1, 1), extra_listener=None,
               table_size=1000, ttl="30m"):
        entries = "\n".join(f'          - {{ address: "{b.address}", weight: {w} }}'
                            for b, w in zip(backends, weights))
        extra = ""
        if extra_listener:
            extra = (f'  - {{ name: extra, listen: "127.0.0.1:{extra_listener}", '
                     f'protocol: tcp, pool: p }}\n')
        return (f"workers: 2\n"
                f'admin: {{ listen: "127.0.0.1:{admin}" }}\n'
                f"listeners:\n"
                f'  - {{ name: l4, listen: "127.0.0.1:{port}", protocol: tcp, pool: p }}\n'
                f"{extra}"
                f"pools:\n"
                f"  - name: p\n"
                f"    policy: round_robin\n"
                f"    timeouts: {{ connect: 1s }}\n"
                f"    sticky: {{ mode: source_ip, ttl: {ttl}, table_size: {table_size} }}\n"
                f"    backends:\n{entries}\n")

    def start(self, **config):
        backends = [self.backend(h.TcpIdServer(f"b{i}")) for i in range(3)]
        port, admin = h.free_port(), h.free_port()
        f = self.fulcrum(self.config(port, admin, backends, **config))
        return f, port, admin, backends

    def assert_sticks(self, port, src, n, expected=None):
        hits = collections.Counter(ph.tcp_hit(port, src) for _ in range(n))
        self.assertEqual(len(hits), 1, f"{src}: connections spread over {dict(hits)}")
        name = next(iter(hits))
        if expected is not None:
            self.assertEqual(name, expected, f"{src} moved from {expected} to {name}")
        return name

    def test_affinity_holds_across_workers_ips_and_reload(self):
        f, port, admin, backends = self.start()
        # 50 connections from one client: one backend (both workers accept some of them).
        home = self.assert_sticks(port, "127.0.0.1", 50)
        # Other clients: each sticks to one backend; together they use more than one.
        mapping = {"127.0.0.1": home}
        for ip in OTHER_IPS:
            mapping[ip] = self.assert_sticks(port, ip, 3)
        used = set(mapping.values())
        self.assertGreater(len(used), 1, f"all {len(mapping)} client IPs on one backend")
        # One table entry per client IP.
        h.wait_until(lambda: ph.metric_value(ph.metrics(admin), "fulcrum_sticky_entries",
                                             pool="p") == len(mapping),
                     h.scaled(5), what=f"fulcrum_sticky_entries{{pool=p}} == {len(mapping)}")

        # Reload with the same pool (sticky settings unchanged) but a new weight and a
        # new listener: every client keeps its backend. With 13 clients over 3 backends,
        # a lost table would move some of them.
        extra = h.free_port()
        f.reload(self.config(port, admin, backends, weights=(1, 2, 1), extra_listener=extra))
        for ip, name in mapping.items():
            self.assert_sticks(port, ip, 3, expected=name)
        self.assert_sticks(extra, "127.0.0.1", 5, expected=home)  # same pool, same table
        self.assert_sticks(port, "127.0.0.1", 20, expected=home)
        self.assertEqual(ph.metric_value(ph.metrics(admin), "fulcrum_sticky_entries", pool="p"),
                         len(mapping))

    def test_dead_sticky_backend_moves_client_and_it_sticks_there(self):
        f, port, admin, backends = self.start()
        home = self.assert_sticks(port, "127.0.0.1", 10)
        by_name = {b.name: b for b in backends}
        by_name[home].stop()  # its port now refuses connections
        self.assertTrue(h.port_refuses(by_name[home].port))
        # The next connection fails over to another backend; later ones stay there.
        hits = collections.Counter(ph.tcp_hit(port, "127.0.0.1") for _ in range(30))
        self.assertNotIn(home, hits)
        self.assertEqual(len(hits), 1, f"after {home} died, connections spread: {dict(hits)}")
        new_home = next(iter(hits))
        # Other clients that were never on the dead backend are unaffected; everyone works.
        for ip in OTHER_IPS[:6]:
            name = self.assert_sticks(port, ip, 3)
            self.assertNotEqual(name, home)
        self.assert_sticks(port, "127.0.0.1", 10, expected=new_home)

    def test_table_size_is_the_whole_tables_and_expired_entries_leave_the_gauge(self):
        # As many clients as the table has room for: every one keeps its backend, however the
        # table spreads them over its shards (it once evicted per shard, long before
        # table_size). Interleaved rounds: each client's entry is looked up between the
        # others' inserts and lookups.
        f, port, admin, backends = self.start(table_size=4)
        clients = ["127.0.0.1", *OTHER_IPS[:3]]
        mapping = {ip: ph.tcp_hit(port, ip) for ip in clients}
        self.assertGreater(len(set(mapping.values())), 1, mapping)
        for _ in range(5):
            for ip in clients:
                self.assertEqual(ph.tcp_hit(port, ip), mapping[ip], f"{ip} lost its backend")
        self.assertEqual(ph.metric_value(ph.metrics(admin), "fulcrum_sticky_entries", pool="p"),
                         4)
        # A fifth client evicts the least recently used one: the table stays at its size.
        ph.tcp_hit(port, OTHER_IPS[3])
        self.assertEqual(ph.metric_value(ph.metrics(admin), "fulcrum_sticky_entries", pool="p"),
                         4)

        # Entries expire `ttl` after their last use, and the gauge says so when it is read
        # (the sweep timer runs every 5 s).
        f.reload(self.config(port, admin, backends, table_size=4, ttl="1s"))
        for ip in clients:
            ph.tcp_hit(port, ip)
        self.assertEqual(ph.metric_value(ph.metrics(admin), "fulcrum_sticky_entries", pool="p"),
                         4)
        h.wait_until(lambda: ph.metric_value(ph.metrics(admin), "fulcrum_sticky_entries",
                                             pool="p") == 0,
                     3, what="expired entries gone from fulcrum_sticky_entries")


if __name__ == "__main__":
    h.main()
