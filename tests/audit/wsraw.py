import socket, time, lib
P = 37031
UP = b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
s = socket.create_connection(("127.0.0.1", P)); s.settimeout(2)
s.sendall(UP % b"/keepreject")
time.sleep(0.5); d = s.recv(65536); print("non-101 (backend keeps conn):", d)
s.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
try: print("then plain GET on same conn:", s.recv(65536))
except Exception as e: print("then plain GET on same conn: ERR", e)
s.close()
s = socket.create_connection(("127.0.0.1", P)); s.settimeout(2)
s.sendall(UP % b"/reject")
time.sleep(0.5); d = s.recv(65536); print("non-101 (backend closes):", d)
s.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
try: print("then plain GET on same conn:", s.recv(65536))
except Exception as e: print("then plain GET on same conn: ERR", e)
s.close()
# pipelined bytes after the upgrade request (client sends a WS frame right behind the head)
s = socket.create_connection(("127.0.0.1", P)); s.settimeout(2)
frame = bytes([0x81, 0x85, 1, 2, 3, 4]) + bytes(c ^ [1,2,3,4][i % 4] for i, c in enumerate(b"early"))
s.sendall(UP % b"/echo" + frame)
out = b""
try:
    while out.count(b"early") < 1:
        d = s.recv(65536)
        if not d: break
        out += d
except socket.timeout: pass
print("frame sent together with the upgrade head echoed:", b"early" in out, out[:60])
s.close()
# Upgrade without Connection: upgrade / h2c
for raw in [b"GET /plain HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
            b"GET /plain HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"]:
    d, c = lib.raw(P, raw, wait=1); print(raw[:70], "->", d[:120])
# upgrade via POST with body
d, c = lib.raw(P, b"POST /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 5\r\n\r\nhello", wait=1)
print("POST upgrade with body ->", d[:120])
# HTTP/1.0 upgrade
d, c = lib.raw(P, b"GET /echo HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", wait=1)
print("HTTP/1.0 upgrade ->", d[:120])
