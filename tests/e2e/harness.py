"""End-to-end test harness for Fulcrum (Python 3.11 standard library only).

Start the real binary, point it at in-process backends on 127.0.0.1, drive it with raw
sockets. Everything a test needs is importable from here:

    import harness as h

    class T(h.FulcrumTestCase):
        def test_x(self):
            b = self.backend(h.TcpIdServer("b1"))
            port = h.free_port()
            f = self.fulcrum(f'''
                workers: 2
                listeners:
                  - {{ name: l, listen: "127.0.0.1:{port}", protocol: tcp, pool: p }}
                pools:
                  - name: p
                    backends: [ {{ address: "{b.address}" }} ]
            ''')
            with h.connect(port) as s:
                self.assertEqual(h.recv_line(s), b"b1\\n")

    if __name__ == "__main__":
        h.main()

Environment (set by ctest, see tests/CMakeLists.txt):
- FULCRUM_BIN: the binary (default: build/fulcrum under the source dir).
- FULCRUM_SOURCE_DIR: the repository (default: two levels above this file).
- FULCRUM_SANITIZE=1: ASan/UBSan build. Timeouts from `scaled()` are tripled, leak
  detection is on, and a sanitizer report in fulcrum's log fails the test.

Modules behind this one: wire.py (parsing/framing), tcp_servers.py (TCP backends),
http_servers.py (HTTP/WebSocket backends), clients.py (raw clients), ports.py (free
ports, listening sockets of a process).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

from clients import *  # noqa: F401,F403 - re-exported for tests
from http_servers import *  # noqa: F401,F403
from ports import *  # noqa: F401,F403
from ports import listening_ports
from tcp_servers import *  # noqa: F401,F403
from wire import *  # noqa: F401,F403

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("FULCRUM_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
SANITIZE = os.environ.get("FULCRUM_SANITIZE", "0").strip().lower() in ("1", "on", "true", "yes")
TIME_SCALE = 3.0 if SANITIZE else 1.0
MiB = 1 << 20

RELOAD_OK = "config reloaded"
RELOAD_FAILED = "reload failed"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "LeakSanitizer has encountered a fatal error",
                     "WARNING: ThreadSanitizer")


def scaled(seconds: float) -> float:
    """A timeout, tripled under sanitizers (ASan makes the proxy several times slower)."""
    return seconds * TIME_SCALE


def fulcrum_bin() -> str:
    path = os.environ.get("FULCRUM_BIN") or os.path.join(SOURCE_DIR, "build", "fulcrum")
    return os.path.abspath(path)


# ---------------------------------------------------------------------------- waiting


def wait_until(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    """Poll `predicate()` until it returns a truthy value (returned); TimeoutError after
    `timeout` seconds (not scaled: pass scaled(x) where the proxy's speed matters)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------- config


def to_yaml(value, indent: int = 0) -> str:
    """A small YAML emitter for dicts / lists / scalars (enough for Fulcrum configs)."""
    pad = "  " * indent

    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return "null"
        if isinstance(v, (int, float)):
            return str(v)
        s = str(v)
        if s == "" or re.search(r"[:#\[\]{},&*!|>'\"%@`]|^\s|\s$|^[-?]", s) or s.lower() in (
                "true", "false", "yes", "no", "null", "on", "off", "~"):
            return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return s

    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:\n{to_yaml(v, indent + 1)}")
            else:
                out.append(f"{pad}{k}: {to_yaml(v).strip() if isinstance(v, (dict, list)) else scalar(v)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            text = to_yaml(item, indent + 1) if isinstance(item, (dict, list)) else None
            if text is None:
                out.append(f"{pad}- {scalar(item)}\n")
            else:
                first, _, rest = text.lstrip(" ").partition("\n")
                out.append(f"{pad}- {first}\n{rest}")
        return "".join(out)
    return pad + scalar(value) + "\n"


def config_text(config) -> str:
    """A config given as YAML text (dedented) or as a dict (emitted with to_yaml)."""
    if isinstance(config, dict):
        return to_yaml(config)
    return textwrap.dedent(config).lstrip("\n")


def backend_entries(backends) -> list[dict]:
    """Backends given as servers (anything with .address), "host:port" strings,
    (address, weight) tuples or dicts -> config dicts."""
    out = []
    for b in backends:
        if isinstance(b, dict):
            out.append(b)
        elif isinstance(b, tuple):
            addr = b[0] if isinstance(b[0], str) else b[0].address
            out.append({"address": addr, "weight": b[1]})
        else:
            out.append({"address": b if isinstance(b, str) else b.address})
    return out


def tcp_config(port: int, backends, *, workers: int = 2, policy: str = "round_robin",
               connect_timeout: str | None = None, drain_timeout: str | None = None,
               listener: str = "l4", pool: str = "p", log_level: str = "info") -> dict:
    """A config dict with one tcp listener on 127.0.0.1:port and one pool."""
    pool_cfg = {"name": pool, "policy": policy, "backends": backend_entries(backends)}
    if connect_timeout:
        pool_cfg["timeouts"] = {"connect": connect_timeout}
    cfg = {"workers": workers, "log": {"level": log_level}}
    if drain_timeout:
        cfg["shutdown"] = {"drain_timeout": drain_timeout}
    cfg["listeners"] = [{"name": listener, "listen": f"127.0.0.1:{port}", "protocol": "tcp",
                         "pool": pool}]
    cfg["pools"] = [pool_cfg]
    return cfg


def write_config(tmpdir: str, config, name: str = "fulcrum.yaml") -> str:
    """Write a config (text or dict) into tmpdir/name atomically; returns the path."""
    path = os.path.join(tmpdir, name)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(config_text(config))
    os.replace(tmp, path)
    return path


_LISTEN_FLOW_RE = re.compile(r"""\blisten:\s*["']?([^\s"',}#]+)""")


def config_listen_ports(text: str) -> list[int]:
    """Ports of every `listen:` value in a config text (listeners and admin)."""
    ports = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)  # YAML comments start at line start or after space
        for m in _LISTEN_FLOW_RE.finditer(line):
            port = m.group(1).rsplit(":", 1)[-1]
            if port.isdigit():
                ports.append(int(port))
    return ports


def sanitizer_lines(text: str) -> list[str]:
    """Lines of `text` that are sanitizer reports."""
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


def run_fulcrum(*args, timeout: float = 30.0, cwd: str | None = None,
                env: dict | None = None) -> subprocess.CompletedProcess:
    """Run fulcrum to completion (for --check, --version, startup failures); returns
    CompletedProcess with text stdout/stderr."""
    return subprocess.run([fulcrum_bin(), *map(str, args)], capture_output=True, text=True,
                          timeout=scaled(timeout), cwd=cwd or SOURCE_DIR,
                          env=_child_env(env), errors="replace")


def _child_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = ":".join(filter(None, [asan, "detect_leaks=1"]))
    ubsan = env.get("UBSAN_OPTIONS", "")
    env["UBSAN_OPTIONS"] = ":".join(filter(None, [ubsan, "print_stacktrace=1"]))
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------- process

_live_pids: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    for pid in list(_live_pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


try:
    # Resolved here, in the parent: the child must not dlopen() between fork and exec
    # (another thread of the test may have held the loader's lock at fork time).
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    # Runs in the child: if the test process dies (even by SIGKILL), fulcrum follows.
    # PR_SET_PDEATHSIG fires when the *thread* that forked exits: start Fulcrum from the
    # main thread (or one that outlives it).
    if _prctl is not None:
        _prctl(1, int(signal.SIGKILL), 0, 0, 0)


class FulcrumExited(Exception):
    """fulcrum exited when it should have been running."""


class Fulcrum:
    """One fulcrum process.

        with Fulcrum(config_text_or_dict_or_path) as f:   # starts, waits for listeners
            f.reload(new_text)                              # SIGHUP, waits for the result
            code = f.terminate()                            # SIGTERM, bounded wait

    - stderr goes to `log_path` (read with log_text()); stdout to `stdout_path`.
    - Started: every `listen:` port in the config holds a listening socket of this
      process (checked through netlink / /proc, not by connecting) and SIGHUP and SIGTERM
      handlers are installed (/proc/PID/status SigCgt), within `start_timeout`.
    - On exit the process is always gone (SIGTERM, then SIGKILL), and the log is checked
      for sanitizer reports: any fails the test (AssertionError).
    - `config` may be YAML text, a dict (to_yaml) or the path of an existing file.
    """

    def __init__(self, config, tmpdir: str | None = None, args=(), env: dict | None = None,
                 start_timeout: float = 10.0, wait_ports=None, cwd: str | None = None,
                 address_space: int | None = None,
                 open_files: int | tuple[int, int] | None = None):
        self._own_tmp = tmpdir is None
        self.address_space = address_space  # RLIMIT_AS for the process, bytes
        self.open_files = open_files  # RLIMIT_NOFILE for the process: N or (soft, hard)
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="fulcrum-e2e-")
        if isinstance(config, str) and "\n" not in config and os.path.isfile(config):
            self.config_path = os.path.abspath(config)
        else:
            self.config_path = write_config(self.tmpdir, config)
        self.args = list(args)
        self.env = env
        self.cwd = cwd or SOURCE_DIR
        self.start_timeout = start_timeout
        self.wait_ports = wait_ports
        self.log_path = os.path.join(self.tmpdir, "fulcrum.stderr.log")
        self.stdout_path = os.path.join(self.tmpdir, "fulcrum.stdout.log")
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None

    # -- lifecycle
    @property
    def pid(self) -> int:
        return self.proc.pid

    def config_text(self) -> str:
        with open(self.config_path) as f:
            return f.read()

    def ports(self) -> list[int]:
        """Listener (and admin) ports of the current config file."""
        return config_listen_ports(self.config_text())

    def _preexec(self) -> None:
        _die_with_parent()
        import resource
        if self.address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (self.address_space, self.address_space))
        if self.open_files is not None:
            limits = self.open_files
            if isinstance(limits, int):
                limits = (limits, limits)
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)

    def start(self) -> "Fulcrum":
        with open(self.log_path, "ab") as err, open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(
                [fulcrum_bin(), "-c", self.config_path, *self.args], stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, cwd=self.cwd, env=_child_env(self.env),
                preexec_fn=self._preexec)
        _live_pids.add(self.proc.pid)
        ports = self.wait_ports if self.wait_ports is not None else self.ports()
        self.wait_listening(ports, self.start_timeout)
        return self

    def catches(self, *signals) -> bool:
        """True if the process has handlers installed for all `signals` (SigCgt)."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        mask = int(line.split()[1], 16)
                        return all(mask & (1 << (int(sig) - 1)) for sig in signals)
        except OSError:
            pass
        return False

    def wait_listening(self, ports, timeout: float = 10.0) -> None:
        """Wait until this process listens on every port in `ports` and has its SIGHUP
        and SIGTERM handlers installed (so a signal sent next is not fatal)."""
        ports = set(ports)
        deadline = time.monotonic() + scaled(timeout)
        while True:
            if self.proc.poll() is not None:
                self._reap()
                raise FulcrumExited(f"fulcrum exited with {self.exit_code} before listening "
                                    f"on {sorted(ports)}; log:\n{self.log_tail()}")
            missing = ports - listening_ports(self.pid, ports)
            if not missing and self.catches(signal.SIGHUP, signal.SIGTERM):
                return
            if time.monotonic() > deadline:
                what = (f"not listening on {sorted(missing)}" if missing
                        else "no SIGHUP/SIGTERM handlers")
                raise TimeoutError(f"fulcrum {what} after {scaled(timeout):.0f}s; log:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.02)

    def wait_not_listening(self, ports, timeout: float = 5.0) -> None:
        """Wait until this process holds no listening socket on any of `ports`."""
        wait_until(lambda: not listening_ports(self.pid, ports), scaled(timeout),
                   what=f"fulcrum to stop listening on {sorted(ports)}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _reap(self) -> None:
        if self.proc and self.proc.poll() is not None:
            self.exit_code = self.proc.returncode
            _live_pids.discard(self.proc.pid)

    def signal(self, sig: int) -> None:
        if self.running():
            os.kill(self.proc.pid, sig)

    def pause(self) -> None:
        """SIGSTOP, and wait until every thread is stopped: kill() returns before that, and a
        thread woken in epoll_wait may still take the events that arrive meanwhile."""
        self.signal(signal.SIGSTOP)
        task_dir = f"/proc/{self.proc.pid}/task"

        def all_stopped():
            for tid in os.listdir(task_dir):
                try:
                    with open(f"{task_dir}/{tid}/stat") as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                except FileNotFoundError:
                    continue
                if state not in ("T", "t"):
                    return False
            return True

        wait_until(all_stopped, 5, interval=0.005, what="fulcrum's threads stopped")

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM; wait at most scaled(timeout) s for the exit; returns the exit code
        (negative = killed by that signal). Raises TimeoutError (after SIGKILL) if the
        process did not exit in time."""
        if self.running():
            self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = 10.0) -> int:
        try:
            self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"fulcrum did not exit within {scaled(timeout):.1f}s; log:\n"
                               f"{self.log_tail()}")
        self._reap()
        return self.exit_code

    def kill(self) -> None:
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._reap()

    def stop(self) -> None:
        """Make sure the process is gone (SIGTERM, short grace, SIGKILL)."""
        if self.proc is None:
            return
        if self.running():
            try:
                self.terminate(timeout=5.0)
            except TimeoutError:
                pass
        self.kill()

    def __enter__(self) -> "Fulcrum":
        if self.proc is None:
            try:
                self.start()
            except BaseException:
                self.stop()
                raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is not None:
            sys.stderr.write(f"\n--- fulcrum log ({self.log_path}) ---\n{self.log_tail(60)}\n")
            return False
        self.assert_no_sanitizer_report()
        if self._own_tmp:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        return False

    # -- reload
    def reload(self, new_config=None, expect: str | None = "success",
               timeout: float = 10.0) -> bool:
        """Optionally rewrite the config file, send SIGHUP, wait for the outcome.

        Waits for a new log line containing RELOAD_OK or RELOAD_FAILED (counted, so
        earlier lines do not count). Returns True on success. `expect`: "success",
        "failure" or None (no check). After a success, waits until every listen port
        of the new config is listening."""
        if new_config is not None:
            write_config(os.path.dirname(self.config_path), new_config,
                         os.path.basename(self.config_path))
        offset = self.log_size()
        self.signal(signal.SIGHUP)
        deadline = time.monotonic() + scaled(timeout)
        while True:
            text = self.log_text(offset)  # only lines written since the SIGHUP count
            ok, bad = RELOAD_OK in text, RELOAD_FAILED in text
            if ok or bad:
                break
            if not self.running():
                self._reap()
                raise FulcrumExited(f"fulcrum exited ({self.exit_code}) during reload; "
                                    f"log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no '{RELOAD_OK}' / '{RELOAD_FAILED}' in the log "
                                   f"{scaled(timeout):.0f}s after SIGHUP; log:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.01)
        success = ok and not bad
        if expect == "success" and not success:
            raise AssertionError(f"reload failed; log:\n{self.log_tail()}")
        if expect == "failure" and success:
            raise AssertionError(f"reload succeeded but failure was expected; log:\n"
                                 f"{self.log_tail()}")
        if success:
            self.wait_listening(self.ports(), timeout)
        return success

    # -- observation
    def log_text(self, offset: int = 0) -> str:
        """fulcrum's stderr so far (from byte `offset`, see log_size())."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout_text(self) -> str:
        """fulcrum's stdout so far (e.g. an access log configured as `stdout`)."""
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        """Bytes in the log now: pass to log_text()/wait_log() to see only later lines."""
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_log(self, pattern: str, timeout: float = 10.0, after: int = 0) -> re.Match:
        """Wait until regex `pattern` matches the log from byte offset `after` on (take
        f.log_size() before an action to see only the lines it caused)."""
        rx = re.compile(pattern)

        def found():
            return rx.search(self.log_text(after))
        return wait_until(found, scaled(timeout), what=f"log matching {pattern!r}")

    def rss_kib(self) -> int:
        """Resident set size (VmRSS) in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """utime + stime from /proc/PID/stat."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def sanitizer_reports(self) -> list[str]:
        return sanitizer_lines(self.log_text())

    def assert_no_sanitizer_report(self) -> None:
        reports = self.sanitizer_reports()
        if reports:
            raise AssertionError("sanitizer report in fulcrum's log:\n" + "\n".join(reports)
                                 + f"\n--- log ---\n{self.log_tail(80)}")


class RssSampler:
    """Samples a Fulcrum's RSS every `interval` s in a thread: `max_kib`, `samples`."""

    def __init__(self, fulcrum: Fulcrum, interval: float = 0.1):
        self.fulcrum, self.interval = fulcrum, interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(self.fulcrum.rss_kib())
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.interval)

    @property
    def max_kib(self) -> int:
        return max(self.samples, default=0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


# ---------------------------------------------------------------------------- unittest


class FulcrumTestCase(unittest.TestCase):
    """unittest base: a temp dir per test, and helpers whose resources are cleaned up
    (backends stopped, fulcrum terminated and checked for sanitizer reports) even when
    the test fails."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=f"fulcrum-e2e-{self._testMethodName}-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def backend(self, server):
        """Start a server (TcpEchoServer(), HttpBackend(...), ...) for this test."""
        server.start()
        self.addCleanup(server.stop)
        return server

    def fulcrum(self, config, name: str = "fulcrum.yaml", **kw) -> Fulcrum:
        """Start fulcrum on `config` (text/dict); stopped and checked at cleanup."""
        d = os.path.join(self.tmp, os.path.splitext(name)[0])
        os.makedirs(d, exist_ok=True)
        path = write_config(d, config, name)
        f = Fulcrum(path, tmpdir=d, **kw)
        self.addCleanup(self._finish_fulcrum, f)
        try:
            f.start()
        except BaseException:
            f.stop()
            raise
        return f

    def _finish_fulcrum(self, f: Fulcrum):
        f.stop()
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and not getattr(outcome, "success", True)
        if failed:
            sys.stderr.write(f"\n--- fulcrum log ({f.log_path}) ---\n{f.log_tail(60)}\n")
        f.assert_no_sanitizer_report()

    def write_config(self, config, name: str = "fulcrum.yaml") -> str:
        return write_config(self.tmp, config, name)


def main() -> None:
    """unittest.main with verbose output; exit status non-zero on failure."""
    if not os.path.exists(fulcrum_bin()):
        sys.stderr.write(f"note: FULCRUM_BIN {fulcrum_bin()} does not exist\n")
    unittest.main(verbosity=2)
