"""L4 connect failover.

Issue 3: a dead backend in the pool: every connection still succeeds (failover). All
backends dead: the client's connection is closed within connect timeout + 1 s.

Two kinds of dead backend: a closed port (connect refused at once) and a listener whose
accept queue is full (SYNs dropped: the connect only fails at `timeouts.connect`)."""

import collections
import time

import harness as h
import http_helpers as hh

CONNECT_TIMEOUT = 0.5  # timeouts.connect below
N = 30


class TcpFailover(h.FulcrumTestCase):
    def exchange(self, port: int, i: int) -> str:
        with h.connect(port, h.scaled(5)) as s:
            name = h.recv_line(s).decode().strip()
            msg = f"hello {i}\n".encode()
            s.sendall(msg)
            self.assertEqual(h.recv_line(s), msg)
            return name

    def start(self, backends):
        port = h.free_port()
        self.fulcrum(h.tcp_config(port, backends, connect_timeout="500ms"))
        return port

    def test_refused_backend_is_skipped(self):
        live = [self.backend(h.TcpIdServer(f"live{i}")) for i in range(2)]
        dead = f"127.0.0.1:{h.free_port()}"  # nothing listens there
        port = self.start([dead, live[0], live[1]])
        hits = collections.Counter(self.exchange(port, i) for i in range(N))
        self.assertEqual(sum(hits.values()), N)
        self.assertEqual(set(hits), {"live0", "live1"})

    def test_unresponsive_backend_fails_over_after_connect_timeout(self):
        live = self.backend(h.TcpIdServer("live"))
        hole = h.BlackholeListener().start()
        self.addCleanup(hole.stop)
        port = self.start([hole.address, live])
        for i in range(6):  # round robin puts some of these on the blackhole first
            start = time.monotonic()
            self.assertEqual(self.exchange(port, i), "live")
            self.assertLess(time.monotonic() - start, CONNECT_TIMEOUT + h.scaled(1.5))

    def assert_closed_in_time(self, port: int, bound: float):
        start = time.monotonic()
        try:
            s = h.connect(port, h.scaled(5))
        except ConnectionRefusedError:
            self.fail("the listener itself refused the connection")
        with s:
            closed, data = h.wait_closed(s, bound + 2)
            elapsed = time.monotonic() - start
        self.assertTrue(closed, f"connection still open after {elapsed:.2f}s")
        self.assertEqual(data, b"")
        self.assertLess(elapsed, bound, f"closed after {elapsed:.2f}s")
        return elapsed

    def test_all_backends_refused_closes_client(self):
        dead = [f"127.0.0.1:{h.free_port()}" for _ in range(3)]
        port = self.start(dead)
        for _ in range(3):
            self.assert_closed_in_time(port, CONNECT_TIMEOUT + h.scaled(1.0))

    def test_unresponsive_only_backend_closes_client_after_connect_timeout(self):
        hole = h.BlackholeListener().start()
        self.addCleanup(hole.stop)
        port = self.start([hole.address])
        elapsed = self.assert_closed_in_time(port, CONNECT_TIMEOUT + h.scaled(1.0))
        # It did wait for the connect timeout rather than give up at once.
        self.assertGreater(elapsed, CONNECT_TIMEOUT * 0.8)

    def test_access_log_status_says_whether_a_backend_was_reached(self):
        # nginx stream's $status: 200 for a session that reached a backend, 502 when every
        # backend tried failed to connect, 503 when none was eligible to try.
        live = self.backend(h.TcpIdServer("live"))
        dead = f"127.0.0.1:{h.free_port()}"
        ports = [h.free_port() for _ in range(3)]
        log_path = f"{self.tmp}/access.log"
        cfg = {"workers": 1, "log": {"level": "info", "access_log": log_path},
               "listeners": [{"name": n, "listen": f"127.0.0.1:{p}", "protocol": "tcp",
                              "pool": n} for n, p in zip(("ok", "dead", "full"), ports)],
               "pools": [{"name": "ok", "backends": [{"address": live.address}]},
                         {"name": "dead", "backends": [{"address": dead}]},
                         {"name": "full", "backends": [{"address": live.address,
                                                        "max_connections": 1}]}]}
        self.fulcrum(cfg)
        self.assertEqual(self.exchange(ports[0], 0), "live")
        self.assert_closed_in_time(ports[1], CONNECT_TIMEOUT + h.scaled(1.0))
        with h.connect(ports[2], h.scaled(5)) as held:  # takes the only slot
            self.assertEqual(h.recv_line(held).decode().strip(), "live")
            self.assert_closed_in_time(ports[2], h.scaled(1.0))

        def lines():
            return [(e["listener"], e["status"], e["backend"])
                    for e in hh.access_log_lines(log_path)]
        # Four sessions: the held one on "full" is logged when it ends, after its 503 sibling.
        h.wait_until(lambda: len(lines()) == 4, h.scaled(5), what="four access log lines")
        # The 502 names the backend that failed, as the HTTP path's 502 does.
        self.assertEqual(sorted(lines()), [("dead", 502, dead), ("full", 200, live.address),
                                           ("full", 503, ""), ("ok", 200, live.address)])
        got = {e["listener"]: e for e in hh.access_log_lines(log_path)}
        self.assertGreater(got["ok"]["bytes_in"], 0)


if __name__ == "__main__":
    h.main()
