import lib, time, sys, re, os
P = {"F": 37001, "H": 37002, "N": 37003}
H = b"POST / HTTP/1.1\r\nHost: x\r\n"
G = b"GET / HTTP/1.1\r\nHost: x\r\n"
C = [
 ("CL+TE", H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
 ("TE+CL", H + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"),
 ("CL differ", H + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
 ("CL same twice", H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
 ("CL list same", H + b"Content-Length: 3, 3\r\n\r\nabc"),
 ("CL +5", H + b"Content-Length: +5\r\n\r\nabcde"),
 ("CL '5 ' (trailing sp)", H + b"Content-Length: 5 \r\n\r\nabcde"),
 ("CL ' 5' (leading sp)", H + b"Content-Length:  5\r\n\r\nabcde"),
 ("CL 0x5", H + b"Content-Length: 0x5\r\n\r\nabcde"),
 ("CL empty", H + b"Content-Length: \r\n\r\nabcde"),
 ("CL -1", H + b"Content-Length: -1\r\n\r\nabcde"),
 ("CL 05", H + b"Content-Length: 05\r\n\r\nabcde"),
 ("CL 5 tab", H + b"Content-Length: 5\t\r\n\r\nabcde"),
 ("CL huge", H + b"Content-Length: 99999999999999999999999\r\n\r\nabc"),
 ("CL 1e3", H + b"Content-Length: 1e3\r\n\r\nabc"),
 ("TE gzip", H + b"Transfer-Encoding: gzip\r\n\r\nabc"),
 ("TE chunked, gzip", H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
 ("TE gzip, chunked", H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
 ("TE chunked twice hdr", H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
 ("TE chunked,chunked", H + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
 ("TE Chunked (case)", H + b"Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"),
 ("TE identity", H + b"Transfer-Encoding: identity\r\n\r\nabc"),
 ("TE xchunked", H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
 ("TE 'chunked ' sp", H + b"Transfer-Encoding: chunked \r\n\r\n0\r\n\r\n"),
 ("TE tab chunked", H + b"Transfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n"),
 ("TE empty", H + b"Transfer-Encoding: \r\n\r\n"),
 ("TE on GET no body", G + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
 ("chunk -1", H + b"Transfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n"),
 ("chunk 0x5", H + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nabcde\r\n0\r\n\r\n"),
 ("chunk long hex", H + b"Transfer-Encoding: chunked\r\n\r\n" + b"0"*40 + b"5\r\nabcde\r\n0\r\n\r\n"),
 ("chunk overflow", H + b"Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nabcde\r\n0\r\n\r\n"),
 ("chunk-ext huge", H + b"Transfer-Encoding: chunked\r\n\r\n5;" + b"a"*20000 + b"\r\nabcde\r\n0\r\n\r\n"),
 ("chunk-ext bare LF", H + b"Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nabcde\r\n0\r\n\r\n"),
 ("chunk-ext ok", H + b"Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nabcde\r\n0\r\n\r\n"),
 ("chunk size sp", H + b"Transfer-Encoding: chunked\r\n\r\n5 \r\nabcde\r\n0\r\n\r\n"),
 ("chunk LF only", H + b"Transfer-Encoding: chunked\r\n\r\n5\nabcde\r\n0\r\n\r\n"),
 ("chunk data overrun", H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcde\r\n0\r\n\r\n"),
 ("chunk last LF only", H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\n\n"),
 ("obs-fold", G + b"X-A: b\r\n c\r\n\r\n"),
 ("obs-fold TE", H + b"X-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc"),
 ("obs-fold first hdr", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n"),
 ("NUL in value", G + b"X-A: a\x00b\r\n\r\n"),
 ("NUL in target", b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("bare CR in hdr", G + b"X-A: a\rb\r\n\r\n"),
 ("bare CR line end", b"GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n"),
 ("bare LF all", b"GET / HTTP/1.1\nHost: x\n\n"),
 ("bare LF one", b"GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n"),
 ("bare LF reqline", b"GET / HTTP/1.1\nHost: x\r\n\r\n"),
 ("space before colon", H + b"Content-Length : 3\r\n\r\nabc"),
 ("space before colon TE", H + b"Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc"),
 ("space in name", G + b"X A: b\r\n\r\n"),
 ("empty name", G + b": b\r\n\r\n"),
 ("bad char name", G + b"X(A): b\r\n\r\n"),
 ("no colon", G + b"XA\r\n\r\n"),
 ("DEL in value", G + b"X-A: a\x7fb\r\n\r\n"),
 ("ctl \\x01 in value", G + b"X-A: a\x01b\r\n\r\n"),
 ("high-bit value", G + b"X-A: caf\xc3\xa9\r\n\r\n"),
 ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
 ("TE in HTTP/1.0+CL", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc"),
 ("absolute-form", b"GET http://x/echo HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("absolute-form other host", b"GET http://evil/echo HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("asterisk GET", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("CONNECT", b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n"),
 ("target no slash", b"GET echo HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("target with space", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("target fragment", b"GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n"),
 ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
 ("HTTP/0.9", b"GET /\r\n\r\n"),
 ("lowercase method", b"get / HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("unknown method", b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("double space reqline", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("leading CRLF", b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
 ("no host 1.1", b"GET / HTTP/1.1\r\n\r\n"),
 ("no host 1.0", b"GET / HTTP/1.0\r\n\r\n"),
 ("host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
 ("host with @", b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"),
 ("abs-form host mismatch", b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n"),
 ("long reqline 20k", b"GET /" + b"a"*20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
 ("big head 20k", G + b"X-A: " + b"a"*20000 + b"\r\n\r\n"),
 ("many headers", G + b"".join(b"X-%d: v\r\n" % i for i in range(2000)) + b"\r\n"),
 ("body > max CL", H + b"Content-Length: 2000000\r\n\r\n" + b"a"*10),
]
only = sys.argv[1:] if len(sys.argv) > 1 else None
b = lib.Backend(37100)
def check(port, raw):
    with b.lock:
        for k in b.raw: b.raw[k] = bytearray()
        b.requests.clear()
    d, closed = lib.raw(port, raw, wait=1.5)
    time.sleep(0.1)
    st = lib.status(d)
    head = d.split(b"\r\n\r\n", 1)[0]
    cl = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    ok_len = None
    if cl: ok_len = (len(d) == len(head) + 4 + int(cl.group(1)))
    conn_close = bool(re.search(rb"(?i)\r\nconnection: *close", head))
    return st, closed, ok_len, conn_close, b.total_bytes(), len(b.requests), d
rows = []
for name, raw in C:
    if only and name not in only: continue
    res = {}
    for k, port in P.items():
        res[k] = check(port, raw)
    f = res["F"]
    line = f"{name:24s} F:{f[0]} closed={int(f[1])} lenok={f[2]} cc={int(f[3])} be_bytes={f[4]} be_reqs={f[5]} | H:{res['H'][0]} c={int(res['H'][1])} be={res['H'][4]} | N:{res['N'][0]} c={int(res['N'][1])} be={res['N'][4]}"
    print(line, flush=True)
    if os.environ.get("V"): print("   F raw:", f[6][:300])
