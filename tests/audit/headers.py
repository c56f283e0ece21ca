import lib, socket, time, json, re, sys
b = lib.Backend(37100)
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 37001
def req(raw):
    b.requests.clear()
    d, c = lib.raw(PORT, raw, wait=1)
    r = b.requests[-1] if b.requests else None
    return d, r
raw = (b"GET /echo HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Zeta: 1\r\nconnection: keep-alive, X-Custom-Hop, x-other-hop\r\n"
       b"X-Custom-Hop: secret\r\nX-Other-Hop: s2\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
       b"Trailer: X-T\r\nUpgrade: h2c\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: spoof\r\n"
       b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nx-MiXeD: AbC\r\nAccept: */*\r\nX-Alpha: 2\r\n\r\n")
d, r = req(raw)
print("client response head:", d.split(b"\r\n\r\n")[0])
print("backend got:")
for k, v in r["hdrs"]: print("   ", k, b":", v)
# X-Request-Id present
d, r = req(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: my-id-123\r\n\r\n")
print("\nwith X-Request-Id: response:", re.findall(rb"(?i)x-request-id: [^\r]*", d), "backend:", [v for k,v in r["hdrs"] if k.lower()==b"x-request-id"])
d, r = req(b"GET /echo HTTP/1.1\r\nHost: x\r\nx-request-id: lower\r\n\r\n")
print("with lowercase x-request-id: response:", re.findall(rb"(?i)x-request-id: [^\r]*", d), "backend:", [v for k,v in r["hdrs"] if k.lower()==b"x-request-id"])
d, r = req(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
print("without: response:", re.findall(rb"(?i)x-request-id: [^\r]*", d), "backend:", [v for k,v in r["hdrs"] if k.lower()==b"x-request-id"])
# response side
d, r = req(b"GET /cookies HTTP/1.1\r\nHost: x\r\n\r\n")
print("\ncookies response:", d.split(b"\r\n\r\n")[0])
d, r = req(b"GET /hop HTTP/1.1\r\nHost: x\r\n\r\n")
print("\nhop response:", d.split(b"\r\n\r\n")[0])
# Connection: close from client: not forwarded? upstream kept?
d, r = req(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close, TE\r\nTE: trailers\r\n\r\n")
print("\nConnection: close,TE backend hdrs:", r["hdrs"])
# X-Forwarded-For empty / IPv6 client
d, r = req(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Forwarded-For:\r\n\r\n")
print("empty XFF ->", [v for k,v in r["hdrs"] if k.lower()==b"x-forwarded-for"])
