#!/usr/bin/env bash
# A/B measurements between two binaries (bench/README.md quotes its output): starts CMD on
# core 1, loads it from core 0 with wrk (1 s warm-up, then SECS seconds), and prints the CPU
# the process used per request (utime and stime from /proc/PID/stat), the request rate and
# wrk's p99. A backend must already listen behind the proxy's config; run the two binaries in
# alternating rounds, since this VM's rate moves by 20-30% between rounds.
#
# Usage: bench/tools/cpu_per_request.sh URL SECS CONNS CMD...
#   e.g. bench/tools/cpu_per_request.sh http://127.0.0.1:28180/64k 4 64 ./build/fulcrum -c f.yaml
set -euo pipefail
url=$1 secs=$2 conns=$3
shift 3
log=$(mktemp)
taskset -c 1 "$@" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT
sleep 0.5
taskset -c 0 timeout 30 wrk -t1 -c"$conns" -d1s "$url" >/dev/null
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
out=$(taskset -c 0 timeout $((secs + 30)) wrk -t1 -c"$conns" -d"${secs}s" --latency "$url")
read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
requests=$(awk '/requests in/{print $1}' <<<"$out")
p99=$(awk '/ 99%/{print $2}' <<<"$out")
tick=$(getconf CLK_TCK)
python3 - "$requests" "$secs" "$u1" "$s1" "$u2" "$s2" "$tick" "$p99" <<'PY'
import sys
req, secs, u1, s1, u2, s2, tick = (float(x) for x in sys.argv[1:8])
us = 1e6 / tick / req
user, sys_ = (u2 - u1) * us, (s2 - s1) * us
print(f"requests={req:.0f} rate={req / secs:.0f}/s user={user:.2f}us sys={sys_:.2f}us "
      f"total={user + sys_:.2f}us p99={sys.argv[8]}")
PY
