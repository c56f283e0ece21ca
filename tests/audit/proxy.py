import lib, time, socket, re, json, sys
b = lib.Backend(37100, "main")
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 37001
def reset():
    with b.lock:
        b.requests.clear()
def read_responses(s, n, timeout=5, head_only=()):
    """Parse n responses (CL / chunked / no-body) from socket s."""
    s.settimeout(timeout); buf = b""; out = []
    def more():
        nonlocal buf
        d = s.recv(65536)
        if not d: raise EOFError(buf)
        buf += d
    i = 0
    while len(out) < n:
        while b"\r\n\r\n" not in buf: more()
        head, buf = buf.split(b"\r\n\r\n", 1)
        st = int(head.split(b" ")[1])
        hl = {}
        for l in head.split(b"\r\n")[1:]:
            k, v = l.split(b":", 1); hl.setdefault(k.strip().lower(), []).append(v.strip())
        body = b""
        if st // 100 == 1 and st != 101:
            out.append((st, hl, b"")); continue
        if i in head_only or st in (204, 304):
            pass
        elif b"content-length" in hl:
            n2 = int(hl[b"content-length"][0])
            while len(buf) < n2: more()
            body, buf = buf[:n2], buf[n2:]
        elif b"chunked" in b"".join(hl.get(b"transfer-encoding", [])):
            while True:
                while b"\r\n" not in buf: more()
                sz, buf = buf.split(b"\r\n", 1); k = int(sz.split(b";")[0], 16)
                while len(buf) < k + 2: more()
                body += buf[:k]; buf = buf[k+2:]
                if k == 0: break
        out.append((st, hl, body)); i += 1
    return out, buf
def res(name, ok, extra=""):
    print(f"{'PASS' if ok else 'FAIL'} {name} {extra}", flush=True)

# keep-alive both sides
reset(); c0 = b.conns
s = socket.create_connection(("127.0.0.1", PORT))
for i in range(10):
    s.sendall(b"GET /echo?i=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
    r, rest = read_responses(s, 1)
res("keepalive 10 reqs one client conn", len(b.requests) == 10, f"backend conns opened={b.conns - c0} conns used={set(q['conn'] for q in b.requests)}")
# pipelined
reset()
s.sendall(b"".join(b"GET /echo?p=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5)))
r, rest = read_responses(s, 5)
order = [json.loads(x[2])["target"] for x in r]
res("pipelined 5 GETs in order", order == [f"/echo?p={i}" for i in range(5)], str(order))
reset()
s.sendall(b"GET /slow?s=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?after=slow HTTP/1.1\r\nHost: x\r\n\r\n")
r, rest = read_responses(s, 2)
res("pipelined slow then fast in order", r[0][2] == b"slow" and b"after=slow" in r[1][2], str([x[2][:30] for x in r]))
reset()
body = b"x" * 100000
s.sendall(b"POST /echo?post HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body + b"GET /echo?get HTTP/1.1\r\nHost: x\r\n\r\n" + b"POST /echo?chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /echo?last HTTP/1.1\r\nHost: x\r\n\r\n")
r, rest = read_responses(s, 4)
j = [json.loads(x[2]) for x in r]
res("pipelined POST(CL)+GET+POST(chunked)+GET", [x["target"] for x in j] == ["/echo?post", "/echo?get", "/echo?chunked", "/echo?last"] and j[0]["bodylen"] == 100000 and j[2]["bodylen"] == 5, str([(x["target"], x["bodylen"]) for x in j]))
# HEAD / 204 / 304 on same connection then a normal one
reset()
s.sendall(b"HEAD /head HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /headchunked HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?z HTTP/1.1\r\nHost: x\r\n\r\n")
r, rest = read_responses(s, 5, head_only=(0, 3))
res("HEAD/204/304/HEAD-chunked then GET", [x[0] for x in r] == [200, 204, 304, 200, 200] and b"/echo?z" in r[4][2] and rest == b"", f"{[(x[0], {k:v for k,v in x[1].items() if k in (b'content-length', b'transfer-encoding')}) for x in r]} rest={rest[:50]!r}")
s.close()
# HTTP/1.0
for ka in (False, True):
    raw = b"GET /echo HTTP/1.0\r\nHost: x\r\n" + (b"Connection: keep-alive\r\n" if ka else b"") + b"\r\n"
    d, closed = lib.raw(PORT, raw, wait=1.5)
    head = d.split(b"\r\n\r\n")[0]
    j = json.loads(d.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in d else {}
    if ka:
        ok = (not closed) and re.search(rb"(?i)connection: keep-alive", head) and d.startswith(b"HTTP/1.")
    else:
        ok = closed
    res(f"HTTP/1.0 keepalive={ka}", bool(ok), f"closed={closed} head={head!r} backend saw ver={j.get('ver')} conn hdrs={[h for h in j.get('hdrs',[]) if h[0].lower()=='connection']}")
# HTTP/1.0 keep-alive with 2 requests
s = socket.create_connection(("127.0.0.1", PORT))
s.sendall(b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
try:
    r, rest = read_responses(s, 1)
    s.sendall(b"GET /echo?second HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    r2, rest = read_responses(s, 1)
    res("HTTP/1.0 keep-alive two requests", b"second" in r2[0][2])
except Exception as e: res("HTTP/1.0 keep-alive two requests", False, repr(e)[:200])
s.close()
# HTTP/1.0 client, chunked upstream response -> must be de-chunked / close-delimited
d, closed = lib.raw(PORT, b"GET /bigchunked?n=1000 HTTP/1.0\r\nHost: x\r\n\r\n", wait=2)
head, bd = d.split(b"\r\n\r\n", 1)
res("HTTP/1.0 client gets no chunked encoding", b"chunked" not in head.lower() and len(bd) == 1000 and closed, f"head={head!r} bodylen={len(bd)} closed={closed}")
# 1.1 close
d, closed = lib.raw(PORT, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait=2)
res("HTTP/1.1 Connection: close honoured", closed and re.search(rb"(?i)connection: close", d) is not None, d.split(b"\r\n\r\n")[0][:200].decode())
# upstream close-delimited body
d, closed = lib.raw(PORT, b"GET /eof HTTP/1.1\r\nHost: x\r\n\r\n", wait=2)
res("upstream close-delimited body relayed", b"close-delimited body" in d, f"closed={closed} {d!r}")
# upstream Connection: close response -> client still kept alive? and next request works
s = socket.create_connection(("127.0.0.1", PORT))
s.sendall(b"GET /closeafter HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?afterclose HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    r, rest = read_responses(s, 2); res("upstream Connection: close; next pipelined request served", b"afterclose" in r[1][2])
except Exception as e: res("upstream Connection: close; next pipelined request served", False, repr(e)[:200])
s.close()
