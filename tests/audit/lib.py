import socket, threading, time, subprocess, os, re, json, signal

FUL = "/work/main/build-perf/fulcrum"

class Backend:
    """Raw HTTP/1.1 backend: records every byte per connection; answers by path."""
    def __init__(self, port, name="b"):
        self.port, self.name = port, name
        self.conns = 0; self.raw = {}; self.requests = []; self.lock = threading.Lock()
        self.sock = socket.socket(); self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t0 = time.time()
        while True:
            try: self.sock.bind(("127.0.0.1", port)); break
            except OSError:
                if time.time() - t0 > 90: raise
                time.sleep(0.5)
        self.sock.listen(4096)
        self.stop = False; self.live = []
        threading.Thread(target=self.accept, daemon=True).start()
    def total_bytes(self):
        with self.lock: return sum(len(v) for v in self.raw.values())
    def accept(self):
        while not self.stop:
            try: c, a = self.sock.accept()
            except OSError: return
            with self.lock:
                cid = self.conns; self.conns += 1; self.raw[cid] = bytearray(); self.live.append(c)
            threading.Thread(target=self.serve, args=(c, cid), daemon=True).start()
    def recv(self, c, cid):
        d = c.recv(1 << 20)
        if d:
            with self.lock: self.raw[cid] += d
        return d
    def serve(self, c, cid):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = self.recv(c, cid)
                    if not d: return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                method, target, ver = lines[0].split(b" ")
                hdrs = [tuple(x.split(b":", 1)) for x in lines[1:]]
                hl = {k.strip().lower(): v.strip() for k, v in hdrs}
                body = b""; self.bodylen = 0
                if b"content-length" in hl:
                    n = int(hl[b"content-length"])
                    if hl.get(b"expect", b"").lower() == b"100-continue" and self.mode100:
                        c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    while len(buf) < n:
                        d = self.recv(c, cid)
                        if not d: return
                        buf += d
                    body, buf = buf[:n], buf[n:]
                    self.bodylen = n
                elif b"chunked" in hl.get(b"transfer-encoding", b""):
                    if hl.get(b"expect", b"").lower() == b"100-continue" and self.mode100:
                        c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    total = 0; bodyparts = []
                    while True:
                        while b"\r\n" not in buf:
                            d = self.recv(c, cid)
                            if not d: return
                            buf += d
                        sz, buf = buf.split(b"\r\n", 1)
                        n = int(sz.split(b";")[0], 16)
                        while len(buf) < n + 2:
                            d = self.recv(c, cid)
                            if not d: return
                            buf += d
                        if n == 0:
                            # trailers: assume none
                            buf = buf[2:]; break
                        if self.keepbody: bodyparts.append(buf[:n])
                        total += n; buf = buf[n + 2:]
                    body = b"".join(bodyparts); self.bodylen = total
                with self.lock:
                    self.requests.append(dict(method=method, target=target, ver=ver, hdrs=hdrs, body=body if self.keepbody else b"", conn=cid))
                if not self.respond(c, method, target, ver, hdrs, hl, body): return
        except Exception as e:
            pass
        finally:
            try: c.close()
            except: pass
    mode100 = True
    keepbody = True
    bodylen = 0
    def respond(self, c, method, target, ver, hdrs, hl, body):
        t = target.decode()
        path = t.split("?")[0]
        for pre in ("/busy", "/drained", "/alldown", "/v1", "/static"):
            if path.startswith(pre + "/"): path = path[len(pre):]
        q = dict((x.split("=", 1) + [""])[:2] for x in t.split("?")[1].split("&")) if "?" in t else {}
        if path == "/echo":
            rb = json.dumps(dict(method=method.decode(), target=t, ver=ver.decode(), hdrs=[[k.decode(), v.decode('latin1')] for k, v in hdrs], bodylen=(len(body) if self.keepbody else self.bodylen), backend=self.name, conn=0)).encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(rb) + (rb if method != b"HEAD" else b""))
            return True
        if path == "/cookies":
            c.sendall(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2, c=3\r\nX-MiXeD-Case: v\r\nContent-Length: 2\r\n\r\nok"); return True
        if path == "/204":
            c.sendall(b"HTTP/1.1 204 No Content\r\n\r\n"); return True
        if path == "/304":
            c.sendall(b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 100\r\n\r\n"); return True
        if path == "/head":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + (b"" if method == b"HEAD" else b"x" * 1000)); return True
        if path == "/headchunked":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"" if method == b"HEAD" else b"3\r\nabc\r\n0\r\n\r\n")); return True
        if path == "/big":
            n = int(q.get("n", "1048576"))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            blk = bytes(range(256)) * 256
            sent = 0
            while sent < n:
                k = min(len(blk), n - sent); c.sendall(blk[:k]); sent += k
            return True
        if path == "/bigchunked":
            n = int(q.get("n", "1048576"))
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            blk = bytes(range(256)) * 256; sent = 0
            while sent < n:
                k = min(len(blk), n - sent); c.sendall(b"%x\r\n" % k + blk[:k] + b"\r\n"); sent += k
            c.sendall(b"0\r\n\r\n"); return True
        if path == "/slow":
            time.sleep(float(q.get("s", "2")))
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow"); return True
        if path == "/malformed":
            c.sendall(b"HTTP/1.1 2OO Bad\r\nContent-Length: 2\r\n\r\nok"); return False
        if path == "/garbage":
            c.sendall(b"this is not http\r\n\r\n"); return False
        if path == "/midcl":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100); time.sleep(0.2); return False
        if path == "/midchunked":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + b"x" * 50); time.sleep(0.2); return False
        if path == "/midchunked2":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"); time.sleep(0.2); return False
        if path == "/eof":  # close-delimited body
            c.sendall(b"HTTP/1.1 200 OK\r\n\r\nclose-delimited body"); return False
        if path == "/closeafter":
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"); return False
        if path == "/hop":
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: X-Resp-Hop\r\nX-Resp-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nTrailer: X-T\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\nok"); return True
        if path == "/ws101":
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"); 
            while True:
                d = self.recv(c, cid=None) if False else c.recv(65536)
                if not d: return False
                c.sendall(d)
        rb = b"hello from " + self.name.encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(rb) + (rb if method != b"HEAD" else b""))
        return True
    def close(self):
        self.stop = True
        try: self.sock.close()
        except: pass
        with self.lock:
            for c in self.live:
                try: c.close()
                except: pass

