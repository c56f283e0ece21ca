"""1,000 concurrent WebSocket tunnels on one worker (issue 4): all open at once, every one
echoes its own message, plain requests on the same listener keep working meanwhile, and
the gauge goes back to zero when they close."""

import time

import harness as h
import http_helpers as hh
from wire import WS_TEXT

N = 1000


class Scale(h.FulcrumTestCase):
    def test_thousand_tunnels_on_one_worker(self):
        b = self.backend(h.WebSocketBackend("ws", record_raw=False))
        plain = self.backend(h.HttpBackend("plain"))
        port, admin = h.free_port(), h.free_port()
        self.fulcrum(f"""
            workers: 1
            admin: {{ listen: "127.0.0.1:{admin}" }}
            listeners:
              - name: web
                listen: "127.0.0.1:{port}"
                protocol: http
                pool: ws
                routes: [ {{ match: {{ path_prefix: /plain }}, pool: plain }} ]
            pools:
              - {{ name: ws, backends: [ {{ address: "{b.address}" }} ] }}
              - {{ name: plain, backends: [ {{ address: "{plain.address}" }} ] }}
        """)
        tunnels = []
        start = time.monotonic()
        try:
            for i in range(N):
                tunnels.append(h.WsClient.connect(port, f"/t{i}", timeout=h.scaled(10)))
            opened = time.monotonic() - start
            hh.wait_for(lambda: b.tunnels_active == N, 10, f"{N} tunnels at the backend")
            self.assertEqual(hh.metric(hh.metrics(admin), "fulcrum_websocket_tunnels_active",
                                       listener="web"), N)
            # Plain requests on the same listener while all tunnels are open.
            with h.HttpClient(port) as c:
                for i in range(20):
                    self.assertEqual(c.request("GET", f"/plain/{i}").status, 200)
            # Every tunnel carries its own bytes, all in flight together.
            for i, ws in enumerate(tunnels):
                ws.send_text(f"tunnel {i}")
            for i, ws in enumerate(tunnels):
                self.assertEqual(ws.recv_message(), (WS_TEXT, f"tunnel {i}".encode()))
            print(f"{N} tunnels opened in {opened:.2f}s, echoed in "
                  f"{time.monotonic() - start - opened:.2f}s")
        finally:
            for ws in tunnels:
                ws.close()
        hh.wait_for(lambda: hh.metric(hh.metrics(admin), "fulcrum_websocket_tunnels_active",
                                      listener="web") == 0, 10, "gauge back to 0")
        self.assertEqual(len(plain.requests), 20)


if __name__ == "__main__":
    h.main()
