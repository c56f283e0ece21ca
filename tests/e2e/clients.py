"""Raw-socket clients for e2e tests (stdlib only).

- TCP: `connect(port)`, `recv_line`, `recv_exact`, `recv_to_eof`, `wait_closed`.
- HTTP: `http_request(port, raw_bytes)` sends bytes exactly as given and parses one
  response strictly; `HttpClient` keeps a connection open for keep-alive / pipelining;
  `build_request(...)` makes request bytes.
- WebSocket: `WsClient.connect(port, path)` does the handshake (checks the accept key),
  then `send(...)` masked frames and `recv()` frames / `recv_message()` messages.
"""

from __future__ import annotations

import base64
import os
import socket
import time
from dataclasses import dataclass, field

from wire import (WS_BINARY, WS_CLOSE, WS_CONT, WS_PING, WS_PONG, WS_TEXT, ConnectionClosed,
                  ProtocolError, SockReader, header_all, header_get, read_body, read_head,
                  ws_accept_key, ws_encode_frame, ws_read_frame)

__all__ = [
    "connect", "recv_line", "recv_exact", "recv_to_eof", "wait_closed", "HttpResponse",
    "HttpClient", "http_request", "build_request", "WsClient",
]


# ---------------------------------------------------------------------------- TCP


def connect(port: int, timeout: float = 5.0, host: str = "127.0.0.1",
            rcvbuf: int = 0) -> socket.socket:
    """A blocking TCP connection with `timeout` on every operation (and a receive buffer of
    `rcvbuf` bytes, set before connecting, when given: a client that holds little)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except BaseException:
        s.close()
        raise
    return s


def recv_exact(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        data = sock.recv(min(n - len(out), 1 << 20))
        if not data:
            raise ConnectionClosed(f"EOF after {len(out)} of {n} bytes", bytes(out))
        out += data
    return bytes(out)


def recv_line(sock: socket.socket, limit: int = 65536) -> bytes:
    """One line including b"\\n" (reads byte-wise chunks with MSG_PEEK so nothing after
    the line is consumed)."""
    out = bytearray()
    while len(out) < limit:
        peek = sock.recv(4096, socket.MSG_PEEK)
        if not peek:
            raise ConnectionClosed(f"EOF inside a line after {len(out)} bytes", bytes(out))
        idx = peek.find(b"\n")
        take = idx + 1 if idx >= 0 else len(peek)
        out += recv_exact(sock, take)
        if idx >= 0:
            return bytes(out)
    raise ProtocolError("line too long")


def recv_to_eof(sock: socket.socket, limit: int = 1 << 30) -> bytes:
    out = bytearray()
    while len(out) < limit:
        try:
            data = sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not data:
            break
        out += data
    return bytes(out)


def wait_closed(sock: socket.socket, timeout: float) -> tuple[bool, bytes]:
    """Wait until the peer closes (EOF or reset); returns (closed, bytes received meanwhile).

    Used to assert that the proxy ends a connection within a time bound."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    old = sock.gettimeout()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, bytes(got)
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                return False, bytes(got)
            except (ConnectionResetError, BrokenPipeError):
                return True, bytes(got)
            if not data:
                return True, bytes(got)
            got += data
    finally:
        sock.settimeout(old)


# ---------------------------------------------------------------------------- HTTP


@dataclass
class HttpResponse:
    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool              # False: connection closed before the body's end
    raw: bytes                  # head + body bytes as received (excluding 1xx interim)
    interim: list = field(default_factory=list)  # 1xx heads received before this one

    def header(self, name: str, default: str | None = None) -> str | None:
        return header_get(self.headers, name, default)

    def header_all(self, name: str) -> list[str]:
        return header_all(self.headers, name)

    def json(self):
        import json
        return json.loads(self.body)


