import lib, socket, time, threading, json
b = lib.Backend(37100)
# patch: /idleclose responds then closes the socket 0.3 s later (backend idle timeout)
orig = b.respond
def respond(c, method, target, ver, hdrs, hl, body):
    if target.startswith(b"/idleclose"):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        time.sleep(0.3); return False
    if target.startswith(b"/idlerst"):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        time.sleep(0.3); import struct; c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); return False
    return orig(c, method, target, ver, hdrs, hl, body)
b.respond = respond
def get(path, port=37001):
    d, c = lib.raw(port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path, wait=3)
    return lib.status(d)
c0 = b.conns
sts = [get(b"/echo") for _ in range(50)]
print("50 sequential client conns -> statuses", set(sts), "backend conns opened", b.conns - c0)
# backend closes idle pooled connection
for kind in (b"/idleclose", b"/idlerst"):
    res = []
    for i in range(10):
        c0 = b.conns
        s1 = get(kind); time.sleep(0.6); s2 = get(b"/echo")
        res.append((s1, s2, b.conns - c0))
    print(kind, "then request after backend closed pooled conn:", res)
# race: request right when the backend closes (no sleep)
res = []
for i in range(30):
    s1 = get(b"/idleclose"); time.sleep(0.3); res.append(get(b"/echo"))
print("race (request ~ as backend closes):", res)
# many concurrent then idle count
live0 = None
def worker(out):
    out.append(get(b"/slow?s=0.5"))
out = []; ths = [threading.Thread(target=worker, args=(out,)) for _ in range(100)]
c0 = b.conns
[t.start() for t in ths]; [t.join() for t in ths]
time.sleep(0.5)
# count open backend-side sockets via ss
import subprocess
n = subprocess.run("ss -tn state established '( sport = :37100 )' | tail -n +2 | wc -l", shell=True, capture_output=True, text=True).stdout.strip()
print("100 concurrent:", set(out), "backend conns opened", b.conns - c0, "still established after burst:", n, "(max_idle_per_backend default 64)")
print("waiting 11s for pool idle (10s)...")
time.sleep(11)
n = subprocess.run("ss -tn state established '( sport = :37100 )' | tail -n +2 | wc -l", shell=True, capture_output=True, text=True).stdout.strip()
print("after idle timeout, established:", n)
