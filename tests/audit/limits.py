import lib, time, socket, re
b = lib.Backend(37100)
def rep(name, port, d, c, t=None):
    print(f"{name:40s} port={port} st={lib.status(d)} closed={c} t={t and round(t,2)} be_reqs={len(b.requests)} be_bytes={b.total_bytes()} resp={d[:160]!r}", flush=True)
def reset():
    with b.lock:
        for k in b.raw: b.raw[k] = bytearray()
        b.requests.clear()
# slowloris
for port in (37001, 37002, 37003):
    reset()
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(0.05)
    t0 = time.time(); out = b""; closed = False
    msg = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 200
    i = 0
    while time.time() - t0 < 10:
        try:
            s.send(msg[i:i+1]); i += 1
        except OSError: closed = True; break
        try:
            d = s.recv(4096)
            if not d: closed = True; break
            out += d
        except socket.timeout: pass
        except OSError: closed = True; break
        time.sleep(0.25)
    rep("slowloris", port, out, closed, time.time() - t0)
    s.close()
# silent connection (no bytes)
for port in (37001, 37002, 37003):
    t0 = time.time(); d, c = lib.raw(port, b"", wait=8); rep("silent conn", port, d, c, time.time()-t0)
# partial head then silence
for port in (37001, 37002, 37003):
    t0 = time.time(); d, c = lib.raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n", wait=8); rep("partial head", port, d, c, time.time()-t0)
# idle after a request (client_idle 5s)
for port in (37001, 37002, 37003):
    t0 = time.time(); d, c = lib.raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", wait=12); rep("idle after req", port, d, c, time.time()-t0)
