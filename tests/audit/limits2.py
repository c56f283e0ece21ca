import lib, time, socket, re
b = lib.Backend(37100); b.keepbody=False
def reset():
    with b.lock:
        for k in b.raw: b.raw[k] = bytearray()
        b.requests.clear()
def rep(name, port, d, c, t=None):
    print(f"{name:40s} port={port} st={lib.status(d)} closed={c} be_reqs={len(b.requests)} be_bytes={b.total_bytes()} resp={d[:200]!r}", flush=True)
H = b"POST /echo HTTP/1.1\r\nHost: x\r\n"
MB = 1 << 20
for port in (37001, 37003):
    for name, raw in [
        ("CL = max", H + b"Content-Length: %d\r\n\r\n" % MB + b"a" * MB),
        ("CL = max+1", H + b"Content-Length: %d\r\n\r\n" % (MB+1) + b"a" * (MB+1)),
        ("chunked = max", H + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % MB + b"a" * MB + b"\r\n0\r\n\r\n"),
        ("chunked = max+1 one chunk", H + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % (MB+1) + b"a" * (MB+1) + b"\r\n0\r\n\r\n"),
        ("chunked = max+1 many chunks", H + b"Transfer-Encoding: chunked\r\n\r\n" + (b"1000\r\n" + b"a"*4096 + b"\r\n") * 256 + b"1\r\na\r\n0\r\n\r\n"),
        ("chunked huge size decl only", H + b"Transfer-Encoding: chunked\r\n\r\nffffffff\r\nabc"),
    ]:
        reset(); d, c = lib.raw(port, raw, wait=2); rep(name, port, d, c)
# header near max_header_bytes (8KiB on 37001)
for n in (8192 - 200, 8192 - 60, 8192-40, 8192 - 30, 8192, 8300):
    req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
    pad = n - len(req) - 4
    raw = req + b"a" * pad + b"\r\n\r\n"
    reset(); d, c = lib.raw(37001, raw, wait=1); print(f"head total={len(raw)} -> {lib.status(d)} closed={c} be_reqs={len(b.requests)}")
# request line exactly near limit
for n in (8000, 8192, 8300):
    raw = b"GET /" + b"a" * (n - 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    reset(); d, c = lib.raw(37001, raw, wait=1); print(f"line total={len(raw)} -> {lib.status(d)} closed={c}")