def build_request(method: str = "GET", target: str = "/", headers=None, body: bytes = b"",
                  host: str | None = "example.test", version: str = "HTTP/1.1") -> bytes:
    """Request bytes. Adds Host (unless host=None or given in headers) and
    Content-Length for a non-empty body (unless a framing header is given)."""
    headers = list(headers or [])
    names = {k.lower() for k, _ in headers}
    if host is not None and "host" not in names:
        headers.insert(0, ("Host", host))
    if body and not names & {"content-length", "transfer-encoding"}:
        headers.append(("Content-Length", str(len(body))))
    lines = [f"{method} {target} {version}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpClient:
    """One client connection; send raw bytes, read responses one at a time.

        with HttpClient(port) as c:
            r = c.request("GET", "/a")
            c.send(raw_pipelined_bytes); r1 = c.read_response(); r2 = c.read_response()
    """

    def __init__(self, port: int, timeout: float = 5.0, host: str = "127.0.0.1"):
        self.sock = connect(port, timeout, host)
        self.reader = SockReader(self.sock, record=True)
        self.methods: list[str] = []  # methods sent, to know which responses have no body

    def send(self, raw: bytes) -> None:
        """Send bytes verbatim; request methods are noted for response parsing."""
        for line in raw.split(b"\r\n"):
            word = line.split(b" ", 1)[0]
            if line.endswith(b" HTTP/1.1") or line.endswith(b" HTTP/1.0"):
                self.methods.append(word.decode("latin-1"))
        self.sock.sendall(raw)

    def request(self, method: str = "GET", target: str = "/", headers=None, body: bytes = b"",
                **kw) -> "HttpResponse":
        self.send(build_request(method, target, headers, body, **kw))
        return self.read_response()

    def read_response(self) -> HttpResponse:
        """The next final response (1xx interim responses are collected in `.interim`).

        Raises ConnectionClosed if the connection ends before a complete head."""
        method = self.methods.pop(0) if self.methods else "GET"
        interim = []
        while True:
            start = len(self.reader.raw) - len(self.reader.buf)
            head = read_head(self.reader, is_request=False)
            if 100 <= head.status < 200 and head.status != 101:
                interim.append(head)
                continue
            break
        if head.status == 101:
            body, complete = b"", True
        else:
            body, complete = read_body(self.reader, head, is_request=False,
                                       request_method=method)
        end = len(self.reader.raw) - len(self.reader.buf)
        return HttpResponse(head.status, head.reason, head.version, head.headers, body,
                            complete, bytes(self.reader.raw[start:end]), interim)

    def is_closed(self, wait: float = 0.0) -> bool:
        """True if the peer has closed (EOF/RST) within `wait` seconds; unread response
        bytes make this False."""
        if self.reader.buf:
            return False
        closed, data = wait_closed(self.sock, wait) if wait else self._peek_closed()
        if data:
            self.reader.buf += data
            return False
        return closed

    def _peek_closed(self):
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(65536)
            return (not data), data
        except BlockingIOError:
            return False, b""
        except ConnectionResetError:
            return True, b""
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(self.reader.sock.gettimeout())

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http_request(port: int, raw: bytes, timeout: float = 5.0, host: str = "127.0.0.1",
                 read_all: bool = False) -> HttpResponse:
    """Send `raw` on a new connection, read one response, close.

    With read_all=True the body is whatever arrives until the proxy closes (for
    checking that nothing else follows an error response)."""
    with HttpClient(port, timeout, host) as c:
        c.send(raw)
        resp = c.read_response()
        if read_all:
            resp.body += recv_to_eof(c.sock)
        return resp


# ---------------------------------------------------------------------------- WebSocket


class WsClient:
    """A WebSocket client over a raw socket (frames masked as RFC 6455 requires)."""

    def __init__(self, sock: socket.socket, reader: SockReader, response: HttpResponse):
        self.sock, self.reader, self.response = sock, reader, response

    @classmethod
    def connect(cls, port: int, path: str = "/", host: str = "example.test", headers=None,
                timeout: float = 5.0, expect_101: bool = True) -> "WsClient":
        """Handshake; raises AssertionError if the answer is not a valid 101 (when
        expect_101), else returns a client whose `.response` holds the answer."""
        key = base64.b64encode(os.urandom(16)).decode()
        hdrs = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]
        hdrs += list(headers or [])
        c = HttpClient(port, timeout)
        c.send(build_request("GET", path, hdrs, host=None))
        resp = c.read_response()
        if expect_101:
            if resp.status != 101:
                c.close()
                raise AssertionError(f"expected 101, got {resp.status}: {resp.body[:200]!r}")
            if resp.header("Sec-WebSocket-Accept") != ws_accept_key(key):
                c.close()
                raise AssertionError("bad Sec-WebSocket-Accept")
        client = cls(c.sock, c.reader, resp)
        client.reader.record = False
        return client

    def send(self, data: bytes, opcode: int = WS_BINARY, fin: bool = True) -> None:
        self.sock.sendall(ws_encode_frame(opcode, data, fin=fin, mask=True))

    def send_text(self, text: str) -> None:
        self.send(text.encode(), WS_TEXT)

    def ping(self, data: bytes = b"") -> None:
        self.send(data, WS_PING)

    def recv(self):
        """Next frame as wire.WsFrame (fin, opcode, payload, masked)."""
        return ws_read_frame(self.reader)

    def recv_message(self) -> tuple[int, bytes]:
        """Next data message (reassembling fragments, skipping pongs): (opcode, payload)."""
        opcode, parts = None, []
        while True:
            f = self.recv()
            if f.opcode in (WS_PONG, WS_PING):
                continue
            if f.opcode == WS_CLOSE:
                return WS_CLOSE, f.payload
            if f.opcode != WS_CONT:
                opcode = f.opcode
            parts.append(f.payload)
            if f.fin:
                return opcode, b"".join(parts)

    def close(self, code: int = 1000) -> None:
        try:
            self.send(code.to_bytes(2, "big"), WS_CLOSE)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
