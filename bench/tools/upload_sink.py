"""HTTP/1.1 upload sink for bench/upload.sh: reads each request's Content-Length body whole
(1 MiB recv_into, no copy kept), then answers 200 "ok"; keep-alive, one thread per connection.
Usage: python3 upload_sink.py PORT"""
import socket
import sys
import threading


def serve(conn: socket.socket) -> None:
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    pending = b""
    try:
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            head, _, rest = pending.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            left = length - len(rest)
            pending = b"" if left >= 0 else rest[length:]
            while left > 0:
                n = conn.recv_into(view, min(left, len(buf)))
                if n == 0:
                    return
                left -= n
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    finally:
        conn.close()


def main() -> None:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(64)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
