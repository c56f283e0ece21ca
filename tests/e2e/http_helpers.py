"""Helpers for the HTTP and WebSocket e2e tests (issue 4), on top of harness.py.

- `http_config(port, pools, ...)`: a config with one `http` listener and the given pools.
- `pool(name, backends, **extra)`: one pool entry (backends: servers or "host:port").
- `raw_exchange(port, raw, wait)`: send bytes on a new connection, return everything the
  proxy sends until it closes (or `wait` seconds pass) and whether it closed.
- `status_of(data)`: the status code of the first response in raw bytes.
- `metrics(admin_port)` / `metric(text, name, **labels)`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.request

import harness as h


def _addr(b) -> str:
    return b if isinstance(b, str) else b.address


def pool(name: str, backends, **extra) -> str:
    """A pool as YAML flow text. `extra` values are inserted verbatim (YAML)."""
    entries = ", ".join(f'{{ address: "{_addr(b)}" }}' if not isinstance(b, dict) else
                        "{ " + ", ".join(f"{k}: {v}" for k, v in b.items()) + " }"
                        for b in backends)
    parts = [f"name: {name}", f"backends: [ {entries} ]"]
    parts += [f"{k}: {v}" for k, v in extra.items()]
    return "  - { " + ", ".join(parts) + " }\n"


def http_config(port: int, pools: list[str], *, workers: int = 1, default_pool: str = "p",
                listener_extra: str = "", admin_port: int | None = None) -> str:
    text = f"workers: {workers}\n"
    if admin_port:
        text += f'admin: {{ listen: "127.0.0.1:{admin_port}" }}\n'
    text += ("listeners:\n"
             f'  - {{ name: web, listen: "127.0.0.1:{port}", protocol: http, '
             f"pool: {default_pool}{', ' + listener_extra if listener_extra else ''} }}\n"
             "pools:\n")
    return text + "".join(pools)


def raw_exchange(port: int, raw: bytes, wait: float = 3.0) -> tuple[bytes, bool]:
    """Send `raw`; collect what comes back until EOF/RST (closed=True) or `wait` passes."""
    with h.connect(port, timeout=wait) as s:
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed, data = h.wait_closed(s, wait)
        return data, closed


def status_of(data: bytes) -> int:
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    return int(m.group(1)) if m else 0


def metrics(admin_port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text: str, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 if none)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == str(v) for k, v in labels.items()):
            total += float(m.group(4))
    return total


def wait_for(predicate, timeout: float, what: str = "condition"):
    return h.wait_until(predicate, h.scaled(timeout), what=what)


def access_log_lines(path: str) -> list[dict]:
    """The JSON access log's lines so far (none before the file exists)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def open_pipes(f) -> int:
    """The pipes a Fulcrum process holds open (a worker's splice pipe is two of them)."""
    fds, n = f"/proc/{f.pid}/fd", 0
    for fd in os.listdir(fds):
        try:
            n += os.readlink(f"{fds}/{fd}").startswith("pipe:")
        except OSError:  # closed since the listing
            pass
    return n


def refuse_with_401_and_close(conn: socket.socket) -> None:
    """A backend's early refusal of an upload: 401 with Connection: close, then a brief drain
    of what the client still sends, so that the backend's own close is not a reset."""
    conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\n"
                 b"Connection: close\r\n\r\ndenied")
    conn.settimeout(0.2)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
