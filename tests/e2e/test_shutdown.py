"""Graceful shutdown (SIGTERM / SIGINT).

Issue 3: SIGTERM with an idle connection open exits 0 within `drain_timeout`; with a
transfer in progress, the transfer completes first (byte-exact), then exit 0. After
SIGTERM no new connection is accepted."""

import hashlib
import signal
import socket
import threading
import time

import harness as h

DRAIN = 2.0


class Shutdown(h.FulcrumTestCase):
    def test_no_connections_exits_0_at_once(self):
        backend = self.backend(h.TcpEchoServer())
        port = h.free_port()
        f = self.fulcrum(h.tcp_config(port, [backend], drain_timeout="30s"))
        start = time.monotonic()
        self.assertEqual(f.terminate(timeout=5), 0)
        self.assertLess(time.monotonic() - start, h.scaled(2), "idle fulcrum exits promptly")

    def test_sigint_is_graceful_too(self):
        backend = self.backend(h.TcpEchoServer())
        port = h.free_port()
        f = self.fulcrum(h.tcp_config(port, [backend]))
        f.signal(signal.SIGINT)
        self.assertEqual(f.wait_exit(5), 0)

    def test_sigquit_is_graceful_and_sigusr2_is_ignored(self):
        # Operators' habits: SIGQUIT is nginx's graceful stop, SIGUSR2 HAProxy's reload. Their
        # default actions killed the process with every connection in it.
        backend = self.backend(h.TcpIdServer("b"))
        port = h.free_port()
        f = self.fulcrum(h.tcp_config(port, [backend]))
        f.signal(signal.SIGUSR2)
        h.wait_until(lambda: "SIGUSR2 ignored" in f.log_text(), h.scaled(3), what="a warning")
        with h.connect(port, h.scaled(5)) as s:
            self.assertEqual(h.recv_line(s), b"b\n")  # still serving
        f.signal(signal.SIGQUIT)
        self.assertEqual(f.wait_exit(5), 0)

    def test_idle_connection_exits_0_within_drain_timeout(self):
        backend = self.backend(h.TcpIdServer("b"))
        port = h.free_port()
        f = self.fulcrum(h.tcp_config(port, [backend], drain_timeout=f"{int(DRAIN)}s"))
        with h.connect(port, h.scaled(5)) as s:
            self.assertEqual(h.recv_line(s), b"b\n")  # the session is established
            start = time.monotonic()
            code = f.terminate(timeout=DRAIN + 10)
            elapsed = time.monotonic() - start
            self.assertEqual(code, 0, f"exit code; log:\n{f.log_tail()}")
            self.assertLess(elapsed, DRAIN + h.scaled(1.0), f"exited after {elapsed:.2f}s")
            # The idle client's connection was ended, not left dangling.
            self.assertTrue(h.wait_closed(s, 2)[0])

    def test_sighup_while_draining_is_refused_aloud(self):
        # A reload cannot start once shutdown has: the operator is told, the drain goes on.
        backend = self.backend(h.TcpIdServer("b"))
        port = h.free_port()
        f = self.fulcrum(h.tcp_config(port, [backend], drain_timeout=f"{int(DRAIN)}s"))
        with h.connect(port, h.scaled(5)) as s:
            self.assertEqual(h.recv_line(s), b"b\n")  # a session holds the drain open
            f.signal(signal.SIGTERM)
            h.wait_until(lambda: "draining" in f.log_text().lower(), h.scaled(3),
                         what="the drain to start")
            f.signal(signal.SIGHUP)
            h.wait_until(lambda: "reload ignored: shutting down" in f.log_text(), h.scaled(3),
                         what="the refused reload said")
            self.assertEqual(f.wait_exit(DRAIN + 10), 0, f.log_tail())

    def test_transfer_in_progress_completes_then_exit_0(self):
        size = 8 * h.MiB
        rate = 2.5 * h.MiB  # ~3 s: SIGTERM lands in the middle
        backend = self.backend(h.TcpBulkServer(size, seed=21, send_rate=rate, start_on=3))
        port = h.free_port()
        f = self.fulcrum(h.tcp_config(port, [backend], drain_timeout="30s"))
        with h.connect(port, h.scaled(10)) as s:
            s.sendall(b"GO\n")
            s.shutdown(socket.SHUT_WR)
            digest = hashlib.sha256()
            received = 0
            while received < size // 4:  # a quarter in: the transfer is well under way
                data = s.recv(65536)
                self.assertTrue(data, "EOF too early")
                digest.update(data)
                received += len(data)
            f.signal(signal.SIGTERM)
            sigterm_at = time.monotonic()
            # Fulcrum stops accepting while the transfer goes on.
            h.wait_until(lambda: h.port_refuses(port), h.scaled(3), interval=0.05,
                         what="the listener to close after SIGTERM")
            self.assertTrue(f.running(), "fulcrum exited before the transfer finished")
            while True:
                data = s.recv(65536)
                if not data:
                    break
                digest.update(data)
                received += len(data)
            done_at = time.monotonic()
        self.assertEqual(received, size)
        self.assertEqual(digest.hexdigest(), backend.sha256, "transfer not byte-exact")
        code = f.wait_exit(10)
        exit_at = time.monotonic()
        self.assertEqual(code, 0)
        self.assertGreater(done_at - sigterm_at, 1.0, "the transfer outlived the SIGTERM")
        # It exits once its last session ends, not at the 30 s drain timeout.
        self.assertLess(exit_at - done_at, h.scaled(3.0))

    def test_sigterm_while_connections_churn(self):
        """Sessions ending on the workers while the drain completes: a race-prone moment
        (exit 0, no crash, no sanitizer report), tried a few times."""
        backend = self.backend(h.TcpIdServer("b"))
        for round_ in range(5):
            port = h.free_port()
            f = self.fulcrum(h.tcp_config(port, [backend], drain_timeout="5s"),
                             name=f"churn{round_}.yaml")
            stop = threading.Event()

            def churn():
                while not stop.is_set():
                    try:
                        with h.connect(port, h.scaled(2)) as s:
                            h.recv_line(s)
                    except (OSError, h.ConnectionClosed):
                        pass  # refused / cut once fulcrum drains: expected here

            threads = [threading.Thread(target=churn, daemon=True) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.3)
            code = f.terminate(timeout=10)
            stop.set()
            for t in threads:
                t.join(h.scaled(5))
            self.assertEqual(code, 0, f"round {round_}: exit code; log:\n{f.log_tail()}")
            f.assert_no_sanitizer_report()


if __name__ == "__main__":
    h.main()
