import http.client, sys
body = open("big3m.bin","rb").read()
for port in (37001, 37003):
    res = []
    for i in range(5):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            c.request("POST", "/echo", body=body); r = c.getresponse(); res.append(r.status)
        except Exception as e: res.append(type(e).__name__)
        c.close()
    print(port, res)
