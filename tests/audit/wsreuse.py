import socket, time
P = 37031
UP = b"GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
s = socket.create_connection(("127.0.0.1", P)); s.settimeout(40)
s.sendall(UP % b"/keepreject"); time.sleep(0.5); print(s.recv(65536)[:40])
t0 = time.time(); s.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
print("same client conn:", s.recv(65536)[:200], round(time.time()-t0, 1), "s")
t0 = time.time(); s2 = socket.create_connection(("127.0.0.1", P)); s2.settimeout(40)
s2.sendall(UP % b"/keepreject"); time.sleep(0.5); s2.recv(65536)
s3 = socket.create_connection(("127.0.0.1", P)); s3.settimeout(40); s2.close(); time.sleep(0.2)
t0 = time.time(); s3.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
print("other client conn after a rejected upgrade:", s3.recv(65536)[:200], round(time.time()-t0, 1), "s")
