import lib, socket, time
b = lib.Backend(37100)
for port in (37001, 37002, 37003):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(25)
    t0 = time.time()
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    try:
        d = s.recv(65536); print(port, "stalled body: after", round(time.time()-t0, 1), "s ->", d[:80])
    except socket.timeout: print(port, "stalled body: nothing after 25 s (connection still open)")
    s.close()