def wait_port(port, timeout=5):
    t = time.time()
    while time.time() - t < timeout:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=0.2); s.close(); return True
        except OSError: time.sleep(0.05)
    raise RuntimeError(f"port {port} not up")

def start_fulcrum(cfg, path="/tmp/audit/f.yaml", ports=(), log="/tmp/audit/fulcrum.log"):
    open(path, "w").write(cfg)
    p = subprocess.Popen([FUL, "-c", path], stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    for pt in ports: wait_port(pt)
    return p

def raw(port, data, wait=3.0, chunks=None, shut=False):
    """Send data, read until close or `wait` idle-seconds; returns (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(wait)
    out = b""; closed = False
    try:
        if chunks:
            for ch in chunks: s.sendall(ch); time.sleep(0.05)
        else: s.sendall(data)
        if shut: s.shutdown(socket.SHUT_WR)
    except OSError as e:
        out += b"<SENDERR %s>" % str(e).encode()
    try:
        while True:
            d = s.recv(65536)
            if not d: closed = True; break
            out += d
    except socket.timeout: pass
    except ConnectionResetError: closed = True; out += b"<RST>"
    s.close(); return out, closed

def status(data):
    data = re.sub(rb"^<SENDERR[^>]*>", b"", data)
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data); return int(m.group(1)) if m else None

def alive(pid, admin):
    try:
        os.kill(pid, 0)
    except OSError: return False
    d, _ = raw(admin, b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", wait=2)
    return status(d) == 200
