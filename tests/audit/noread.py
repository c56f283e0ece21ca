import lib, socket, time
b = lib.Backend(37100); b.keepbody = False
def hwm(): 
    st = open("/proc/3346/status").read(); return st.split("VmHWM:")[1].split("\n")[0].strip(), st.split("VmRSS:")[1].split("\n")[0].strip()
print("before", hwm())
ss = []
for i in range(20):
    s = socket.create_connection(("127.0.0.1", 37011)); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); s.setblocking(False)
    req = b"GET /big?n=1000000 HTTP/1.1\r\nHost: x\r\n\r\n" * 2000   # 2000 pipelined 1 MB responses, never read
    sent = 0; t0 = time.time()
    while sent < len(req) and time.time() - t0 < 1:
        try: sent += s.send(req[sent:])
        except BlockingIOError: time.sleep(0.01)
    ss.append((s, sent))
time.sleep(3)
print("20 clients pipelining 2000 x 1 MB GETs without reading; bytes of requests accepted per client:", [x[1] for x in ss][:5], "backend requests seen:", len(b.requests), "mem", hwm())
for s, _ in ss: s.close()
time.sleep(1)
print("after close", hwm(), "healthz", lib.alive(3346, 37900))
