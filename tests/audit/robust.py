import lib, socket, time, random, os, sys, threading
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
FPID = int(open("fulcrum.pid").read()); ADMIN = 37900
b = lib.Backend(37100); b.keepbody = False
PORTS = (37001, 37011)
VALID = [b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
         b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
         b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         b"GET /ws101 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
         b"HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /bigchunked?n=100000 HTTP/1.0\r\n\r\n",
         b"GET /big?n=300000 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"]
TOK = [b"\r\n", b"\n", b"\r", b"\x00", b" ", b":", b"Content-Length: ", b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n",
       b"ffffffffffffffff", b"-1", b"HTTP/1.1", b"HTTP/1.0", b"GET ", b"\t", b"\xff", b";", b",", b"Connection: close\r\n", b"Upgrade: websocket\r\n"]
def mutate(m):
    m = bytearray(m)
    for _ in range(random.randint(1, 6)):
        op = random.random(); i = random.randint(0, len(m))
        if op < 0.3 and m: m[min(i, len(m)-1)] = random.randint(0, 255)
        elif op < 0.55: m[i:i] = random.choice(TOK)
        elif op < 0.7: del m[i:i + random.randint(1, 8)]
        elif op < 0.85: m[i:i] = m[random.randint(0, max(0, len(m)-1)):][:random.randint(1, 30)]
        else: m = m[:i]
    return bytes(m)
def one(port, data, mode):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2); s.settimeout(0.3)
        if mode == "split":
            for k in range(0, len(data), 7): s.sendall(data[k:k+7])
        else: s.sendall(data)
        if mode == "halfclose": s.shutdown(socket.SHUT_WR)
        if mode == "noread": time.sleep(0.01); s.close(); return
        if mode == "rst":
            import struct; s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close(); return
        try:
            t0 = time.time()
            while time.time() - t0 < 0.5:
                if not s.recv(65536): break
        except OSError: pass
        s.close()
    except OSError: pass
def gen():
    r = random.random()
    if r < 0.15: return os.urandom(random.randint(1, 3000))
    if r < 0.3:
        v = random.choice(VALID); return v[:random.randint(0, len(v))]  # truncated
    if r < 0.4: return b"".join(random.choice(VALID) for _ in range(random.randint(2, 6)))  # pipelined
    if r < 0.5: return mutate(b"".join(random.choice(VALID) for _ in range(3)))
    return mutate(random.choice(VALID))
N = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
t0 = time.time(); done = 0; lock = threading.Lock()
def worker(k):
    global done
    while True:
        with lock:
            if done >= N or time.time() - t0 > 240: return
            done += 1; i = done
        one(random.choice(PORTS), gen(), random.choice(["plain", "plain", "split", "halfclose", "noread", "rst"]))
for batch in range(5):
    N_b = N // 5 * (batch + 1)
    ths = []
    N_target = N_b
    def w():
        global done
        while True:
            with lock:
                if done >= N_target or time.time() - t0 > 240: return
                done += 1
            one(random.choice(PORTS), gen(), random.choice(["plain", "plain", "split", "halfclose", "noread", "rst"]))
    ths = [threading.Thread(target=w) for _ in range(16)]
    [t.start() for t in ths]; [t.join() for t in ths]
    ok = lib.alive(FPID, ADMIN)
    d, c = lib.raw(37001, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait=2)
    print(f"batch {batch}: sent {done} alive+healthz={ok} normal request after={lib.status(d)} t={time.time()-t0:.0f}s", flush=True)
    if not ok: break
