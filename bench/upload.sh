#!/usr/bin/env bash
# Uploads: proxy CPU per MiB of request body, Fulcrum vs HAProxy vs nginx, one worker each.
#
#   bash bench/upload.sh
#
# Each round, each proxy in turn forwards UPLOADS (4) PUTs of UPLOAD_MIB (256) MiB with a
# Content-Length (`curl -T`, no `Expect`) to bench/tools/upload_sink.py, which reads every
# body whole before it answers. The proxy runs on core 1, curl and the sink on core 0. CPU is
# the proxy's utime+stime from /proc/PID/stat over the uploads. nginx streams the body
# (`proxy_request_buffering off`) instead of spooling it to disk first, as HAProxy and Fulcrum
# do. Prints the median of ROUNDS (3) rounds per proxy, and the ratios. Knobs: ROUNDS,
# UPLOADS, UPLOAD_MIB, FULCRUM_BIN (default: build it in build-bench), NO_SETUP=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"
UPLOADS="${UPLOADS:-4}"
UPLOAD_MIB="${UPLOAD_MIB:-256}"
WORK="$(mktemp -d /tmp/fulcrum-upload.XXXXXX)"
SINK_PORT=26001
declare -A PORT=([fulcrum]=26100 [haproxy]=26200 [nginx]=26300)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[upload %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if [[ "${NO_SETUP:-}" != 1 ]]; then bash "$ROOT/scripts/setup.sh" --bench >&2; fi
FULCRUM_BIN="${FULCRUM_BIN:-}"
if [[ -z "$FULCRUM_BIN" ]]; then
  cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$ROOT/build-bench" -j"$(nproc)" --target fulcrum >/dev/null
  FULCRUM_BIN="$ROOT/build-bench/fulcrum"
fi

cat >"$WORK/fulcrum.yaml" <<YAML
workers: 1
log: { level: warn }
listeners:
  - { name: up, listen: "127.0.0.1:${PORT[fulcrum]}", protocol: http, pool: sink }
pools:
  - { name: sink, backends: [{ address: "127.0.0.1:$SINK_PORT" }] }
YAML
cat >"$WORK/haproxy.cfg" <<CFG
global
  nbthread 1
defaults
  mode http
  option forwardfor
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend up
  bind 127.0.0.1:${PORT[haproxy]}
  default_backend sink
backend sink
  http-reuse always
  server s1 127.0.0.1:$SINK_PORT
CFG
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx.conf" <<CFG
worker_processes 1;
daemon off;
master_process off;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/b;
  proxy_temp_path $WORK/nginx/p;
  client_max_body_size 0;
  upstream sink { server 127.0.0.1:$SINK_PORT; keepalive 32; }
  server {
    listen 127.0.0.1:${PORT[nginx]};
    location / {
      proxy_pass http://sink;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_request_buffering off;
    }
  }
}
CFG

head -c $((UPLOAD_MIB * 1024 * 1024)) /dev/urandom >"$WORK/body"
taskset -c 0 python3 "$ROOT/bench/tools/upload_sink.py" "$SINK_PORT" >"$WORK/sink.log" 2>&1 &
PIDS+=($!)
sleep 0.5

# upload NAME CMD...: starts the proxy on core 1, warms up with one upload, then prints the
# proxy's CPU µs per MiB over UPLOADS uploads, and MiB/s.
upload() {
  local name=$1 port=${PORT[$1]} pid u1 s1 u2 s2 t0 t1 code
  shift
  taskset -c 1 "$@" >"$WORK/$name.log" 2>&1 &
  pid=$!
  sleep 0.5
  put() {
    taskset -c 0 curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -T "$WORK/body" \
      "http://127.0.0.1:$port/up"
  }
  code=$(put)
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  t0=$(date +%s.%N)
  for _ in $(seq 1 "$UPLOADS"); do
    code=$(put)
    [[ $code == 200 ]] || { log "$name: upload answered $code"; kill "$pid"; return 1; }
  done
  t1=$(date +%s.%N)
  read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  python3 -c "
mib = $UPLOADS * $UPLOAD_MIB
tick = 1e6 / $(getconf CLK_TCK)
print($(( u2 - u1 + s2 - s1 )) * tick / mib, mib / ($t1 - $t0))"
}

declare -A CPU RATE
for r in $(seq 1 "$ROUNDS"); do
  for name in fulcrum haproxy nginx; do
    case $name in
      fulcrum) out=$(upload fulcrum "$FULCRUM_BIN" -c "$WORK/fulcrum.yaml") ;;
      haproxy) out=$(upload haproxy haproxy -f "$WORK/haproxy.cfg") ;;
      nginx) out=$(upload nginx nginx -c "$WORK/nginx.conf") ;;
    esac
    read -r cpu rate <<<"$out"
    log "round $r $name: $(printf '%.1f' "$cpu") µs/MiB, $(printf '%.0f' "$rate") MiB/s"
    CPU[$name]+="$cpu "
    RATE[$name]+="$rate "
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
f=$(median <<<"${CPU[fulcrum]}") h=$(median <<<"${CPU[haproxy]}") n=$(median <<<"${CPU[nginx]}")
fr=$(median <<<"${RATE[fulcrum]}") hr=$(median <<<"${RATE[haproxy]}") nr=$(median <<<"${RATE[nginx]}")
python3 - "$f" "$h" "$n" "$fr" "$hr" "$nr" "$ROUNDS" "$UPLOADS" "$UPLOAD_MIB" <<'PY'
import sys
f, h, n, fr, hr, nr = map(float, sys.argv[1:7])
rounds, uploads, mib = sys.argv[7:10]
print(f"Uploads: {uploads} x {mib} MiB per round, median of {rounds} rounds")
print()
print("| metric | Fulcrum | HAProxy | nginx (`proxy_request_buffering off`) | ÷ HAProxy | ÷ nginx |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
print(f"| proxy CPU per MiB uploaded (µs, lower is better) | {f:.1f} | {h:.1f} | {n:.1f} "
      f"| {f / h:.2f}× | {f / n:.2f}× |")
print(f"| upload rate (MiB/s; the sink on core 0 limits it) | {fr:,.0f} | {hr:,.0f} | {nr:,.0f} "
      f"| {fr / hr:.2f}× | {fr / nr:.2f}× |")
PY
