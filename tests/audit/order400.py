import lib, socket, time, re
b = lib.Backend(37100)
for port in (37001, 37003):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(3)
    s.sendall(b"GET /slow?s=1 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            out += d
    except socket.timeout: pass
    print(port, re.findall(rb"HTTP/1\.1 \d+", out), out[:60])
    s.close()
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(3)
    s.sendall(b"GET /big?n=5000000 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    out = b""
    try:
        while True:
            d = s.recv(1 << 20)
            if not d: break
            out += d
    except socket.timeout: pass
    print(port, "big then bad:", len(out), re.findall(rb"HTTP/1\.1 \d+", out), "bad status after full body:", out.find(b"HTTP/1.1 400") - out.find(b"\r\n\r\n") - 4 if b"HTTP/1.1 400" in out else None)
    s.close()
