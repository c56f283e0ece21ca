"""Wire-level helpers shared by the e2e test servers and clients (stdlib only).

- `SockReader`: buffered reads over a blocking socket (until a delimiter, exact
  length, to EOF) that never read past what the caller asked for.
- Strict HTTP/1.1 message parsing (`read_head`, `read_body`): deliberately NOT
  http.server / http.client, which accept malformed input. A test backend must see
  exactly the bytes the proxy sent and reject anything ambiguous, otherwise a request
  smuggling test could pass for the wrong reason.
- WebSocket framing (`ws_encode_frame`, `ws_read_frame`, `ws_accept_key`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from dataclasses import dataclass, field

__all__ = [
    "ConnectionClosed", "ProtocolError", "SockReader", "Head", "read_head", "read_body",
    "header_get", "header_all", "has_token", "ws_accept_key", "ws_encode_frame",
    "ws_read_frame", "WsFrame", "WS_TEXT", "WS_BINARY", "WS_CLOSE", "WS_PING", "WS_PONG",
    "WS_CONT", "payload",
]

MAX_HEAD_BYTES = 256 * 1024


class ConnectionClosed(Exception):
    """The peer closed (EOF or reset) before a complete message arrived.

    `partial` holds the bytes read for the message so far."""

    def __init__(self, msg: str = "connection closed", partial: bytes = b""):
        super().__init__(msg)
        self.partial = partial


class ProtocolError(Exception):
    """Bytes that are not a valid HTTP/1.1 or WebSocket message."""


class SockReader:
    """Buffered reader over a blocking socket.

    `raw` (when `record` is true) accumulates every byte received, so servers can keep
    the exact byte stream a connection carried."""

    def __init__(self, sock: socket.socket, record: bool = False):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False
        self.record = record
        self.raw = bytearray()

    def _fill(self, max_bytes: int = 65536) -> bool:
        """Read more into the buffer; False on EOF (a reset counts as EOF)."""
        if self.eof:
            return False
        try:
            data = self.sock.recv(max_bytes)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        if self.record:
            self.raw += data
        return True

    def read_until(self, delim: bytes, limit: int = MAX_HEAD_BYTES) -> bytes:
        """Bytes up to and including `delim`; ConnectionClosed on EOF first."""
        start = 0
        while True:
            idx = self.buf.find(delim, start)
            if idx >= 0:
                end = idx + len(delim)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            if len(self.buf) > limit:
                raise ProtocolError(f"no {delim!r} within {limit} bytes")
            start = max(0, len(self.buf) - len(delim) + 1)
            if not self._fill():
                raise ConnectionClosed(f"EOF before {delim!r}", bytes(self.buf))

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill(max(65536, min(n - len(self.buf), 1 << 20))):
                raise ConnectionClosed(f"EOF after {len(self.buf)} of {n} bytes",
                                       bytes(self.buf))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_some(self, max_bytes: int = 65536) -> bytes:
        """Whatever is buffered or arrives next (up to max_bytes); b"" on EOF."""
        if not self.buf and not self._fill(max_bytes):
            return b""
        out = bytes(self.buf[:max_bytes])
        del self.buf[:max_bytes]
        return out

    def read_to_eof(self) -> bytes:
        while self._fill():
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_line(self, limit: int = 65536) -> bytes:
        """One line including its b"\\n"."""
        return self.read_until(b"\n", limit)


# ---------------------------------------------------------------------------- HTTP


@dataclass
class Head:
    """A parsed HTTP/1.x message head (request or response)."""
    start_line: str
    headers: list[tuple[str, str]] = field(default_factory=list)  # in order, case kept
    raw: bytes = b""
    # request
    method: str = ""
    target: str = ""
    # response
    status: int = 0
    reason: str = ""
    version: str = ""

    def get(self, name: str, default: str | None = None) -> str | None:
        return header_get(self.headers, name, default)

    def get_all(self, name: str) -> list[str]:
        return header_all(self.headers, name)


def header_get(headers, name: str, default=None):
    """First value of header `name` (case-insensitive)."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return default


