"""A request that closes its connection (issue 4, "Proxying"; the benchmark's new connection
per request): HTTP listeners defer accept and read the request straight after accept, and a
request that asks to close (`Connection: close`, HTTP/1.0) is served without its socket ever
being registered with epoll. Checked from /proc while the backend holds the response: the
fdinfo of each epoll instance lists every fd registered in it. A keep-alive request on the
same listener is the control: its socket is registered (it will be read again)."""
# ctest-label: asan

import os

import harness as h
import http_helpers as hh
from http_servers import Response


def proxy_side_fd(pid: int, listen_port: int, client_port: int) -> int:
    """The proxy's fd for the connection from 127.0.0.1:`client_port` to its listener."""
    inode = None
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.split(":")[1], 16) == listen_port and
                    int(remote.split(":")[1], 16) == client_port):
                inode = fields[9]
    assert inode is not None, f"no proxy socket for client port {client_port}"
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                return int(fd)
        except OSError:
            continue
    raise AssertionError(f"socket inode {inode} not among the proxy's fds")


def epoll_registered_fds(pid: int) -> set[int]:
    fds = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[eventpoll]":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                fds.update(int(line.split()[1]) for line in info if line.startswith("tfd:"))
        except OSError:
            continue
    return fds


class CloseRequests(h.FulcrumTestCase):
    def test_a_closing_request_never_enters_epoll(self):
        hold = h.scaled(1.0)
        b = self.backend(h.HttpBackend(
            "b1", handler=lambda req: Response(200, body=b"held " + req.target.encode(),
                                               delay=hold)))
        port = h.free_port()
        proxy = self.fulcrum(hh.http_config(port, [hh.pool("p", [b])]))
        cases = [
            ("keep-alive", b"GET /ka HTTP/1.1\r\nHost: x\r\n\r\n", True),
            ("Connection: close", b"GET /close HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             False),
            ("HTTP/1.0", b"GET /old HTTP/1.0\r\n\r\n", False),
        ]
        expected = 0  # requests the backend has had
        for what, raw, registered in cases:
            with self.subTest(what), h.connect(port, timeout=h.scaled(5)) as s:
                s.sendall(raw)
                expected += 1
                # The backend has the request (and holds its answer): the proxy has done all
                # it will do with the client socket until the response comes.
                h.wait_until(lambda: len(b.requests) >= expected, h.scaled(5),
                             what="the backend to get the request")
                fd = proxy_side_fd(proxy.pid, port, s.getsockname()[1])
                self.assertEqual(fd in epoll_registered_fds(proxy.pid), registered,
                                 f"{what}: client socket fd {fd} registered with epoll")
                if registered:  # a last request that closes, so that the answers end in EOF
                    s.sendall(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    expected += 1
                data = h.recv_to_eof(s)
                self.assertEqual(hh.status_of(data), 200, what)
                self.assertIn(b"held " + raw.split(b" ")[1], data)

if __name__ == "__main__":
    h.main()
