"""Hot reload (SIGHUP) of tcp listeners and pools.

Issue 3: 8 clients opening and closing tcp connections in a loop for 10 s while the
config is swapped by SIGHUP 20 times between two files (different backend sets): zero
failed connections; a connection opened before the first reload still works after the
last; a reload that adds a listener opens it, one that removes a listener closes it; an
invalid file leaves everything as it was."""

import json
import re
import threading
import time

import harness as h

CLIENTS = 8
DURATION = 10.0
RELOADS = 20


def config(port, backends, extra_listeners=()):
    cfg = h.tcp_config(port, backends, listener="main")
    for name, p in extra_listeners:
        cfg["listeners"].append({"name": name, "listen": f"127.0.0.1:{p}", "protocol": "tcp",
                                 "pool": "p"})
    return cfg


class Reload(h.FulcrumTestCase):
    def setUp(self):
        super().setUp()
        self.b = [self.backend(h.TcpIdServer(f"b{i}")) for i in range(3)]
        self.port = h.free_port()
        self.cfg_a = config(self.port, self.b[0:2])   # b0, b1
        self.cfg_b = config(self.port, self.b[1:3])   # b1, b2

    def exchange(self, sock, i: int = 0) -> str:
        """On a fresh connection: the backend's name; then one echoed line."""
        name = h.recv_line(sock).decode().strip()
        self.ping(sock, i)
        return name

    def ping(self, sock, i: int = 0) -> None:
        msg = f"line {i}\n".encode()
        sock.sendall(msg)
        got = h.recv_line(sock)
        if got != msg:
            raise AssertionError(f"echo mismatch: {got!r} != {msg!r}")

    def one_connection(self, port: int) -> str:
        with h.connect(port, h.scaled(5)) as s:
            return self.exchange(s)

    def wait_backend_set(self, port: int, expected: set, what: str) -> None:
        """New connections converge on `expected` (publishing to workers is async):
        10 consecutive connections all land in it, within a bounded time."""
        def ten_in_set():
            return all(self.one_connection(port) in expected for _ in range(10))
        h.wait_until(ten_in_set, h.scaled(3), interval=0.05, what=what)

    def test_reload_under_load_loses_nothing(self):
        f = self.fulcrum(self.cfg_a)
        early = h.connect(self.port, h.scaled(5))
        self.addCleanup(early.close)
        early_backend = self.exchange(early)

        stop_at = time.monotonic() + DURATION
        failures, successes = [], [0] * CLIENTS

        def client(idx: int):
            i = 0
            while time.monotonic() < stop_at:
                try:
                    with h.connect(self.port, h.scaled(5)) as s:
                        self.exchange(s, i)
                    successes[idx] += 1
                except Exception as e:  # noqa: BLE001 - every failure is recorded
                    failures.append(f"client {idx} iteration {i}: {type(e).__name__}: {e}")
                i += 1
                time.sleep(0.005)

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        interval = DURATION / (RELOADS + 1)
        for n in range(RELOADS):
            time.sleep(interval)
            f.reload(self.cfg_b if n % 2 == 0 else self.cfg_a)
        for t in threads:
            t.join(DURATION + h.scaled(15))
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hung")
        total = sum(successes)
        print(f"{total} connections during {RELOADS} reloads, {len(failures)} failed")
        self.assertEqual(failures, [], f"{len(failures)} failed connections")
        self.assertGreater(total, CLIENTS * RELOADS, "the clients barely ran")

        # The connection opened before the first reload still works after the last.
        for i in range(3):
            self.ping(early, 1000 + i)
        self.assertIn(early_backend, {"b0", "b1"})
        # After an even number of swaps config A is in force: b2 gets no new connections.
        self.wait_backend_set(self.port, {"b0", "b1"}, "new connections to use config A")

    def test_new_connections_use_the_new_backend_set(self):
        f = self.fulcrum(self.cfg_a)
        self.wait_backend_set(self.port, {"b0", "b1"}, "config A")
        f.reload(self.cfg_b)
        self.wait_backend_set(self.port, {"b1", "b2"}, "config B after reload")
        seen = {self.one_connection(self.port) for _ in range(10)}
        self.assertEqual(seen, {"b1", "b2"})

    def test_backend_state_carried_over_and_reload_counted(self):
        admin = h.free_port()

        def with_admin(cfg):
            cfg = json.loads(json.dumps(cfg))
            cfg["admin"] = {"listen": f"127.0.0.1:{admin}"}
            return cfg

        def status():
            r = h.http_request(admin, h.build_request("GET", "/status", host="admin"))
            self.assertEqual(r.status, 200)
            return r.json()

        def active():
            pool = next(p for p in status()["pools"] if p["name"] == "p")
            return {b["address"]: b["active_connections"] for b in pool["backends"]}

        f = self.fulcrum(with_admin(self.cfg_a))
        held = []
        counts = {"b0": 0, "b1": 0}
        for _ in range(4):
            s = h.connect(self.port, h.scaled(5))
            self.addCleanup(s.close)
            counts[self.exchange(s)] += 1
            held.append(s)
        self.assertGreater(counts["b0"], 0, "4 round-robin connections over 2 workers")
        expect = {self.b[0].address: counts["b0"], self.b[1].address: counts["b1"]}
        h.wait_until(lambda: active() == expect, h.scaled(3), what=f"active == {expect}")
        generation = status()["generation"]

        # b0 stays (its weight changes: identity is pool + address), b1 goes, b2 comes.
        cfg = config(self.port, [(self.b[0], 5), self.b[2]])
        f.reload(with_admin(cfg))
        self.assertEqual(status()["generation"], generation + 1)
        now = active()
        self.assertEqual(now, {self.b[0].address: counts["b0"], self.b[2].address: 0},
                         "b0's active count was not carried over the reload")
        for s in held:
            s.close()
        h.wait_until(lambda: active()[self.b[0].address] == 0, h.scaled(3),
                     what="b0's count to return to 0")
        self.assertEqual(active(), {self.b[0].address: 0, self.b[2].address: 0})

        f.reload("listeners: nope\n", expect="failure")
        metrics = h.http_request(admin, h.build_request("GET", "/metrics", host="a")).body
        m = re.search(rb'^fulcrum_config_reloads_total\{result="failure"\} (\S+)$', metrics, re.M)
        self.assertIsNotNone(m, metrics[:2000])
        self.assertEqual(float(m.group(1)), 1.0)
        self.assertEqual(status()["generation"], generation + 1)

    def test_unchanged_listener_keeps_its_sockets(self):
        f = self.fulcrum(self.cfg_a)
        before = h.listening_sockets(f.pid, self.port)
        self.assertEqual(len(before), 2, "one SO_REUSEPORT socket per worker (workers: 2)")
        f.reload(self.cfg_b)
        f.reload(config(self.port, self.b[0:2], [("extra", h.free_port())]))
        self.assertEqual(h.listening_sockets(f.pid, self.port), before,
                         "a listener whose address did not change was re-opened")

    def test_listener_spelt_differently_keeps_its_sockets(self):
        # localhost:P and 127.0.0.1:P are one socket address: a reload that only changes the
        # spelling keeps the sockets. It re-bound them, and clients queued on the old ones got
        # resets.
        f = self.fulcrum(self.cfg_a)
        before = h.listening_sockets(f.pid, self.port)
        for spelling in ("localhost", "127.0.0.1", "localhost"):
            cfg = config(self.port, self.b[0:2])
            cfg["listeners"][0]["listen"] = f"{spelling}:{self.port}"
            f.reload(cfg)
            self.assertEqual(h.listening_sockets(f.pid, self.port), before,
                             f"re-opened for {spelling}:{self.port}")

    def test_admin_endpoint_follows_its_address(self):
        # admin.listen moved by a reload moves the endpoint (it stayed on the old port, with
        # the reload reported a success); a removed admin block closes it, an added one opens
        # it. /status keeps reporting the workers running, which a reload cannot change.
        old, new = h.free_port(), h.free_port()

        def with_admin(port, workers=2):
            cfg = config(self.port, self.b[0:2])
            cfg["workers"] = workers
            if port:
                cfg["admin"] = {"listen": f"127.0.0.1:{port}"}
            return cfg

        def status(port):
            r = h.http_request(port, h.build_request("GET", "/status", host="admin"))
            self.assertEqual(r.status, 200)
            return json.loads(r.body)

        f = self.fulcrum(with_admin(old))
        self.assertEqual(status(old)["workers"], 2)
        f.reload(with_admin(new, workers=1))
        self.assertTrue(h.port_refuses(old), "the old admin port still answers")
        self.assertEqual(status(new)["workers"], 2)  # still the two running
        self.assertIn("takes effect on restart only", f.log_text())
        f.reload(with_admin(None))
        self.assertTrue(h.port_refuses(new), "the admin endpoint outlived its block")
        f.reload(with_admin(old))
        self.assertEqual(status(old)["generation"], 4)

    def test_added_listener_opens_removed_listener_closes(self):
        f = self.fulcrum(self.cfg_a)
        port2 = h.free_port()
        self.assertTrue(h.port_refuses(port2))
        f.reload(config(self.port, self.b[0:2], [("extra", port2)]))
        self.assertIn(self.one_connection(port2), {"b0", "b1"})
        # A session on the listener about to be removed keeps working (it drains).
        held = h.connect(port2, h.scaled(5))
        self.addCleanup(held.close)
        self.exchange(held)

        f.reload(self.cfg_a)
        h.wait_until(lambda: h.port_refuses(port2), h.scaled(5), interval=0.05,
                     what=f"removed listener {port2} to refuse connections")
        self.ping(held, 1)
        self.assertIn(self.one_connection(self.port), {"b0", "b1"})

    def test_invalid_config_changes_nothing(self):
        f = self.fulcrum(self.cfg_a)
        held = h.connect(self.port, h.scaled(5))
        self.addCleanup(held.close)
        self.exchange(held)
        port3 = h.free_port()
        broken = h.to_yaml(config(self.port, self.b[1:3], [("new", port3)]))
        broken = broken.replace("pool: p\n", "pool: no_such_pool\n", 1)
        before = f.log_size()
        self.assertFalse(f.reload(broken, expect="failure"))
        self.assertIn(h.RELOAD_FAILED, f.log_text(before))
        self.assertIn("no_such_pool", f.log_text(before), "the error names the culprit")
        # Everything as it was: old listener, old backends, no new listener.
        self.ping(held, 2)
        seen = {self.one_connection(self.port) for _ in range(20)}
        self.assertEqual(seen, {"b0", "b1"})
        self.assertTrue(h.port_refuses(port3))
        # Not even parseable YAML.
        f.reload("listeners: [ {\n  : :\n", expect="failure")
        self.assertEqual({self.one_connection(self.port) for _ in range(10)}, {"b0", "b1"})
        # And a valid reload afterwards still applies.
        f.reload(self.cfg_b)
        self.wait_backend_set(self.port, {"b1", "b2"}, "config B after the failed reloads")
        self.ping(held, 3)


if __name__ == "__main__":
    h.main()
