import lib, time, json
bs = [lib.Backend(37100,"main"), lib.Backend(37101,"api"), lib.Backend(37102,"api2")]
for raw in [b"GET http://evil/echo HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET http://api.example.com/v1/echo HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET http://x/v1/echo HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
            b"GET https://x:99/echo?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET http://x HTTP/1.1\r\nHost: x\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /echo HTTP/1.1\r\nHost: API.Example.COM:8080\r\n\r\n",
            b"GET /v1/echo HTTP/1.1\r\nHost: API.Example.COM:8080\r\n\r\n",
            b"GET /v1/echo HTTP/1.1\r\nHost: api.example.com.\r\n\r\n",
            b"GET /v1x/echo HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
            b"GET /staticfoo/echo HTTP/1.1\r\nHost: zzz\r\n\r\n",
            b"GET /static/../echo HTTP/1.1\r\nHost: zzz\r\n\r\n",
            b"GET /%73tatic/echo HTTP/1.1\r\nHost: zzz\r\n\r\n",
            b"GET /echo HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
            b"GET /echo HTTP/1.1\r\nHost: api.example.com:\r\n\r\n",
            ]:
    for pb in bs: pb.requests.clear()
    d, c = lib.raw(37001, raw, wait=1)
    seen = [(pb.name, r["target"], [v for k,v in r["hdrs"] if k.lower()==b"host"]) for pb in bs for r in pb.requests]
    print(raw[:60], "->", lib.status(d), seen)
