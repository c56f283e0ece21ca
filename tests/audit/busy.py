import lib, socket, time, threading
b = lib.Backend(37100)
def one(path):
    t0 = time.time(); d, c = lib.raw(37021, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path, wait=4); return lib.status(d), round(time.time()-t0,2)
out = []
th = threading.Thread(target=lambda: out.append(one(b"/busy/slow?s=2"))); th.start(); time.sleep(0.5)
print("second while first in flight:", one(b"/busy/x")); th.join(); print("first:", out)
