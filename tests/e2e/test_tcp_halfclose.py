"""L4 half-close propagation.

Issue 3: a client that sends its data then shuts down writing still receives the
backend's full reply. Also the mirror case: a backend that shuts down writing first
still receives everything the client sends afterwards, and the session ends only when
both directions are done. A reset is not a half-close: a backend that resets in the middle of
a bulk transfer (which the proxy splices) ends the session at once, both sides."""

import hashlib
import socket
import struct
import time

import harness as h
import http_helpers as hh


class ResetAfterBulkServer(h.ThreadedServer):
    """Sends `size` bytes as fast as the client takes them, then resets (SO_LINGER 0)."""

    def __init__(self, size: int):
        super().__init__()
        self.data = h.payload(size, seed=4)

    def handle(self, conn, conn_id):
        try:
            conn.sendall(self.data)
        except OSError:
            return
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


class TcpHalfClose(h.FulcrumTestCase):
    def start(self, backend):
        port = h.free_port()
        self.fulcrum(h.tcp_config(port, [backend]))
        return port

    def test_client_shutdown_write_still_gets_full_reply(self):
        reply_size = 4 * h.MiB  # larger than socket buffers: the reply is streamed
        backend = self.backend(h.TcpCountReplyServer(reply_bytes=reply_size))
        port = self.start(backend)
        for size in (0, 1, 100_000, 3 * h.MiB):
            data = h.payload(size, seed=size)
            with h.connect(port, h.scaled(10)) as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                reply = h.recv_to_eof(s)
            line, _, rest = reply.partition(b"\n")
            self.assertEqual(line.decode(), f"{size} {hashlib.sha256(data).hexdigest()}",
                             f"backend's view of a {size}-byte upload")
            self.assertEqual(len(rest), reply_size, f"reply length after {size}-byte upload")
            self.assertEqual(rest, backend.reply)

    def test_backend_shutdown_write_still_gets_client_data(self):
        backend = self.backend(h.TcpHalfCloseFirstServer(b"greeting\n"))
        port = self.start(backend)
        with h.connect(port, h.scaled(10)) as s:
            connected = time.monotonic()
            # The backend's EOF reaches the client...
            self.assertEqual(h.recv_to_eof(s), b"greeting\n")
            # ...at once: a TCP listener never defers accept until the client speaks (HTTP
            # listeners do, for a second), which would hold a server-speaks-first protocol.
            self.assertLess(time.monotonic() - connected, 0.9)
            # ...while the client -> backend direction stays open.
            s.sendall(b"x" * 200_000)
            s.shutdown(socket.SHUT_WR)
            h.wait_until(lambda: backend.finished.get(1), h.scaled(5),
                         what="backend to see the client's EOF")
        self.assertEqual(backend.received[1], 200_000)


    def test_backend_reset_mid_bulk_ends_the_session_at_once(self):
        backend = self.backend(ResetAfterBulkServer(4 * h.MiB))
        port, admin = h.free_port(), h.free_port()
        cfg = h.tcp_config(port, [backend], workers=1)
        cfg["pools"][0]["timeouts"] = {"idle": "30s"}
        cfg["admin"] = {"listen": f"127.0.0.1:{admin}"}
        self.fulcrum(cfg)

        def active():
            return hh.metric(hh.metrics(admin), "fulcrum_downstream_connections_active",
                             listener="l4")

        for n in range(6):
            with h.connect(port, h.scaled(10)) as s:
                try:
                    while s.recv(1 << 20):
                        pass
                except ConnectionResetError:
                    pass
                # The client keeps its socket open: only the proxy can end the session now.
                # Taken for a half-close (a spliced read's reset looked like an EOF), it
                # would wait for the client or the 30 s idle timeout.
                hh.wait_for(lambda: active() == 0, h.scaled(3), f"session {n} to end")

if __name__ == "__main__":
    h.main()