def header_all(headers, name: str) -> list[str]:
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def has_token(headers, name: str, token: str) -> bool:
    """True if a comma-separated header (Connection, Transfer-Encoding...) has `token`."""
    token = token.lower()
    for v in header_all(headers, name):
        if token in [t.strip().lower() for t in v.split(",")]:
            return True
    return False


_TCHAR = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def read_head(reader: SockReader, is_request: bool, limit: int = MAX_HEAD_BYTES) -> Head:
    """Read and strictly parse one message head.

    Raises ConnectionClosed on EOF (partial head in `.partial`), ProtocolError on any
    deviation from RFC 9112: bare LF or CR, obs-fold, invalid header names, NUL, spaces
    before the colon, a malformed start line."""
    raw = reader.read_until(b"\r\n\r\n", limit)
    body = raw[:-4]
    if b"\0" in body:
        raise ProtocolError("NUL in head")
    lines = body.split(b"\r\n")
    for line in lines:
        if b"\n" in line or b"\r" in line:
            raise ProtocolError("bare CR or LF in head")
    start = lines[0].decode("latin-1")
    head = Head(start_line=start, raw=raw)
    parts = start.split(" ", 2)
    if is_request:
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise ProtocolError(f"bad request line {start!r}")
        head.method, head.target, head.version = parts
        if not all(ord(c) in _TCHAR for c in head.method):
            raise ProtocolError(f"bad method {head.method!r}")
        if head.version not in ("HTTP/1.1", "HTTP/1.0"):
            raise ProtocolError(f"bad version {head.version!r}")
    else:
        if len(parts) < 2 or parts[0] not in ("HTTP/1.1", "HTTP/1.0"):
            raise ProtocolError(f"bad status line {start!r}")
        if len(parts[1]) != 3 or not parts[1].isdigit():
            raise ProtocolError(f"bad status code in {start!r}")
        head.version, head.status = parts[0], int(parts[1])
        head.reason = parts[2] if len(parts) > 2 else ""
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError("obs-fold in head")
        name, sep, value = line.partition(b":")
        if not sep or not name or not all(c in _TCHAR for c in name):
            raise ProtocolError(f"bad header line {line!r}")
        head.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return head


def request_heads(reader: SockReader):
    """Each request head a test backend's connection brings, until it closes (or sends what
    is not a head): the loop of a keep-alive backend that reads its bodies itself."""
    while True:
        try:
            yield read_head(reader, is_request=True)
        except (ConnectionClosed, ProtocolError, OSError):
            return


def _content_length(head: Head) -> int | None:
    values = head.get_all("Content-Length")
    if not values:
        return None
    # Identical repeated values are allowed (RFC 9110 8.6); anything else is ambiguous.
    items = {v.strip() for val in values for v in val.split(",")}
    if len(items) != 1:
        raise ProtocolError(f"conflicting Content-Length {values}")
    value = items.pop()
    if not value.isdigit():
        raise ProtocolError(f"bad Content-Length {value!r}")
    return int(value)


def body_framing(head: Head, is_request: bool, request_method: str = "") -> tuple[str, int]:
    """How the body of `head` is delimited: ("none"|"length"|"chunked"|"close", length).

    For responses pass the request's method (HEAD has no body)."""
    te = head.get_all("Transfer-Encoding")
    cl = _content_length(head)
    if te and cl is not None:
        raise ProtocolError("both Transfer-Encoding and Content-Length")
    if not is_request:
        if request_method == "HEAD" or 100 <= head.status < 200 or head.status in (204, 304):
            return "none", 0
    if te:
        codings = [t.strip().lower() for v in te for t in v.split(",")]
        if codings != ["chunked"]:
            raise ProtocolError(f"unsupported Transfer-Encoding {te}")
        if is_request and head.version == "HTTP/1.0":
            raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request")
        return "chunked", 0
    if cl is not None:
        return "length", cl
    return ("none", 0) if is_request else ("close", 0)


