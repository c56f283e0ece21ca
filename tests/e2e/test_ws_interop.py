"""WebSocket pass-through against a real RFC 6455 implementation on both ends (issue 4): the
`websockets` library (Debian's python3-websockets) as client and as backend server, through
fulcrum. Its client checks the handshake strictly (Sec-WebSocket-Accept, Upgrade, Connection,
the negotiated extension and subprotocol), so this shows that what the proxy does to a 101 and
to the request before it is what real clients and servers expect: permessage-deflate and the
subprotocol are negotiated end to end, 1 MiB messages and pings pass, and a close code reaches
the other side. A plain request to the same backend gets its 426 and the connection stays
HTTP.

ctest-label: asan"""

import os
import sys

try:
    import websockets
except ImportError:
    # Debian installs python3-websockets for /usr/bin/python3; re-run under it when this
    # interpreter (a pyenv or venv one) cannot see it.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
            os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", "-u", *sys.argv])
    raise

import asyncio
import threading

import harness as h
import http_helpers as hh


class WebSocketsServer:
    """A websockets echo server on its own event-loop thread. Records each connection's
    request path, subprotocol, extensions and the close code it received."""

    def __init__(self):
        self.port = 0
        self.address = ""
        self.seen = []  # (path, subprotocol, [extension names], close code)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None

    async def _echo(self, ws, path):
        try:
            async for message in ws:
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass
        self.seen.append((path, ws.subprotocol, [e.name for e in ws.extensions], ws.close_code))

    def start(self):
        self._thread.start()

        async def serve():
            return await websockets.serve(self._echo, "127.0.0.1", 0, max_size=None,
                                          subprotocols=["chat.v2", "chat.v1"])

        self._server = asyncio.run_coroutine_threadsafe(serve(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"

    def stop(self):
        async def close():
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class Interop(h.FulcrumTestCase):
    def test_real_client_and_server_through_the_proxy(self):
        server = self.backend(WebSocketsServer())
        port = h.free_port()
        self.fulcrum(hh.http_config(port, [hh.pool("p", [server])]))
        one_mib = h.payload(h.MiB, seed=11)

        async def session():
            async with websockets.connect(f"ws://127.0.0.1:{port}/room/7", max_size=None,
                                          subprotocols=["chat.v1"],
                                          open_timeout=h.scaled(10)) as ws:
                self.assertEqual(ws.subprotocol, "chat.v1")
                self.assertEqual([e.name for e in ws.extensions], ["permessage-deflate"])
                await ws.send("héllo")
                self.assertEqual(await ws.recv(), "héllo")
                for _ in range(3):
                    await ws.send(one_mib)
                    got = await ws.recv()
                    self.assertEqual(len(got), len(one_mib))
                    self.assertTrue(got == one_mib, "1 MiB message altered in the tunnel")
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, h.scaled(5))
                await ws.close(code=4001, reason="bye")
                self.assertEqual(ws.close_code, 4001)

        asyncio.run(session())
        h.wait_until(lambda: server.seen, h.scaled(5), what="the server to see the close")
        path, subprotocol, extensions, close_code = server.seen[0]
        self.assertEqual(path, "/room/7")
        self.assertEqual(subprotocol, "chat.v1")
        self.assertEqual(extensions, ["permessage-deflate"])
        self.assertEqual(close_code, 4001)

        # Not an upgrade: the websockets server answers 426, which comes back as an ordinary
        # response on a connection that stays HTTP.
        with h.HttpClient(port) as c:
            r = c.request("GET", "/plain")
            self.assertEqual(r.status, 426)
            self.assertEqual(c.request("GET", "/plain").status, 426)


if __name__ == "__main__":
    h.main()
