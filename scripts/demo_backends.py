#!/usr/bin/env python3
"""Demo backends for conf/demo.yaml: three HTTP servers (ports 9101-9103) that say who they
are, and three TCP echo servers (ports 9201-9203) that greet with their name then echo.
Runs until interrupted."""
import http.server
import socketserver
import sys
import threading


def http_handler(name):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = f"hello from {name}: {self.command} {self.path}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(length)
            body = f"{name} received {len(data)} bytes\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(f"hello from {self.server.name}\n".encode())
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class ThreadingTCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    servers = []
    for i, port in enumerate((9101, 9102, 9103), 1):
        s = http.server.ThreadingHTTPServer(("127.0.0.1", port), http_handler(f"web-{i}"))
        s.daemon_threads = True
        servers.append(s)
    for i, port in enumerate((9201, 9202, 9203), 1):
        s = ThreadingTCP(("127.0.0.1", port), EchoHandler)
        s.name = f"echo-{i}"
        servers.append(s)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("demo backends: http 127.0.0.1:9101-9103, tcp echo 127.0.0.1:9201-9203", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    for s in servers:
        s.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
