#!/usr/bin/env python3
"""Turns bench/run.sh results into the markdown tables of bench/README.md.

Input: one line per measurement, "SECTION PHASE PROXY key=value ...", as run.sh records them
(l4_load output, or cpu_us + the path of a wrk output for the HTTP phases). Prints each
section and, with --readme, replaces that section ("## L4" / "## HTTP") in the README, leaving
every other section as it is.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

PROXIES = ["fulcrum", "haproxy", "nginx"]
TITLE = {"l4": "## L4", "http": "## HTTP"}
HTTP_SCENARIOS = [
    ("keepalive-64", "keep-alive, 64 connections, 13-byte body"),
    ("keepalive-256", "keep-alive, 256 connections, 13-byte body"),
    ("close-64", "new connection per request (`Connection: close`), 64 connections"),
    ("64KiB-64", "keep-alive, 64 connections, 64 KiB body"),
]


def parse_results(path):
    """{(section, phase, proxy): [key=value dict of each round]}"""
    res = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4:
                continue
            kv = dict(p.split("=", 1) for p in parts[4:] if "=" in p)
            res.setdefault((parts[0], parts[1], parts[2]), []).append(kv)
    return res


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def to_ms(value):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", value)
    if not m:
        return None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]
    return float(m.group(1)) * scale


def parse_wrk(path):
    out = {}
    try:
        text = open(path).read()
    except OSError:
        return out
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if m:
        out["p99_ms"] = to_ms(m.group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    out["errors"] = errors
    return out


def fmt(v, digits=1):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}×"


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 1048576:.0f} GiB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} × {cpu}{mem}, Linux {os.uname().release}"


def version(cmd, pattern):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        m = re.search(pattern, p.stdout + p.stderr)
        return m.group(1) if m else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def fulcrum_rev(root):
    rev = version(["git", "-C", root, "rev-parse", "--short", "HEAD"], r"(\S+)")
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "src", "include"],
                           capture_output=True, text=True).stdout.strip()
    return rev + ("+local changes" if dirty else "")


def header(args, section):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    fulcrum = f"Fulcrum {fulcrum_rev(root)}" if args.fulcrum else "Fulcrum not built (n/a)"
    haproxy = version(["haproxy", "-v"], r"version (\S+)")
    nginx = version(["nginx", "-v"], r"nginx/(\S+)")
    # The exact command, knobs included, so the table can be reproduced as it was made.
    knobs = "".join(f"{k}={v} " for k, v, default in (
        ("ROUNDS", args.rounds, 3), ("SECONDS_PER_PHASE", args.seconds, 4)) if str(v) != str(default))
    return [
        f"Measured {now} on {machine()}; {fulcrum}, HAProxy {haproxy}, nginx {nginx}.",
        "",
        f"Reproduce: `{knobs}bash bench/run.sh {section}` (or `{knobs}bash bench/run.sh all`). One worker each "
        "(Fulcrum `workers: 1`, HAProxy `nbthread 1`, nginx `worker_processes 1`), the proxy "
        "pinned to core 1 (`taskset -c 1`), backends and load generator on core 0; "
        f"each number is the median of {args.rounds} rounds of {args.seconds} s per proxy "
        "(the proxies take turns), idle-connection phases run once. CPU = the proxy's utime+stime from `/proc/PID/stat` "
        "over the phase. Ratios are Fulcrum ÷ the other proxy. "
        f"Load average when the run started: {args.loadavg or '?'} (the machine may be shared; "
        "the CPU-per-unit rows are the least sensitive to that).",
        "",
    ]


def idle_count(args, px):
    """How many idle HTTP clients the run opened through `px`."""
    return args.haproxy_http_idle if px == "haproxy" else args.http_idle


def verdict(ok):
    if ok is None:
        return "n/a"
    return "met" if ok else "**missed**"


def l4_section(args, res):
    def get(phase, px, key):
        return median(num(kv.get(key)) for kv in res.get(("l4", phase, px), []))

    for px in PROXIES:  # an idle phase where sessions failed measures nothing useful
        for kv in res.get(("l4", "idle", px), []):
            if (num(kv.get("errors")) or 0) > 0.01 * args.l4_idle:
                kv["kib_per_session"] = None
    rows = [
        ("throughput", "mib_per_s", "throughput, 16 connections × 64 KiB writes (MiB/s, higher is better)", None),
        ("throughput", "cpu_us_per_mib", "proxy CPU per MiB (µs, lower is better)", "le_haproxy"),
        ("connrate", "conn_per_s", "connection rate, 32 loops of connect + 64 B exchange + close (conn/s, higher is better)", None),
        ("connrate", "cpu_us_per_conn", "proxy CPU per connection (µs, lower is better)", "le_haproxy"),
        ("idle", "kib_per_session", f"RSS per idle session, {args.l4_idle:,} sessions (KiB, lower is better)", "lt10"),
    ]
    lines = [TITLE["l4"], ""] + header(args, "l4")
    lines += ["| metric | Fulcrum | HAProxy `mode tcp` | nginx `stream` | ÷ HAProxy | ÷ nginx | target |",
              "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for phase, key, label, target in rows:
        f, h, n = (get(phase, px, key) for px in PROXIES)
        digits = 2 if key in ("cpu_us_per_conn", "kib_per_session") else 1
        if target == "le_haproxy":
            r = ratio(f, h)
            tgt = f"≤ 1.00× HAProxy: {verdict(None if r is None else r <= 1.0)}"
        elif target == "lt10":
            tgt = f"< 10 KiB: {verdict(None if f is None else f < 10)}"
        else:
            tgt = ""
        lines.append(f"| {label} | {fmt(f, digits)} | {fmt(h, digits)} | {fmt(n, digits)} | "
                     f"{fmt_ratio(ratio(f, h))} | {fmt_ratio(ratio(f, n))} | {tgt} |")
    notes = []
    for (sec, phase, px), rounds in sorted(res.items()):
        errors = sum(int(num(kv.get("errors")) or 0) for kv in rounds)
        if sec == "l4" and errors > 0:
            notes.append(f"{px} {phase}: {errors} failed connections/exchanges (all rounds)")
    if args.l4_idle < 10000:
        notes.append(f"idle sessions: {args.l4_idle:,} instead of 10,000 because the open-file "
                     f"hard limit here is {args.nofile}, which bench/run.sh could not raise "
                     "(it raises it to 65,536 where allowed), and the proxy holds two "
                     "descriptors per session")
    lines += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])
    return lines


def kernel_share_note(phase, data):
    """What the 0.80x CPU target leaves for user space once Fulcrum's own kernel time is paid.

    The kernel time is the syscalls (read, write, epoll, accept, close) and the loopback TCP
    work they carry; all three proxies make about the same ones, so it is the part no
    user-space change removes."""
    f = data.get((phase, PROXIES[0]), {})
    others = [data.get((phase, px), {}).get("cpu_per_req") for px in PROXIES[1:]]
    best = min([x for x in others if x is not None], default=None)
    if best is None or f.get("sys_per_req") is None or f.get("cpu_per_req") is None:
        return []
    room = 0.8 * best - f["sys_per_req"]
    return [f"{phase}: Fulcrum's kernel time alone is {fmt(f['sys_per_req'])} µs per request, "
            f"{fmt_ratio(ratio(f['sys_per_req'], best))} of the best other proxy's whole "
            f"{fmt(best)} µs; the 0.80× target leaves {fmt(room)} µs per request for all "
            f"user-space work (Fulcrum's takes {fmt(f['cpu_per_req'] - f['sys_per_req'])} µs)"]


def http_section(args, res):
    data = {}
    for (sec, phase, px), rounds in res.items():
        if sec != "http":
            continue
        if phase == "idle":
            data[(phase, px)] = {k: num(v) for k, v in rounds[0].items() if num(v) is not None}
            continue
        per_round = []
        errors = 0
        for kv in rounds:
            w = parse_wrk(kv.get("wrk", ""))
            errors += w.get("errors", 0)
            # A round where more than 1% of the requests failed measures nothing useful.
            if not w.get("requests") or w.get("errors", 0) > 0.01 * w["requests"]:
                continue
            w["cpu_per_req"] = (num(kv.get("cpu_us")) or 0) / w["requests"]
            if num(kv.get("sys_us")) is not None:
                w["sys_per_req"] = num(kv["sys_us"]) / w["requests"]
            per_round.append(w)
        merged = {k: median(w.get(k) for w in per_round)
                  for k in ("rps", "p99_ms", "cpu_per_req", "sys_per_req")}
        merged["errors"] = errors
        merged["failed_rounds"] = len(rounds) - len(per_round)
        data[(phase, px)] = merged

    lines = [TITLE["http"], ""] + header(args, "http")
    lines += [
        "wrk (`-t1 --latency`) against each proxy; the backend is a separate nginx serving "
        "static files; upstream keep-alive on for all three (HAProxy `http-reuse always`, "
        "nginx `keepalive` + `proxy_http_version 1.1` + empty `Connection`), "
        "the same header work for all three (Fulcrum's defaults): X-Forwarded-For, -Proto and "
        "-Host to the backend, and an X-Request-Id generated per request, sent to the backend and "
        "returned to the client (HAProxy `unique-id-format %[uuid()]`, nginx `$request_id`).",
        "",
        "| scenario | metric | Fulcrum | HAProxy | nginx | ÷ HAProxy | ÷ nginx | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    notes = []
    for phase, label in HTTP_SCENARIOS:
        for key, mlabel, digits in [("rps", "requests/s", 0), ("p99_ms", "p99 latency (ms)", 2),
                                    ("cpu_per_req", "proxy CPU per request (µs)", 1),
                                    ("sys_per_req", "of which in the kernel (µs)", 1)]:
            f, h, n = (data.get((phase, px), {}).get(key) for px in PROXIES)
            best = min([x for x in (h, n) if x is not None], default=None)
            if key == "cpu_per_req":
                r = ratio(f, best)
                tgt = f"≤ 0.80× best: {verdict(None if r is None else r <= 0.8)}"
            elif key == "p99_ms":
                r = ratio(f, best)
                tgt = f"≤ best: {verdict(None if r is None else r <= 1.0)}"
            else:
                tgt = ""
            if key == "sys_per_req" and f is None and h is None and n is None:
                continue
            lines.append(f"| {label} | {mlabel} | {fmt(f, digits)} | {fmt(h, digits)} | "
                         f"{fmt(n, digits)} | {fmt_ratio(ratio(f, h))} | {fmt_ratio(ratio(f, n))} "
                         f"| {tgt} |")
            label = ""
        notes += kernel_share_note(phase, data)
        for px in PROXIES:
            d = data.get((phase, px), {})
            if d.get("errors"):
                failed = d.get("failed_rounds", 0)
                extra = f"; {failed} round(s) with over 1% failures left out" if failed else ""
                notes.append(f"{px} {phase}: {d['errors']} wrk errors (socket errors + non-2xx, "
                             f"all rounds){extra}")
    # The floors: the same load through each proxy's TCP mode (bytes only, no HTTP work).
    for floor_phase, http_phase, what in [("bytes-64", "keepalive-64", "keep-alive 64"),
                                          ("bytes-256", "keepalive-256", "keep-alive 256"),
                                          ("bytes-64KiB", "64KiB-64", "64 KiB")]:
        floor = [data.get((floor_phase, px), {}).get("cpu_per_req") for px in PROXIES]
        if not any(x is not None for x in floor):
            continue
        f, h, n = floor
        lines.append(f"| the {what} load through each proxy's TCP mode (bytes only, no HTTP "
                     f"work) | proxy CPU per request (µs) | {fmt(f)} | {fmt(h)} | {fmt(n)} | "
                     f"{fmt_ratio(ratio(f, h))} | {fmt_ratio(ratio(f, n))} | reference: the floor |")
        lowest = min(x for x in floor if x is not None)
        http = [data.get((http_phase, px), {}).get("cpu_per_req") for px in PROXIES]
        best_other = min([x for x in http[1:] if x is not None], default=None)
        if best_other is not None:
            notes.append(
                f"the {what} floor: forwarding that load as bytes, with no HTTP parsing at "
                f"all, costs at least {fmt(lowest)} µs per request ({fmt_ratio(ratio(lowest, best_other))} "
                f"of the best other HTTP proxy's {fmt(best_other)} µs); 0.80× of that best is "
                f"{fmt(0.8 * best_other)} µs, so "
                + (f"the target leaves {fmt(0.8 * best_other - lowest)} µs per request for all "
                   "HTTP work" if 0.8 * best_other >= lowest else
                   f"the target lies {fmt(lowest - 0.8 * best_other)} µs per request below what "
                   "forwarding alone costs")
                + f" ({above_floor(http[0], lowest)})")
    fwd_lines = floor_forwarder_table(data)
    for px in PROXIES:
        e = data.get(("idle", px), {}).get("errors")
        if e:
            notes.append(f"{px} idle: {e:.0f} clients failed to open")
            if e > 0.01 * idle_count(args, px):
                data[("idle", px)]["kib_per_session"] = None
    f, h, n = (data.get(("idle", px), {}).get("kib_per_session") for px in PROXIES)
    clients = f"{args.http_idle:,}" + (
        f" ({args.haproxy_http_idle:,} for HAProxy)"
        if args.haproxy_http_idle != args.http_idle else "")
    lines.append(f"| {clients} idle keep-alive clients | RSS per client (KiB) | "
                 f"{fmt(f, 2)} | {fmt(h, 2)} | {fmt(n, 2)} | {fmt_ratio(ratio(f, h))} | "
                 f"{fmt_ratio(ratio(f, n))} | < 10 KiB: {verdict(None if f is None else f < 10)} |")
    if args.http_idle < 10000:
        notes.append(f"idle clients: {args.http_idle:,} instead of 10,000 because the open-file "
                     f"hard limit here is {args.nofile}, which bench/run.sh could not raise "
                     "(it raises it to 65,536 where allowed)")
    if args.haproxy_http_idle < args.http_idle:
        notes.append(f"HAProxy's idle clients: {args.haproxy_http_idle:,}, because it reserves "
                     "two descriptors per connection and will not start with a maxconn whose "
                     f"double exceeds the open-file hard limit ({args.nofile}); Fulcrum and "
                     "nginx hold one per idle client")
    lines += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])
    return lines + fwd_lines


def above_floor(http, floor):
    if http is None:
        return "Fulcrum's HTTP path: n/a"
    if http >= floor:
        return f"Fulcrum's HTTP path costs {fmt(http - floor)} µs above the floor"
    return f"Fulcrum's HTTP path measured {fmt(floor - http)} µs below that floor in this run"


def floor_forwarder_table(data):
    """The keep-alive loads through bench/tools/floor_forwarder.c, against the HTTP target."""
    rows = []
    for floor_phase, http_phase, what in [("bytes-64", "keepalive-64", "keep-alive, 64 connections"),
                                          ("bytes-256", "keepalive-256", "keep-alive, 256 connections")]:
        fwd = data.get((floor_phase, "floor"), {})
        if fwd.get("cpu_per_req") is None:
            continue
        http = [data.get((http_phase, px), {}).get("cpu_per_req") for px in PROXIES]
        best = min([x for x in http[1:] if x is not None], default=None)
        target = None if best is None else 0.8 * best
        rows.append(f"| {what} | {fmt(fwd['cpu_per_req'])} | {fmt(fwd.get('sys_per_req'))} | "
                    f"{fmt(best)} | {fmt_ratio(ratio(fwd['cpu_per_req'], best))} | {fmt(target)} | "
                    f"{fmt(http[0])} |")
    if not rows:
        return []
    return [
        "The same keep-alive loads through `bench/tools/floor_forwarder.c`, run in the same turns: "
        "a forwarder with no HTTP work and no event library (one thread, edge-triggered epoll, "
        "recv/send, one backend connection per client). What it costs per request is the "
        "loopback TCP work any proxy pays for this load; the 0.80× target is measured against it.",
        "",
        "| load | forwarder CPU per request (µs) | of which in the kernel (µs) | "
        "best of HAProxy and nginx, HTTP (µs) | forwarder ÷ that best | 0.80× that best (µs) | "
        "Fulcrum, HTTP (µs) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ] + rows + [""]


def replace_section(text, title, body):
    """Replaces the '## X' section (up to the next '## ' heading) or inserts it."""
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip() == title), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        lines[start:end] = body
    else:
        # L4 before HTTP, both before the micro-benchmarks section that another tool owns.
        anchor = None
        order = [TITLE["http"], "## Policy pick() micro-benchmarks"] if title == TITLE["l4"] \
            else ["## Policy pick() micro-benchmarks"]
        for t in order:
            anchor = next((i for i, l in enumerate(lines) if l.strip() == t), None)
            if anchor is not None:
                break
        if anchor is None:
            lines += [""] + body
        else:
            lines[anchor:anchor] = body
    return "\n".join(lines).rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sections", nargs="+", choices=["l4", "http"])
    ap.add_argument("--results", required=True)
    ap.add_argument("--command", default="")
    ap.add_argument("--readme")
    ap.add_argument("--fulcrum")
    ap.add_argument("--l4-idle", type=int, default=10000)
    ap.add_argument("--http-idle", type=int, default=10000)
    ap.add_argument("--haproxy-http-idle", type=int, default=None)
    ap.add_argument("--nofile", type=int, default=0)
    ap.add_argument("--seconds", default="5")
    ap.add_argument("--loadavg", default="")
    ap.add_argument("--rounds", default="1")
    args = ap.parse_args()
    if args.haproxy_http_idle is None:
        args.haproxy_http_idle = args.http_idle
    res = parse_results(args.results)
    out = {}
    for s in args.sections:
        out[s] = (l4_section if s == "l4" else http_section)(args, res)
        print("\n".join(out[s]))
    if args.readme:
        text = open(args.readme).read() if os.path.exists(args.readme) else "# Benchmarks\n"
        for s in args.sections:
            text = replace_section(text, TITLE[s], out[s])
        with open(args.readme, "w") as f:
            f.write(text)
        print(f"(written to {args.readme})", file=sys.stderr)


if __name__ == "__main__":
    main()
