"""In-process HTTP/1.1 and WebSocket test backends (threads, raw sockets, strict parsing).

`HttpBackend` parses each request itself (wire.read_head / read_body: Content-Length and
chunked bodies, no lenient parsing), records every request it received, parsed and raw,
and answers with whatever its handler returns:

    def handler(req: Request) -> Response | None: ...
    backend = HttpBackend("b1", handler=handler).start()

Without a handler (or when it returns None) the answer is 200 with a JSON body
echoing method, target, version, headers and body length, plus `X-Backend: NAME`.

`Response` can delay, stream a generator body, use chunked encoding, answer without any
length (close-delimited), close after the answer, drop the connection after N body
bytes (a backend dying mid-response), or send raw bytes verbatim.

`WebSocketBackend` is an HttpBackend that accepts `Upgrade: websocket` (101 with the
right Sec-WebSocket-Accept) and then echoes every frame (any size, 1 MiB included),
answers pings and close frames; other requests are plain HTTP as above.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from tcp_servers import ThreadedServer
from wire import (WS_CLOSE, WS_PING, WS_PONG, ConnectionClosed, ProtocolError,
                  SockReader, has_token, header_get, read_body, read_head, request_heads,
                  ws_accept_key, ws_encode_frame, ws_read_frame)

__all__ = ["Request", "Response", "HttpBackend", "WebSocketBackend", "SlowReadingBackend"]

REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
           204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
           413: "Content Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Request:
    """One request as the backend received it."""
    conn_id: int
    index: int              # 0-based position on its connection
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes | None      # None when the backend does not store bodies
    body_len: int
    body_sha256: str
    complete: bool          # False: the connection ended inside the body
    raw_head: bytes
    time: float = field(default_factory=time.monotonic)

    def header(self, name: str, default: str | None = None) -> str | None:
        return header_get(self.headers, name, default)

    @property
    def path(self) -> str:
        return self.target


@dataclass
class Response:
    """What the backend answers. Every field is optional."""
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | Iterable[bytes] = b""   # bytes, or an iterable of chunks (streamed)
    reason: str | None = None
    chunked: bool = False          # Transfer-Encoding: chunked
    no_length: bool = False        # neither Content-Length nor chunked: close-delimited
    delay: float = 0.0             # seconds before the head is sent
    chunk_delay: float = 0.0       # seconds between streamed body chunks
    close: bool = False            # send `Connection: close` and close afterwards
    drop_after: int | None = None  # close the socket after this many body bytes
    close_silently: bool = False   # close after the response without saying so
    # Keep the connection idle after the response until `close_on` is set, then close it
    # (FIN) and set `closed`: a keep-alive timeout the test controls.
    close_on: threading.Event | None = None
    closed: threading.Event | None = None
    raw: bytes | None = None       # send exactly these bytes instead of building a response


class HttpBackend(ThreadedServer):
    """Strict HTTP/1.1 backend. Attributes for tests:

    - `requests`: every complete or truncated request received, in arrival order.
    - `raw_streams[conn_id]`: every byte each connection carried (when `record_raw`).
    - `protocol_errors`: (conn_id, message) for input the backend refused to parse.
    - `connections`, `active`: from ThreadedServer.
    """

    def __init__(self, name: str = "http", handler: Callable[[Request], Response | None] |
                 Response | None = None, keep_alive: bool = True, store_bodies: bool = True,
                 record_raw: bool = True, send_100_continue: bool = True, port: int = 0):
        super().__init__(port, name)
        self.handler = handler
        self.keep_alive = keep_alive
        self.store_bodies = store_bodies
        self.record_raw = record_raw
        self.send_100_continue = send_100_continue
        self.requests: list[Request] = []
        self.raw_streams: dict[int, bytearray] = {}
        self.protocol_errors: list[tuple[int, str]] = []

    # -- handling
    def handle(self, conn, conn_id):
        reader = SockReader(conn, record=self.record_raw)
        if self.record_raw:
            self.raw_streams[conn_id] = reader.raw
        index = 0
        while True:
            try:
                head = read_head(reader, is_request=True)
            except ConnectionClosed:
                return
            except ProtocolError as e:
                self.protocol_errors.append((conn_id, str(e)))
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                return
            if (self.send_100_continue and head.version == "HTTP/1.1"
                    and (head.get("Expect") or "").lower() == "100-continue"):
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            h = hashlib.sha256()
            stored = bytearray() if self.store_bodies else None
            length = 0

            def sink(data: bytes):
                nonlocal length
                h.update(data)
                length += len(data)
                if stored is not None:
                    stored.extend(data)

            try:
                _, complete = read_body(reader, head, is_request=True, sink=sink)
            except ProtocolError as e:
                self.protocol_errors.append((conn_id, str(e)))
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                return
            req = Request(conn_id=conn_id, index=index, method=head.method,
                          target=head.target, version=head.version, headers=head.headers,
                          body=bytes(stored) if stored is not None else None,
                          body_len=length, body_sha256=h.hexdigest(), complete=complete,
                          raw_head=head.raw)
            with self._lock:
                self.requests.append(req)
            index += 1
            if not complete:
                return
            if self.is_upgrade(req):
                if not self.handle_upgrade(conn, reader, req):
                    return
                continue
            if not self.respond(conn, req):
                return

    def is_upgrade(self, req: Request) -> bool:
        return False

    def handle_upgrade(self, conn, reader, req) -> bool:
        """Serve an upgrade request; True if the connection continues as HTTP."""
        return self.respond(conn, req)

    def answer(self, req: Request) -> Response:
        h = self.handler
        resp = h(req) if callable(h) else h
        return resp if resp is not None else self.default_response(req)

    def default_response(self, req: Request) -> Response:
        body = json.dumps({"backend": self.name, "method": req.method, "target": req.target,
                           "version": req.version, "headers": req.headers,
                           "body_len": req.body_len, "conn_id": req.conn_id,
                           "index": req.index}).encode()
        return Response(200, [("Content-Type", "application/json")], body)

    def respond(self, conn: socket.socket, req: Request, resp: Response | None = None) -> bool:
        """Send `resp` (default: the handler's answer) to `req`; False when the connection
        must end."""
        resp = resp if resp is not None else self.answer(req)
        if resp.delay:
            time.sleep(resp.delay)
        if resp.raw is not None:
            conn.sendall(resp.raw)
            return not resp.close
        client_wants_close = (has_token(req.headers, "Connection", "close") or
                              (req.version == "HTTP/1.0" and
                               not has_token(req.headers, "Connection", "keep-alive")))
        close = resp.close or not self.keep_alive or client_wants_close or resp.no_length
        no_body = (req.method == "HEAD" or resp.status in (204, 304) or
                   100 <= resp.status < 200)
        body = resp.body
        is_bytes = isinstance(body, (bytes, bytearray, memoryview))
        chunked = resp.chunked or (not is_bytes and not resp.no_length)
        names = {k.lower() for k, _ in resp.headers}
        head = [f"HTTP/1.1 {resp.status} {resp.reason or REASONS.get(resp.status, 'Status')}"]
        head += [f"{k}: {v}" for k, v in resp.headers]
        if "x-backend" not in names:
            head.append(f"X-Backend: {self.name}")
        if resp.status not in (204, 304) and not 100 <= resp.status < 200:
            if chunked and "transfer-encoding" not in names:
                head.append("Transfer-Encoding: chunked")
            elif is_bytes and not resp.no_length and "content-length" not in names:
                head.append(f"Content-Length: {len(body)}")
        if close and "connection" not in names:
            head.append("Connection: close")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if no_body:
            return not (close or resp.close_silently)
        chunks = [bytes(body)] if is_bytes else body
        sent = 0
        for piece in chunks:
            if not piece:
                continue
            if resp.drop_after is not None and sent + len(piece) > resp.drop_after:
                piece = piece[:resp.drop_after - sent]
                self._send_piece(conn, piece, chunked)
                conn.shutdown(socket.SHUT_RDWR)
                return False
            self._send_piece(conn, piece, chunked)
            sent += len(piece)
            if resp.chunk_delay:
                time.sleep(resp.chunk_delay)
        if resp.drop_after is not None:
            conn.shutdown(socket.SHUT_RDWR)
            return False
        if chunked:
            conn.sendall(b"0\r\n\r\n")
        if close or resp.close_silently:
            conn.shutdown(socket.SHUT_WR)
            return False
        if resp.close_on is not None:
            resp.close_on.wait(30)  # bounded: a failed test must not hang the teardown
            conn.shutdown(socket.SHUT_WR)
            if resp.closed is not None:
                resp.closed.set()
            return False
        return True

    @staticmethod
    def _send_piece(conn, piece: bytes, chunked: bool) -> None:
        if not piece:
            return
        if chunked:
            conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            conn.sendall(piece)

    # -- helpers for tests
    def requests_for(self, path_prefix: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.target.startswith(path_prefix)]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.protocol_errors.clear()


class WebSocketBackend(HttpBackend):
    """HttpBackend that accepts WebSocket upgrades and echoes frames.

    `upgrade_handler(req) -> Response | None`: return a Response to refuse the upgrade
    (e.g. Response(403)); None accepts. `tunnels_active`, `tunnels_total` and
    `frames_received` count what happened."""

    def __init__(self, name: str = "ws", upgrade_handler=None, **kw):
        super().__init__(name, **kw)
        self.upgrade_handler = upgrade_handler
        self.tunnels_active = 0
        self.tunnels_total = 0
        self.frames_received = 0

    def is_upgrade(self, req: Request) -> bool:
        return (has_token(req.headers, "Connection", "upgrade") and
                (req.header("Upgrade") or "").lower() == "websocket")

    def handle_upgrade(self, conn, reader, req):
        refusal = self.upgrade_handler(req) if self.upgrade_handler else None
        key = req.header("Sec-WebSocket-Key")
        if refusal is not None or not key:
            if refusal is None:
                refusal = Response(400, body=b"missing Sec-WebSocket-Key")
            return self.respond(conn, req, refusal)
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {ws_accept_key(key)}\r\n"
                      f"X-Backend: {self.name}\r\n\r\n").encode())
        reader.record = False  # a tunnel may carry many MiB: do not keep them
        with self._lock:
            self.tunnels_active += 1
            self.tunnels_total += 1
        try:
            while True:
                try:
                    f = ws_read_frame(reader)
                except ConnectionClosed:
                    return False
                with self._lock:
                    self.frames_received += 1
                if f.opcode == WS_PING:
                    conn.sendall(ws_encode_frame(WS_PONG, f.payload, mask=False))
                elif f.opcode == WS_CLOSE:
                    conn.sendall(ws_encode_frame(WS_CLOSE, f.payload[:2], mask=False))
                    conn.shutdown(socket.SHUT_WR)
                    return False
                elif f.opcode != WS_PONG:
                    conn.sendall(ws_encode_frame(f.opcode, f.payload, fin=f.fin, mask=False))
        finally:
            with self._lock:
                self.tunnels_active -= 1



class SlowReadingBackend(ThreadedServer):
    """Reads each request's body at `rate` bytes per second (hashing it), then answers 200
    with "<length> <sha256>", and keeps the connection for the next request; with
    `stop_after`, stops reading after that many bytes of a body, waits `stop_pause` seconds
    and never answers. `rcvbuf`: SO_RCVBUF of each connection (what its kernel holds)."""
    rate = 40 << 20  # bytes per second
    stop_after = None
    stop_pause = 6.0
    rcvbuf = None

    def handle(self, conn, conn_id):
        if self.rcvbuf is not None:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        reader = SockReader(conn)
        for head in request_heads(reader):
            digest, received = hashlib.sha256(), 0

            def sink(data):
                nonlocal received
                digest.update(data)
                received += len(data)
                time.sleep(len(data) / self.rate)
                if self.stop_after is not None and received >= self.stop_after:
                    time.sleep(self.stop_pause)
                    raise ConnectionError("stopped reading")

            _, complete = read_body(reader, head, is_request=True, sink=sink)
            if not complete:
                return
            body = f"{received} {digest.hexdigest()}".encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
