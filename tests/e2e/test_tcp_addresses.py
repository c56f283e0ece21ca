"""Address forms on the data path (CONFIG.md formats): IPv6 listeners and backends
(`[::1]:PORT`), IPv4 <-> IPv6 in both directions, and a backend named by a DNS name
(`localhost`, resolved at load)."""

import socket
import unittest

import harness as h


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def localhost_v4_only() -> bool:
    try:
        infos = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and infos[0][0] == socket.AF_INET


@unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback here")
class TcpAddresses(h.FulcrumTestCase):
    def v6_backend(self, name):
        server = h.TcpIdServer(name)
        server.host = "::1"
        return self.backend(server)

    def echo_through(self, port, host, expect_name):
        with h.connect(port, h.scaled(5), host) as s:
            self.assertEqual(h.recv_line(s).decode().strip(), expect_name)
            s.sendall(b"v6?\n")
            self.assertEqual(h.recv_line(s), b"v6?\n")

    def test_ipv6_listener_to_ipv6_backend(self):
        b = self.v6_backend("six")
        port = h.free_port()
        cfg = h.tcp_config(port, [b])
        cfg["listeners"][0]["listen"] = f"[::1]:{port}"
        self.fulcrum(cfg)
        self.echo_through(port, "::1", "six")

    def test_ipv4_listener_to_ipv6_backend_and_back(self):
        b6 = self.v6_backend("six")
        b4 = self.backend(h.TcpIdServer("four"))
        p4, p6 = h.free_port(), h.free_port()
        cfg = h.tcp_config(p4, [b6], pool="to6")
        cfg["listeners"].append({"name": "v6", "listen": f"[::1]:{p6}", "protocol": "tcp",
                                 "pool": "to4"})
        cfg["pools"].append({"name": "to4", "backends": [{"address": b4.address}]})
        self.fulcrum(cfg)
        self.echo_through(p4, "127.0.0.1", "six")
        self.echo_through(p6, "::1", "four")

    def test_wildcard_ipv6_listener_is_dual_stack(self):
        # "[::]:PORT" takes IPv4 clients too (conf/README.md: "`::` covers IPv4 and IPv6",
        # which is also why it may not share its port with 0.0.0.0); an IPv4 client's
        # X-Forwarded-For is its IPv4 address, not ::ffff:a.b.c.d.
        b = self.backend(h.TcpIdServer("dual"))
        port = h.free_port()
        cfg = h.tcp_config(port, [b])
        cfg["listeners"][0]["listen"] = f"[::]:{port}"
        web = self.backend(h.HttpBackend("web"))
        http_port = h.free_port()
        cfg["listeners"].append({"name": "web", "listen": f"[::]:{http_port}",
                                 "protocol": "http", "pool": "web"})
        cfg["pools"].append({"name": "web", "backends": [{"address": web.address}]})
        self.fulcrum(cfg)
        self.echo_through(port, "::1", "dual")
        self.echo_through(port, "127.0.0.1", "dual")
        self.assertEqual(h.http_request(http_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                        host="127.0.0.1").status, 200)
        self.assertEqual(h.http_request(http_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                        host="::1").status, 200)
        self.assertEqual([r.header("X-Forwarded-For") for r in web.requests],
                         ["127.0.0.1", "::1"])

    @unittest.skipUnless(localhost_v4_only(), "localhost does not resolve to 127.0.0.1 first")
    def test_backend_by_dns_name(self):
        b = self.backend(h.TcpIdServer("named"))
        port = h.free_port()
        self.fulcrum(h.tcp_config(port, [f"localhost:{b.port}"]))
        self.echo_through(port, "127.0.0.1", "named")


if __name__ == "__main__":
    h.main()
