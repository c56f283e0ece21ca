"""Helpers shared by the balancing-policy and sticky-session e2e tests (issue 5).

- `connect_from(port, src_ip)`: a TCP connection whose source address is `src_ip`
  (127.0.0.0/8 is all loopback on Linux, so 127.0.0.2, 127.0.0.3 ... are distinct
  clients to fulcrum's source_ip stickiness and hash).
- `tcp_hit(port, src_ip)`: one connection through a tcp listener to TcpIdServers:
  the name of the backend reached (echo checked).
- `get(port, ...)`: one HTTP request on a fresh connection; `backend_of(resp)`.
- `run_parallel(fn, threads, per_thread, budget)`: fn(thread, i) from `threads`
  threads, bounded in count and wall time; returns (results, errors).
- `metrics(admin_port)` / `metric_value(text, name, **labels)`: the admin /metrics page.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import harness as h


def connect_from(port: int, src_ip: str = "127.0.0.1", timeout: float = 5.0,
                 host: str = "127.0.0.1") -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((src_ip, 0))
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def tcp_hit(port: int, src_ip: str = "127.0.0.1", timeout: float | None = None) -> str:
    """Name of the TcpIdServer that a new connection from src_ip reaches (echo checked)."""
    with connect_from(port, src_ip, timeout or h.scaled(5)) as s:
        name = h.recv_line(s).decode().strip()
        msg = f"hi from {src_ip}\n".encode()
        s.sendall(msg)
        if h.recv_line(s) != msg:
            raise AssertionError(f"echo through {name} mangled")
        return name


def get(port: int, path: str = "/", headers=(), timeout: float | None = None) -> "h.HttpResponse":
    """One GET on a new connection (closed afterwards)."""
    raw = h.build_request("GET", path, list(headers) + [("Connection", "close")])
    return h.http_request(port, raw, timeout or h.scaled(5))


def backend_of(resp) -> str | None:
    """The HttpBackend that answered (its X-Backend header, passed through by fulcrum)."""
    return resp.header("X-Backend")


def run_parallel(fn, threads: int, per_thread: int, budget: float):
    """Call fn(t, i) for i in range(per_thread) in each of `threads` threads; stops
    early once `budget` seconds have passed. Returns (results, errors) where errors are
    (t, i, exception) triples."""
    results, errors = [], []
    lock = threading.Lock()
    deadline = time.monotonic() + budget
    start = threading.Barrier(threads)

    def worker(t: int):
        try:
            start.wait(10)
        except threading.BrokenBarrierError:
            pass
        for i in range(per_thread):
            if time.monotonic() > deadline:
                return
            try:
                r = fn(t, i)
            except Exception as e:  # noqa: BLE001 - reported by the test
                with lock:
                    errors.append((t, i, e))
                continue
            with lock:
                results.append(r)

    pool = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(max(0.0, deadline - time.monotonic()) + 10)
    return results, errors


def metrics(admin_port: int) -> str:
    r = h.http_request(admin_port, h.build_request("GET", "/metrics", [("Connection", "close")]),
                       h.scaled(5))
    if r.status != 200:
        raise AssertionError(f"/metrics answered {r.status}")
    return r.body.decode()


def metric_value(text: str, name: str, **labels) -> float | None:
    """Value of the sample `name` whose labels include `labels` (None if absent)."""
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(have.get(k) == str(v) for k, v in labels.items()):
            return float(m.group(4))
    return None
