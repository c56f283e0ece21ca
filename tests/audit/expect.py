import lib, socket, time, sys, subprocess
b = lib.Backend(37100); b.keepbody = False
def raw100(port, mode100, n=100000, label=""):
    b.mode100 = mode100
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(3)
    t0 = time.time()
    s.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % n)
    try: first = s.recv(65536)
    except socket.timeout: first = b"<timeout>"
    t1 = time.time() - t0
    s.sendall(b"a" * n)
    out = b""
    try:
        while b"bodylen" not in out:
            d = s.recv(65536)
            if not d: break
            out += d
    except socket.timeout: pass
    print(f"port={port} backend_sends_100={mode100} first={first[:60]!r} after={t1:.2f}s final={lib.status(out)} {out[out.find(b'bodylen'):out.find(b'bodylen')+20]!r}", flush=True)
    s.close()
for port in (37011, 37002, 37003):
    raw100(port, True); raw100(port, False)
# over the limit with Expect: 413 without reading body?
s = socket.create_connection(("127.0.0.1", 37001)); s.settimeout(3)
s.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n")
try: print("over-limit expect ->", s.recv(4096)[:80])
except socket.timeout: print("over-limit expect -> timeout")
s.close()
b.mode100 = True
for port in (37011, 37003):
    t0 = time.time()
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", "big3m.bin", f"http://127.0.0.1:{port}/echo"], capture_output=True, text=True)
    print("curl -T 3MB", port, r.stdout, r.stderr.strip(), f"{time.time()-t0:.2f}s")
b.mode100 = False
for port in (37011, 37003):
    t0 = time.time()
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", "big3m.bin", f"http://127.0.0.1:{port}/echo"], capture_output=True, text=True)
    print("curl -T 3MB (backend never sends 100)", port, r.stdout, r.stderr.strip(), f"{time.time()-t0:.2f}s")
