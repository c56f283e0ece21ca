import lib, socket, time, sys
b = lib.Backend(37100) if len(sys.argv) < 2 else None
for port in (37001, 37002, 37003):
    d, c = lib.raw(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", wait=2, shut=True)
    d2, c2 = lib.raw(port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", wait=2, shut=True)
    d3, c3 = lib.raw(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n", wait=2, shut=True)
    d4, c4 = lib.raw(port, b"GET /slow?s=1 HTTP/1.1\r\nHost: x\r\n\r\n", wait=3, shut=True)
    print(port, "GET+SHUT_WR:", lib.status(d), c, "| POST+SHUT_WR:", lib.status(d2), c2, "| 2 pipelined+SHUT_WR: responses", d3.count(b"HTTP/1.1 200"), c3, "| slow+SHUT_WR:", lib.status(d4), c4)
