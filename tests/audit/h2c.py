import lib
b = lib.Backend(37100)
for raw in [b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
            b"GET /ws101 HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n"]:
    b.requests.clear()
    d, c = lib.raw(37001, raw, wait=1)
    print(raw[:60], "->", d[:100], "\n   backend:", b.requests[-1]["hdrs"] if b.requests else None)
