"""Command line and exit codes (CONFIG.md "Command line").

Issue 3: port already in use: exit 1 with one line naming the address. `--check` on a
file with five different errors prints all five with line:col. Plus: `--check` on a
valid file prints `FILE: ok` and exits 0 (opening no socket), bad command line -> 2,
--version / --help -> 0."""

import re
import socket

import harness as h

# Five different mistakes, one per marked line (1-based line numbers below).
FIVE_ERRORS = """\
workers: 2
workerz: 3
listeners:
  - name: front
    listen: "127.0.0.1:99999"
    protocol: tcp
    pool: nowhere
pools:
  - name: p
    backends:
      - address: "127.0.0.1:9001"
        weight: 5000
    timeouts:
      connect: 5 parsecs
"""
# line -> (key path it must name, a word its message must contain or None)
EXPECTED = {
    2: ("workerz", "workers"),                      # unknown key, did-you-mean hint
    5: ("listeners[0].listen", None),               # port out of range
    7: ("listeners[0].pool", "nowhere"),            # unknown pool
    12: ("pools[0].backends[0].weight", "5000"),     # weight out of range
    14: ("pools[0].timeouts.connect", None),        # not a duration
}


def columns(text: str, line_no: int) -> set[int]:
    """1-based columns of the key and of the value on a line (either is a fair place)."""
    line = text.splitlines()[line_no - 1]
    key_col = len(line) - len(line.lstrip(" -")) + 1
    value_col = line.index(": ") + 3 if ": " in line else key_col
    return {key_col, value_col}


