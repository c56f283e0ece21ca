"""L4 half-close propagation.

Issue 3: a client that sends its data then shuts down writing still receives the
backend's full reply. Also the mirror case: a backend that shuts down writing first
still receives everything the client sends afterwards, and the session ends only when
both directions are done."""

import hashlib
import socket
import time

import harness as h


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


if __name__ == "__main__":
    h.main()
