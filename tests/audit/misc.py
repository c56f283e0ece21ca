import lib, socket, time, re, json
b = lib.Backend(37100)
orig = b.respond
def respond(c, method, target, ver, hdrs, hl, body):
    if target == b"/trailers":
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n"); return True
    if target == b"/manycookies":
        c.sendall(b"HTTP/1.1 200 OK\r\n" + b"".join(b"Set-Cookie: c%d=%d\r\n" % (i, i) for i in range(200)) + b"Content-Length: 2\r\n\r\nok"); return True
    return orig(c, method, target, ver, hdrs, hl, body)
b.respond = respond
def show(name, raw, port=37001, wait=1.5):
    b.requests.clear()
    d, c = lib.raw(port, raw, wait=wait)
    r = b.requests[-1] if b.requests else None
    print(name, "->", re.findall(rb"HTTP/1\.[01] \d+", d), "closed", c, "| backend:", (r["ver"], r["hdrs"]) if r else None)
    return d
show("HTTP/1.0 no Host", b"GET /echo HTTP/1.0\r\n\r\n")
d = show("HTTP/1.0 Expect", b"POST /echo HTTP/1.0\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc")
s = socket.create_connection(("127.0.0.1", 37001)); s.settimeout(1.5)
s.sendall(b"GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n"); time.sleep(0.3); s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"); time.sleep(0.5)
out = s.recv(65536); print("trailers response then next:", out[:120], "... count 200:", out.count(b"200 OK")); s.close()
d = show("200 Set-Cookie", b"GET /manycookies HTTP/1.1\r\nHost: x\r\n\r\n"); print("   set-cookie lines:", d.count(b"Set-Cookie"))
# pipeline: 502 in middle
d = show("pipelined ok,malformed-upstream,ok", b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /malformed HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?3 HTTP/1.1\r\nHost: x\r\n\r\n")
# request-id injection attempts
d = show("X-Request-Id with very long value", b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + b"a" * 5000 + b"\r\n\r\n")
d = show("two X-Request-Id", b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\r\nX-Request-Id: b\r\n\r\n"); print("   to client:", re.findall(rb"X-Request-Id: [^\r]*", d))
d = show("Connection: keep-alive, close", b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n")
d = show("Connection names Host / X-Forwarded-For", b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Host, X-Forwarded-For, Content-Length\r\nX-Forwarded-For: 9.9.9.9\r\nContent-Length: 0\r\n\r\n")
d = show("Connection names X-Request-Id", b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: X-Request-Id\r\nX-Request-Id: zzz\r\n\r\n"); print("   to client:", re.findall(rb"X-Request-Id: [^\r]*", d))
