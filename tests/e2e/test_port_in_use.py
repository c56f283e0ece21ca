"""A listener address another process already listens on (CONFIG.md "Command line":
exit 1 on "port in use", said in one clear line naming the culprit).

Listeners bind one SO_REUSEPORT socket per worker, so without a check a second fulcrum
with the same config would bind next to the first and the two would silently split the
connections. Here: the second instance exits 1 with one line naming the address and the
listener while the first keeps serving; a reload that adds a listener on a port another
fulcrum holds fails and keeps the running config; and fulcrum's own reloads (a listener
kept, moved, removed and re-added, changed from tcp to http, or renamed from 127.0.0.1 to
localhost on the same port) are not mistaken for another process."""

import copy
import re

import harness as h
import http_helpers as hh

IN_USE = "Address already in use"


def listener(name: str, address: str, protocol: str = "tcp") -> dict:
    return {"name": name, "listen": address, "protocol": protocol, "pool": "p"}


class PortInUse(h.FulcrumTestCase):
    def setUp(self):
        super().setUp()
        self.b = self.backend(h.TcpIdServer("b1"))

    def assert_serves(self, port: int, times: int = 5) -> None:
        """New connections to `port` reach the backend (and are echoed)."""
        for i in range(times):
            with h.connect(port, h.scaled(5)) as s:
                self.assertEqual(h.recv_line(s), b"b1\n", f"connection {i} to {port}")
                s.sendall(b"ping\n")
                self.assertEqual(h.recv_line(s), b"ping\n", f"connection {i} to {port}")

    def test_second_instance_with_the_same_config_exits_1(self):
        port = h.free_port()
        first = self.fulcrum(h.tcp_config(port, [self.b], workers=2))
        held = h.listening_sockets(first.pid, port)
        self.assertEqual(len(held), 2)

        cp = h.run_fulcrum("-c", first.config_path, timeout=15)
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 1, out)
        self.assertEqual(h.sanitizer_lines(out), [])
        expected = f"cannot listen on 127.0.0.1:{port} (listener l4): {IN_USE}"
        culprit = [line for line in out.splitlines() if str(port) in line]
        self.assertEqual(len(culprit), 1, f"expected one line naming the port:\n{out}")
        self.assertIn(expected, culprit[0])
        # Where the address is written, as for every other config error.
        self.assertRegex(culprit[0], r"\.yaml:\d+:\d+: listeners\[0\]\.listen: cannot listen on")

        # The first one is untouched: same sockets, and it serves every new connection.
        self.assertTrue(first.running())
        self.assertEqual(h.listening_sockets(first.pid, port), held)
        self.assertEqual(len(h.listening_sockets(first.pid, port)), 2)
        self.assert_serves(port, 10)

    def test_reload_adding_a_port_another_fulcrum_holds_fails(self):
        mine, theirs, admin = h.free_port(), h.free_port(), h.free_port()
        other = self.fulcrum(h.tcp_config(theirs, [self.b], workers=2), "other.yaml")
        cfg = h.tcp_config(mine, [self.b], workers=2)
        cfg["admin"] = {"listen": f"127.0.0.1:{admin}"}
        f = self.fulcrum(cfg)
        failures = hh.metric(hh.metrics(admin), "fulcrum_config_reloads_total",
                             result="failure")

        grown = copy.deepcopy(cfg)
        grown["listeners"].append(listener("extra", f"127.0.0.1:{theirs}"))
        offset = f.log_size()
        f.reload(grown, expect="failure")
        log = f.log_text(offset)
        self.assertRegex(log, re.escape(f"cannot listen on 127.0.0.1:{theirs} (listener extra): "
                                        f"{IN_USE}") + r".*the running config \(generation 1\)")
        self.assertEqual(hh.metric(hh.metrics(admin), "fulcrum_config_reloads_total",
                                   result="failure"), failures + 1)

        # The old config stays: fulcrum serves its port and took nothing of the other's.
        self.assertEqual(h.listening_sockets(f.pid, theirs), set())
        self.assertEqual(len(h.listening_sockets(f.pid, mine)), 2)
        self.assert_serves(mine)
        self.assertEqual(len(h.listening_sockets(other.pid, theirs)), 2)
        self.assert_serves(theirs)

        # Once the other one is gone, the same reload succeeds.
        self.assertEqual(other.terminate(), 0)
        f.reload()
        self.assertEqual(len(h.listening_sockets(f.pid, theirs)), 2)
        self.assert_serves(theirs)

    def test_own_reloads_are_not_taken_for_another_process(self):
        p1, p2, p3 = h.free_port(), h.free_port(), h.free_port()
        cfg = h.tcp_config(p1, [self.b], workers=2, listener="a")
        f = self.fulcrum(cfg)

        def reload(*listeners):
            cfg["listeners"] = list(listeners)
            f.reload(cfg)  # fails the test if the reload fails
            for entry in listeners:
                port = int(entry["listen"].rsplit(":", 1)[1])
                if entry["protocol"] == "tcp":
                    self.assert_serves(port, 2)
                else:  # an http listener in front of a tcp backend: it answers 502
                    r = h.http_request(port, h.build_request("GET", "/"))
                    self.assertEqual(r.status, 502)

        kept = h.listening_sockets(f.pid, p1)
        reload(listener("a", f"127.0.0.1:{p1}"), listener("b", f"127.0.0.1:{p2}"))  # add b
        self.assertEqual(h.listening_sockets(f.pid, p1), kept)                      # a kept
        reload(listener("a", f"127.0.0.1:{p3}"), listener("b", f"127.0.0.1:{p2}"))  # a moves
        self.assertEqual(h.listening_sockets(f.pid, p1), set())
        reload(listener("a", f"127.0.0.1:{p3}"))                                    # b removed
        reload(listener("a", f"127.0.0.1:{p3}"), listener("b", f"127.0.0.1:{p2}"))  # re-added
        reload(listener("a", f"127.0.0.1:{p1}"), listener("b", f"127.0.0.1:{p2}"))  # a back
        reload(listener("a", f"127.0.0.1:{p1}", "http"), listener("b", f"127.0.0.1:{p2}"))
        # Same port, other spelling: fulcrum's own sockets are still open while it binds.
        reload(listener("a", f"localhost:{p1}"), listener("b", f"127.0.0.1:{p2}"))
        self.assertEqual(len(h.listening_sockets(f.pid, p1)), 2)
        self.assertNotIn("reload failed", f.log_text())


if __name__ == "__main__":
    h.main()
