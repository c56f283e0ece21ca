"""The open-file limit (README, Operations: "open file limit").

- Started with a low soft limit under a higher hard one (a shell's 1024 under systemd's
  524288), the proxy raises its soft limit to the hard one: it serves more connections than the
  soft limit it was started with would allow (two descriptors each).
- A hard limit below what the config can use (two descriptors per connection under the
  listeners' max_connections) is a warning that names both numbers, once the sockets are
  open: a start that fails (port in use) still says one line, its reason."""

import re
import resource
import subprocess

import harness as h

SOFT = 256
HARD = 4096
CLIENTS = 300  # 600 descriptors through the proxy: over SOFT, under HARD


class FdLimit(h.FulcrumTestCase):
    def echo_config(self):
        """(config, port): one worker, a tcp listener for 1,000 connections to an echo
        backend: about 2,100 descriptors."""
        backend = self.backend(h.TcpEchoServer())
        port = h.free_port()
        cfg = h.tcp_config(port, [backend], workers=1)
        cfg["listeners"][0]["limits"] = {"max_connections": 1000}
        return cfg, port

    def test_soft_limit_is_raised_to_the_hard_one(self):
        cfg, port = self.echo_config()
        f = self.fulcrum(cfg, open_files=(SOFT, HARD))
        with open(f"/proc/{f.pid}/limits") as limits:
            line = next(l for l in limits if l.startswith("Max open files"))
        self.assertEqual(line.split()[3:5], [str(HARD), str(HARD)], line)
        socks = []
        try:
            for i in range(CLIENTS):
                socks.append(h.connect(port, h.scaled(5)))
            for i, s in enumerate(socks):
                s.sendall(b"%d\n" % i)
            for i, s in enumerate(socks):
                self.assertEqual(h.recv_line(s), b"%d\n" % i, f"client {i} of {CLIENTS}")
        finally:
            for s in socks:
                s.close()
        self.assertNotIn("EMFILE", f.log_text())
        self.assertNotIn("is below the", f.log_text(), "no warning: 4096 is enough here")

    def test_hard_limit_below_the_config_is_a_warning(self):
        cfg, port = self.echo_config()
        f = self.fulcrum(cfg, open_files=(SOFT, SOFT))
        m = f.wait_log(r"open file limit (\d+) is below the (\d+) descriptors", h.scaled(5))
        self.assertEqual(int(m.group(1)), SOFT)
        self.assertGreaterEqual(int(m.group(2)), 2000)
        # It still serves what the limit allows.
        with h.connect(port, h.scaled(5)) as s:
            s.sendall(b"x\n")
            self.assertEqual(h.recv_line(s), b"x\n")
        # Reloads check again: max_connections that fit give no warning, more give it back.
        cfg["listeners"][0]["limits"] = {"max_connections": 50}
        offset = f.log_size()
        f.reload(cfg)
        self.assertIsNone(re.search(r"open file limit \d+ is below", f.log_text(offset)))
        cfg["listeners"][0]["limits"] = {"max_connections": 500}
        offset = f.log_size()
        f.reload(cfg)
        f.wait_log(r"open file limit 256 is below the \d+ descriptors", h.scaled(5), after=offset)

    def test_a_failed_start_says_only_its_reason(self):
        cfg, port = self.echo_config()
        first = self.fulcrum(cfg)
        low = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, SOFT))
        cp = subprocess.run([h.fulcrum_bin(), "-c", first.config_path], capture_output=True,
                            text=True, timeout=h.scaled(15), preexec_fn=low)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        lines = (cp.stdout + cp.stderr).splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("Address already in use", lines[0])


if __name__ == "__main__":
    h.main()
