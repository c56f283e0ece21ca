import lib, socket, time
b = lib.Backend(37100)
ss = []
for i in range(10):
    s = socket.create_connection(("127.0.0.1", 37041)); s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"); s.settimeout(2); s.recv(65536); ss.append(s)
t0 = time.time()
d, c = lib.raw(37041, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", wait=2)
print("11th connection:", lib.status(d), "closed", c, round(time.time()-t0, 2), d[:150])
ss[0].close(); time.sleep(0.3)
d, c = lib.raw(37041, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait=2)
print("after one closed:", lib.status(d))
for s in ss: s.close()
