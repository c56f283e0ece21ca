import lib, socket, time, sys
b = lib.Backend(37100)
R = {
 "/r-clte": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
 "/r-2cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
 "/r-obsfold": b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok",
 "/r-barelf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
 "/r-negcl": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok",
 "/r-te-gzip": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nokokok",
 "/r-103": b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
 "/r-100": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
 "/r-http10": b"HTTP/1.0 200 OK\r\n\r\nten-body",
 "/r-nul": b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
 "/r-204body": b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED",
 "/r-304body": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 30\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED",
 "/r-extra": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED",
 "/r-101noup": b"HTTP/1.1 101 Switching Protocols\r\n\r\nraw",
 "/r-bigstatus": b"HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\nok",
 "/r-longhead": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200000 + b"\r\nContent-Length: 2\r\n\r\nok",
}
orig = b.respond
def respond(c, method, target, ver, hdrs, hl, body):
    t = target.decode()
    if t in R: c.sendall(R[t]); time.sleep(0.05); return True
    if t == "/r-headbody": c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n" + b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED"[:30]); return True
    return orig(c, method, target, ver, hdrs, hl, body)
b.respond = respond
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 37001
for path in list(R) + ["/r-headbody"]:
    method = b"HEAD" if path == "/r-headbody" else b"GET"
    s = socket.create_connection(("127.0.0.1", PORT)); s.settimeout(1.5)
    s.sendall(method + b" %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode()); time.sleep(0.3)
    # second request on same client connection: must never receive the SMUGGLED body
    try: s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    except OSError: pass
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: out += b"<EOF>"; break
            out += d
    except socket.timeout: pass
    except OSError: out += b"<RST>"
    s.close()
    import re
    sts = re.findall(rb"HTTP/1\.[01] (\d{3})", out)
    print(f"{path:14s} statuses={[x.decode() for x in sts]} smuggled={b'SMUGGLED' in out} eof={out.endswith(b'<EOF>')} {out[:0]!r}", out[-70:] if len(out) < 400 else len(out))
