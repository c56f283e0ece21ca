import lib, socket, time, threading, re
b = lib.Backend(37100)
P = 37021
def one(path, wait=4, keep=False):
    t0 = time.time()
    d, c = lib.raw(P, b"GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, b"" if keep else b"Connection: close\r\n"), wait=wait)
    return lib.status(d), c, round(time.time() - t0, 2), d
for i in range(6):
    st, c, t, d = one(b"/echo"); print("refused+good", st, t)
st, c, t, d = one(b"/alldown/x"); print("all down:", st, "closed", c, d[:200])
st, c, t, d = one(b"/drained/x"); print("drained only:", st, "closed", c, d[:200])
# busy: hold one slow request, then second should 503
out = []
th = threading.Thread(target=lambda: out.append(one(b"/busy/slow?s=1.5")[0])); th.start(); time.sleep(0.3)
st, c, t, d = one(b"/busy/x"); th.join(); print("max_connections hit:", st, "slow one:", out, d[:120])
st, c, t, d = one(b"/slow?s=5", wait=6); print("response timeout:", st, "after", t, "s", d[:160])
for path in (b"/malformed", b"/garbage"):
    st, c, t, d = one(path); print(path, "->", st, "closed", c, d[:160])
for path in (b"/midcl", b"/midchunked", b"/midchunked2"):
    st, c, t, d = one(path, keep=True)
    print(path, "-> status", st, "closed", c, "len", len(d), "tail", d[-60:])
    st2, c2, t2, d2 = one(b"/echo"); print("   next request:", st2)
