"""L4 idle timeout and `limits.max_connections` (issue 3, Core).

- A tcp session with no bytes either way for the pool's `timeouts.idle` is closed (both
  sides); one with regular traffic is not.
- A listener at `limits.max_connections` closes further connections at once (logged with
  status 503); when a session ends, a new connection is accepted again.
- A session closed while its client reads nothing counts as sent (access log `bytes_out`,
  `fulcrum_bytes_sent_total`) what reached the client, not what the proxy held and dropped."""

import os
import time

import harness as h
import http_helpers as hh

IDLE = 1.0


class TcpLimits(h.FulcrumTestCase):
    def test_idle_session_is_closed(self):
        backend = self.backend(h.TcpIdServer("b"))
        port = h.free_port()
        cfg = h.tcp_config(port, [backend])
        cfg["pools"][0]["timeouts"] = {"idle": f"{int(IDLE * 1000)}ms"}
        self.fulcrum(cfg)
        with h.connect(port, h.scaled(5)) as idle, h.connect(port, h.scaled(5)) as busy:
            self.assertEqual(h.recv_line(idle), b"b\n")
            self.assertEqual(h.recv_line(busy), b"b\n")
            start = time.monotonic()
            # The busy one talks every 0.3 s for 3 idle periods and must survive.
            while time.monotonic() - start < 3 * IDLE:
                busy.sendall(b"tick\n")
                self.assertEqual(h.recv_line(busy), b"tick\n")
                time.sleep(0.3)
            closed, data = h.wait_closed(idle, h.scaled(3))
            self.assertTrue(closed, "idle session still open")
            self.assertEqual(data, b"")
            elapsed = time.monotonic() - start
            self.assertLess(elapsed, 3 * IDLE + h.scaled(2))
        # The backend side of the idle session was closed too.
        h.wait_until(lambda: backend.active == 0, h.scaled(5), what="backend sessions to end")

    def test_idle_close_timing(self):
        backend = self.backend(h.TcpIdServer("b"))
        port = h.free_port()
        cfg = h.tcp_config(port, [backend])
        cfg["pools"][0]["timeouts"] = {"idle": f"{int(IDLE * 1000)}ms"}
        self.fulcrum(cfg)
        with h.connect(port, h.scaled(5)) as s:
            self.assertEqual(h.recv_line(s), b"b\n")
            start = time.monotonic()
            closed, _ = h.wait_closed(s, 2 * IDLE + h.scaled(2))
            elapsed = time.monotonic() - start
        self.assertTrue(closed)
        self.assertGreater(elapsed, IDLE * 0.9, "closed before the idle timeout")
        self.assertLess(elapsed, 2 * IDLE + h.scaled(1), f"closed after {elapsed:.2f}s")

    def test_session_cut_while_the_client_reads_nothing_counts_what_reached_it(self):
        size = 64 * h.MiB
        backend = self.backend(h.TcpBulkServer(size))
        port, admin = h.free_port(), h.free_port()
        log_path = os.path.join(self.tmp, "access.log")
        cfg = h.tcp_config(port, [backend], workers=1)
        cfg["pools"][0]["timeouts"] = {"idle": f"{int(IDLE * 1000)}ms"}
        cfg["log"] = {"access_log": log_path, "format": "json"}
        cfg["admin"] = {"listen": f"127.0.0.1:{admin}"}
        self.fulcrum(cfg)
        before = hh.metric(hh.metrics(admin), "fulcrum_bytes_sent_total", listener="l4")
        with h.connect(port, h.scaled(30), rcvbuf=64 * 1024) as s:
            time.sleep(IDLE + h.scaled(2))  # reads nothing: the session idles out, bytes held
            received = len(h.recv_to_eof(s))
        self.assertLess(received, size, "never cut")
        hh.wait_for(lambda: len(hh.access_log_lines(log_path)) == 1, 3, "the session's line")
        self.assertEqual(hh.access_log_lines(log_path)[0]["bytes_out"], received)
        after = hh.metric(hh.metrics(admin), "fulcrum_bytes_sent_total", listener="l4")
        self.assertEqual(after - before, received)

    def test_max_connections(self):
        limit = 3
        backend = self.backend(h.TcpIdServer("b"))
        port = h.free_port()
        cfg = h.tcp_config(port, [backend])
        cfg["listeners"][0]["limits"] = {"max_connections": limit}
        log_path = os.path.join(self.tmp, "access.log")
        cfg["log"] = {"access_log": log_path, "format": "json"}
        self.fulcrum(cfg)
        held = []
        for _ in range(limit):
            s = h.connect(port, h.scaled(5))
            self.addCleanup(s.close)
            self.assertEqual(h.recv_line(s), b"b\n")
            held.append(s)
        with h.connect(port, h.scaled(5)) as extra:
            closed, data = h.wait_closed(extra, h.scaled(3))
            self.assertTrue(closed, "a connection over max_connections stayed open")
            self.assertEqual(data, b"", "a connection over the limit reached a backend")
        # Logged with status 503, as nginx's stream module logs its limit_conn refusals.
        hh.wait_for(lambda: any(l["status"] == 503 for l in hh.access_log_lines(log_path)),
                    h.scaled(3), "the refusal's access log line")
        for s in held:  # the admitted ones are unaffected
            s.sendall(b"ok\n")
            self.assertEqual(h.recv_line(s), b"ok\n")
        held.pop().close()

        def admitted():
            with h.connect(port, h.scaled(5)) as s:
                s.settimeout(h.scaled(2))
                try:
                    return h.recv_line(s) == b"b\n"
                except (h.ConnectionClosed, ConnectionResetError, TimeoutError):
                    return False
        h.wait_until(admitted, h.scaled(5), interval=0.1,
                     what="a new connection to be admitted after one closed")


if __name__ == "__main__":
    h.main()
