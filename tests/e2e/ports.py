"""Ports and listening sockets on 127.0.0.1 for the e2e tests (stdlib only).

- `free_port()`: a free port outside the ephemeral range, never handed out twice.
- `port_refuses(port)`: a connect is refused (nothing listens).
- `listening_sockets(pid, port)` / `listening_ports(pid, ports)`: which listening
  sockets a process holds, found through NETLINK_SOCK_DIAG (fallback /proc/net/tcp)
  and /proc/PID/fd, without connecting (a probe connection to a tcp listener would
  become a proxied session and count as a backend hit).
"""

from __future__ import annotations

import os
import random
import socket
import struct
import threading

from clients import connect

__all__ = ["free_port", "port_refuses", "listening_sockets", "listening_ports"]

_handed_out: set[int] = set()
_port_lock = threading.Lock()

def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, outside the kernel's ephemeral range,
    and not handed out before by this process.

    Outside the ephemeral range because tests open thousands of connections: a port from
    that range may be taken as the local port of one of them (and then linger in
    TIME_WAIT) between the moment a test picks it and the moment fulcrum binds it, e.g.
    for a listener that a reload adds. (Another process may still take the port: keep
    the time between this call and its use short.)"""
    lo, hi = _ephemeral_range()
    ranges = [r for r in ((max(1025, lo - 20000), lo - 1), (hi + 1, 65535)) if r[1] - r[0] > 500]
    rng = random.Random()
    with _port_lock:
        for _ in range(1000):
            if ranges:
                a, b = rng.choice(ranges)
                candidate = rng.randint(a, b)
            else:
                candidate = 0
            if candidate in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                except OSError:
                    continue
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free port")


def port_refuses(port: int, host: str = "127.0.0.1") -> bool:
    """True if a TCP connect to host:port is refused (nothing listens)."""
    try:
        with connect(port, 1.0, host):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def _listen_table_netlink() -> list[tuple[int, str]] | None:
    """(port, inode) of every TCP socket in LISTEN state, through NETLINK_SOCK_DIAG.

    The kernel filters by state, so this stays fast when tens of thousands of TIME_WAIT
    sockets (left by earlier tests) make /proc/net/tcp take seconds to read. None if
    netlink is unavailable."""
    nlmsg_done, nlmsg_error, sock_diag_by_family, tcp_listen = 3, 2, 20, 10
    out = []
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4) as nl:  # NETLINK_SOCK_DIAG
            nl.settimeout(2)
            for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), 1):
                req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0,
                                  1 << tcp_listen) + bytes(48)
                hdr = struct.pack("=IHHII", 16 + len(req), sock_diag_by_family,
                                  0x1 | 0x300, seq, 0)  # NLM_F_REQUEST | NLM_F_DUMP
                nl.send(hdr + req)
                done = False
                while not done:
                    data = nl.recv(65536)
                    off = 0
                    while off + 16 <= len(data):
                        length, kind, _, _, _ = struct.unpack_from("=IHHII", data, off)
                        if kind == nlmsg_done:
                            done = True
                            break
                        if kind == nlmsg_error or length < 16:
                            return None
                        msg = off + 16
                        sport = struct.unpack_from("!H", data, msg + 4)[0]
                        inode = struct.unpack_from("=I", data, msg + 68)[0]
                        out.append((sport, str(inode)))
                        off += (length + 3) & ~3
    except OSError:
        return None
    return out


def _listen_inodes(port: int) -> set[str]:
    """Inodes of sockets in LISTEN state on `port` (any address, IPv4 and IPv6)."""
    table = _listen_table_netlink()
    if table is not None:
        return {inode for p, inode in table if p == port}
    out = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state, inode = parts[1], parts[3], parts[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        out.add(inode)
        except FileNotFoundError:
            pass
    return out


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(link[8:-1])
    except OSError:
        pass
    return out


def listening_sockets(pid: int, port: int) -> set[str]:
    """Inodes of the listening sockets process `pid` holds on `port` (one per worker
    with SO_REUSEPORT; the same inodes before and after a reload = sockets kept)."""
    return _listen_inodes(port) & _socket_inodes(pid)


def listening_ports(pid: int, ports) -> set[int]:
    """The subset of `ports` on which process `pid` holds a listening socket.

    Reads /proc instead of connecting, so that probing a tcp listener does not create a
    proxied session (which would count as a hit on some backend)."""
    mine = _socket_inodes(pid)
    return {p for p in ports if _listen_inodes(p) & mine}