def read_body(reader: SockReader, head: Head, is_request: bool, request_method: str = "",
              sink=None) -> tuple[bytes, bool]:
    """Read the body that follows `head`; returns (body, complete).

    If `sink` is given every body chunk is passed to it and b"" is returned (for bodies
    too large to keep). `complete` is False when the peer closed before the body's end
    (never raised: a truncated response is a result tests want to see)."""
    kind, length = body_framing(head, is_request, request_method)
    out = bytearray()

    def emit(data: bytes):
        if sink is not None:
            sink(data)
        else:
            out.extend(data)

    try:
        if kind == "length":
            remaining = length
            while remaining:
                chunk = reader.read_some(min(remaining, 1 << 20))
                if not chunk:
                    return bytes(out), False
                emit(chunk)
                remaining -= len(chunk)
        elif kind == "chunked":
            while True:
                line = reader.read_until(b"\r\n", 4096)[:-2]
                size_text = line.split(b";", 1)[0]
                if not size_text or not all(c in b"0123456789abcdefABCDEF" for c in size_text):
                    raise ProtocolError(f"bad chunk size line {line!r}")
                size = int(size_text, 16)
                if size == 0:
                    while reader.read_until(b"\r\n", 65536) != b"\r\n":
                        pass  # trailers are ignored
                    break
                remaining = size
                while remaining:
                    chunk = reader.read_some(min(remaining, 1 << 20))
                    if not chunk:
                        return bytes(out), False
                    emit(chunk)
                    remaining -= len(chunk)
                if reader.read_exact(2) != b"\r\n":
                    raise ProtocolError("chunk data not followed by CRLF")
        elif kind == "close":
            while True:
                chunk = reader.read_some(1 << 20)
                if not chunk:
                    break
                emit(chunk)
    except ConnectionClosed:
        return bytes(out), False
    return bytes(out), True


# ---------------------------------------------------------------------------- WebSocket

WS_CONT, WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _WS_GUID).digest()).decode()


def ws_encode_frame(opcode: int, data: bytes, fin: bool = True, mask: bool = True) -> bytes:
    """One frame; clients must mask (mask=True), servers must not."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(data)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + data
    key = os.urandom(4)
    return hdr + key + _xor_mask(data, key)


def _xor_mask(data: bytes, key: bytes) -> bytes:
    # Whole-buffer XOR through big ints: fast enough for 1 MiB frames in pure Python.
    n = len(data)
    if n == 0:
        return b""
    reps = key * (n // 4 + 1)
    return (int.from_bytes(data, "big") ^ int.from_bytes(reps[:n], "big")).to_bytes(n, "big")


@dataclass
class WsFrame:
    fin: bool
    opcode: int
    payload: bytes
    masked: bool


def ws_read_frame(reader: SockReader, max_payload: int = 64 << 20) -> WsFrame:
    """Read one frame (unmasking it); ConnectionClosed on EOF."""
    b0, b1 = reader.read_exact(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", reader.read_exact(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", reader.read_exact(8))
    if n > max_payload:
        raise ProtocolError(f"frame of {n} bytes")
    masked = bool(b1 & 0x80)
    key = reader.read_exact(4) if masked else b""
    data = reader.read_exact(n)
    if masked:
        data = _xor_mask(data, key)
    return WsFrame(fin=bool(b0 & 0x80), opcode=b0 & 0x0F, payload=data, masked=masked)


# ---------------------------------------------------------------------------- data


def payload(n: int, seed: int = 1) -> bytes:
    """n deterministic pseudo-random bytes (incompressible, reproducible by seed)."""
    import random
    return random.Random(seed).randbytes(n)
