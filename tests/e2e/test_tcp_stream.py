"""L4 streaming with backpressure.

Issue 3: 64 MiB each way through one connection, byte-exact (checksum), with the client
reading slowly: the proxy's RSS stays under 64 MiB throughout.

The backend sends 64 MiB as fast as the proxy lets it while reading the client's 64 MiB
at a limited rate; the client reads at a limited rate too. Without backpressure the proxy
would buffer tens of MiB in one direction or the other. RSS is sampled every 100 ms
(the bound is skipped under ASan, whose shadow memory and quarantine inflate RSS).

ctest-label: asan  (the byte pump's write/read-stop paths under real backpressure, ~10 s)"""

import hashlib
import socket
import threading
import time

import harness as h

SIZE = 64 * h.MiB
RATE = 10 * h.MiB          # bytes/s each slow reader takes: the transfer lasts ~6.5 s
RSS_LIMIT_KIB = 64 * 1024


class TcpStream(h.FulcrumTestCase):
    def test_64mib_each_way_slow_reader_bounded_rss(self):
        backend = self.backend(h.TcpBulkServer(SIZE, seed=11, recv_rate=RATE))
        port = h.free_port()
        f = self.fulcrum(h.tcp_config(port, [backend]))
        upload = h.payload(SIZE, seed=12)
        up_sha = hashlib.sha256(upload).hexdigest()
        send_error = []

        with h.RssSampler(f, 0.1) as rss, h.connect(port, h.scaled(15)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)

            def sender():
                try:
                    view = memoryview(upload)
                    for off in range(0, SIZE, 256 * 1024):
                        s.sendall(view[off:off + 256 * 1024])
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    send_error.append(e)

            t = threading.Thread(target=sender, daemon=True)
            start = time.monotonic()
            t.start()
            down = hashlib.sha256()
            received = 0
            limiter = h.RateLimiter(RATE)
            while True:
                data = s.recv(16 * 1024)  # small reads, paced: a slow client
                if not data:
                    break
                down.update(data)
                received += len(data)
                limiter.consumed(len(data))
            t.join(h.scaled(30))
            elapsed = time.monotonic() - start
        self.assertEqual(send_error, [])
        self.assertEqual(received, SIZE, "download length")
        self.assertEqual(down.hexdigest(), backend.sha256, "download checksum")
        h.wait_until(lambda: backend.results.get(1, {}).get("done"), h.scaled(10),
                     what="backend to see the upload's end")
        res = backend.results[1]
        self.assertEqual(res["received"], SIZE, "upload length")
        self.assertEqual(res["sha256"], up_sha, "upload checksum")
        self.assertGreater(elapsed, 3.0, "the client was meant to read slowly")
        print(f"transfer {elapsed:.1f}s, fulcrum max RSS {rss.max_kib} KiB over "
              f"{len(rss.samples)} samples")
        self.assertGreater(len(rss.samples), 20)
        if not h.SANITIZE:
            self.assertLess(rss.max_kib, RSS_LIMIT_KIB,
                            f"fulcrum RSS reached {rss.max_kib} KiB")


if __name__ == "__main__":
    h.main()