class Cli(h.FulcrumTestCase):
    def run_ok(self, *args, **kw):
        cp = h.run_fulcrum(*args, **kw)
        self.assertEqual(h.sanitizer_lines(cp.stdout + cp.stderr), [])
        return cp

    def test_check_reports_all_five_errors_with_positions(self):
        path = self.write_config(FIVE_ERRORS, "five.yaml")
        cp = self.run_ok("-c", path, "--check")
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 1, out)
        rx = re.compile(r"^" + re.escape(path) + r":(\d+):(\d+): (\S+): (.*)$", re.M)
        found = {}
        for m in rx.finditer(out):
            found.setdefault(int(m.group(1)), []).append(
                (int(m.group(2)), m.group(3), m.group(4)))
        for line, (key_path, word) in EXPECTED.items():
            self.assertIn(line, found, f"no error for line {line} ({key_path}) in:\n{out}")
            col, got_path, message = found[line][0]
            self.assertEqual(got_path, key_path, f"line {line}: {out}")
            self.assertIn(col, columns(FIVE_ERRORS, line), f"column of line {line}: {out}")
            if word:
                self.assertIn(word, message, f"line {line}: {out}")
        self.assertEqual(sorted(found), sorted(EXPECTED), f"unexpected extra errors:\n{out}")

    def test_check_valid_file_ok_and_opens_no_socket(self):
        # The listen port is taken: --check must not care, since it opens no socket.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            path = self.write_config(h.tcp_config(port, ["127.0.0.1:9"]), "valid.yaml")
            cp = self.run_ok("-c", path, "--check")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn(f"{path}: ok", cp.stdout.splitlines())

    def test_port_in_use_exits_1_naming_the_address(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            free = h.free_port()
            cfg = h.tcp_config(free, ["127.0.0.1:9"])
            cfg["listeners"].append({"name": "busy", "listen": f"127.0.0.1:{port}",
                                     "protocol": "tcp", "pool": "p"})
            path = self.write_config(cfg, "busy.yaml")
            cp = self.run_ok("-c", path, timeout=15)
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 1, out)
        addr = f"127.0.0.1:{port}"
        culprit = [line for line in out.splitlines()
                   if addr in line and re.search(r"in use|EADDRINUSE", line, re.I)]
        self.assertEqual(len(culprit), 1, f"expected one line naming {addr} as in use:\n{out}")

    def test_sticky_table_that_cannot_be_allocated_fails_start_and_reload(self):
        # A source-IP table is allocated whole (about 120 bytes per entry): 10 million entries
        # do not fit in 700 MB of address space. That is exit 1 with a clear line at start,
        # and a failed reload that leaves the running config serving (it once aborted the
        # process either way).
        if h.SANITIZE:
            self.skipTest("ASan reserves more address space than the limit")
        backend = self.backend(h.TcpEchoServer())
        port = h.free_port()

        def config(size):
            cfg = h.tcp_config(port, [backend])
            cfg["pools"][0]["sticky"] = {"mode": "source_ip", "table_size": size}
            return cfg

        limit = 700 * 1024 * 1024
        path = self.write_config(config(10_000_000), "big.yaml")
        f = h.Fulcrum(path, address_space=limit)
        with self.assertRaises(h.FulcrumExited):
            f.start()
        self.assertEqual(f.exit_code, 1)
        self.assertIn("out of memory building the configuration", f.log_tail())
        f = self.fulcrum(config(1000), address_space=limit)
        self.assertFalse(f.reload(config(10_000_000), expect="failure"))
        with h.connect(port, h.scaled(5)) as s:
            s.sendall(b"still here\n")
            self.assertEqual(h.recv_line(s), b"still here\n")

    def test_access_log_that_cannot_be_opened_fails_start_and_reload(self):
        # As nginx does: a log the workers could not write is a startup failure (exit 1, one
        # line naming it), and a failed reload; it once left the workers without a log.
        backend = self.backend(h.TcpEchoServer())
        port = h.free_port()

        def config(log):
            cfg = h.tcp_config(port, [backend])
            cfg["log"]["access_log"] = log
            return cfg

        bad = f"{self.tmp}/no-such-dir/access.log"
        cp = self.run_ok("-c", self.write_config(config(bad), "bad-log.yaml"), timeout=15)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertEqual(len([l for l in cp.stderr.splitlines() if bad in l]), 1, cp.stderr)
        # With its position, as any config error, and from --check too.
        where = r"\.yaml:\d+:\d+: log\.access_log: cannot create the access log"
        self.assertRegex(cp.stderr, "bad-log" + where)
        cp = self.run_ok("-c", f"{self.tmp}/bad-log.yaml", "--check", timeout=15)
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertRegex(cp.stderr, "bad-log" + where)
        good = f"{self.tmp}/access.log"
        f = self.fulcrum(config(good))
        offset = f.log_size()
        self.assertFalse(f.reload(config(bad), expect="failure"))
        self.assertRegex(f.log_text(offset), where)
        with h.connect(port, h.scaled(5)) as s:
            s.sendall(b"logged\n")
            self.assertEqual(h.recv_line(s), b"logged\n")
        hh_lines = lambda: open(good).read().count("\n")
        h.wait_until(lambda: hh_lines() == 1, h.scaled(3), what="the session logged to the old file")

    def test_startup_line_lists_listeners_and_pools(self):
        backend = self.backend(h.TcpEchoServer())
        p1, p2 = h.free_port(), h.free_port()
        cfg = h.tcp_config(p1, [backend], listener="first", pool="alpha", workers=3)
        cfg["listeners"].append({"name": "second", "listen": f"127.0.0.1:{p2}",
                                 "protocol": "tcp", "pool": "beta"})
        cfg["pools"].append({"name": "beta", "backends": [{"address": backend.address}]})
        f = self.fulcrum(cfg)
        words = ["first", f"127.0.0.1:{p1}", "second", f"127.0.0.1:{p2}", "alpha", "beta"]
        # The sockets may be listening a moment before the line is written: poll.
        f.wait_log("(?m)^" + "".join(f"(?=.*{re.escape(w)})" for w in words))
        for port in (p1, p2):  # one SO_REUSEPORT listening socket per listener per worker
            self.assertEqual(len(h.listening_sockets(f.pid, port)), 3)

    def test_missing_config_file_exits_1(self):
        path = f"{self.tmp}/does-not-exist.yaml"
        for args in (("-c", path), ("-c", path, "--check")):
            cp = self.run_ok(*args)
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            self.assertIn("does-not-exist.yaml", cp.stdout + cp.stderr)

    def test_bad_command_line_exits_2(self):
        path = self.write_config(h.tcp_config(h.free_port(), ["127.0.0.1:9"]))
        for args in (["--no-such-flag"], ["-c"], [], ["-c", path, "--bogus"], ["stray"]):
            cp = self.run_ok(*args)
            self.assertEqual(cp.returncode, 2, f"{args}: {cp.stdout}{cp.stderr}")
            self.assertTrue(cp.stderr.strip(), f"{args}: says what is wrong")

    def test_version_and_help_exit_0(self):
        cp = self.run_ok("--version")
        self.assertEqual(cp.returncode, 0)
        self.assertRegex(cp.stdout, r"fulcrum .*\d+\.\d+")
        cp = self.run_ok("--help")
        self.assertEqual(cp.returncode, 0)
        self.assertIn("--check", cp.stdout)


if __name__ == "__main__":
    h.main()
