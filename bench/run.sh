#!/usr/bin/env bash
# Fulcrum vs HAProxy vs nginx, side by side in one run, one worker each.
#
#   bash bench/run.sh l4     L4: throughput, connection rate, CPU per MiB / per connection,
#                            RSS per idle session                        (writes "## L4")
#   bash bench/run.sh http   HTTP: wrk keep-alive 64/256 conns, Connection: close, 64 KiB
#                            responses; RSS per idle keep-alive client   (writes "## HTTP")
#   bash bench/run.sh all    both
#
# The proxy under test runs on core 1 (taskset -c 1); backends and load generators on core 0.
# Every phase is bounded in time; every process started here is stopped by its PID on exit.
# Each throughput/rate phase runs ROUNDS times, the proxies taking turns, and the report keeps
# the median of each number.
# Knobs (environment): SECONDS_PER_PHASE (4), ROUNDS (3), WARMUP (1), IDLE_SESSIONS (10000),
# FULCRUM_BIN (default: build it in build-bench), NO_SETUP=1 (skip scripts/setup.sh --bench),
# NO_README=1 (print the tables, leave bench/README.md alone), PEER_DEFER=1 (HAProxy and
# nginx also defer accept on their HTTP listeners, as Fulcrum does by default: HAProxy
# `defer-accept`, nginx `listen ... deferred`; implies NO_README=1), PROFILE=1 (one extra,
# unrecorded run per proxy and phase under `perf stat`, printing the proxy's syscalls per MiB,
# connection or request).
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
mode="${1:-}"
case "$mode" in
  l4 | http | all) ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-bench"
PHASE_S="${SECONDS_PER_PHASE:-4}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-1}"
WORK="$(mktemp -d /tmp/fulcrum-bench.XXXXXX)"
chmod 755 "$WORK"  # nginx workers run as www-data and read the backend's files from here
RESULTS="$WORK/results.txt"
: >"$RESULTS"
PROXY_CORE=1
LOAD_CORE=0

# Ports (127.0.0.1 only): 21xxx backends, 22xxx Fulcrum, 23xxx HAProxy, 24xxx nginx,
# 25xxx the floor forwarder (bench/tools/floor_forwarder.c, bytes phases only).
ECHO_PORT=21001 SINK_PORT=21002 HTTP_BACKEND_PORT=21080
declare -A BASE=([fulcrum]=22000 [haproxy]=23000 [nginx]=24000 [floor]=25000)
PROXIES=(fulcrum haproxy nginx)

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---- process bookkeeping: everything we start is stopped by PID --------------------------
PIDS=()
stop_pids() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_pids
  if [[ -n "${KEEP_WORK:-}" ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The machine may be shared (other people's builds): as root, every process of the benchmark
# runs at a higher priority (the same for all three proxies) so that they disturb it less.
NICE=()
if [[ "$(id -u)" -eq 0 ]]; then NICE=(nice -n "${BENCH_NICE:--10}"); fi

# start NAME CORE CMD...: runs CMD pinned to CORE in the background, logs to $WORK/NAME.log.
# nice and taskset exec CMD, so $! is the server's own PID.
start() {
  local name="$1" core="$2"
  shift 2
  "${NICE[@]}" taskset -c "$core" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  eval "PID_$name=$!"
}

# wait_port PORT PID: until something listens on 127.0.0.1:PORT (5 s at most, PID must live).
wait_port() {
  for _ in $(seq 1 50); do
    kill -0 "$2" 2>/dev/null || return 1
    [[ -n "$(ss -Hltn "sport = :$1")" ]] && return 0
    sleep 0.1
  done
  return 1
}

# nginx's master forks the worker that does the work: measure the worker.
nginx_worker() {
  local master="$1" child=""
  for _ in $(seq 1 50); do
    child="$(cat "/proc/$master/task/$master/children" 2>/dev/null | awk '{print $1}')"
    [[ -n "$child" ]] && break
    sleep 0.1
  done
  echo "$child"
}

# ---- set-up ------------------------------------------------------------------------------
if [[ -z "${NO_SETUP:-}" ]]; then bash "$ROOT/scripts/setup.sh" --bench >&2; fi

# 10,000 idle clients need 10,000 descriptors in the loader and in each proxy (20,000 for an L4
# session's two); Debian's default hard limit is 20,000 (systemd's 524,288 in a unit). Root may
# raise it, up to fs.nr_open; anyone else keeps theirs and gets fewer idle clients.
hard="$(ulimit -Hn)"
if [[ "$hard" != unlimited && "$hard" -lt 65536 ]]; then ulimit -Hn 65536 2>/dev/null || true; fi
HARD_NOFILE="$(ulimit -Hn)"
[[ "$HARD_NOFILE" == unlimited ]] && HARD_NOFILE=1048576
ulimit -n "$HARD_NOFILE"
IDLE_WANTED="${IDLE_SESSIONS:-10000}"
# An L4 session holds two descriptors in the proxy (client + backend), and HAProxy reserves
# two per connection in HTTP mode too (maxconn * 2 <= the open-file limit): stay under it.
MAXCONN=$(( (HARD_NOFILE - 100) / 2 ))
L4_IDLE=$(( (HARD_NOFILE - 200) / 2 < IDLE_WANTED ? (HARD_NOFILE - 200) / 200 * 100 : IDLE_WANTED ))
# An idle HTTP client holds one descriptor in Fulcrum and nginx (backend connections are
# pooled, not one per client), so they get the 10,000 whenever the limit leaves room for them;
# HAProxy refuses to start when maxconn * 2 exceeds the limit, so it gets at most MAXCONN - 50.
HTTP_IDLE=$(( HARD_NOFILE - 1000 < IDLE_WANTED ? (HARD_NOFILE - 1000) / 100 * 100 : IDLE_WANTED ))
HAPROXY_HTTP_IDLE=$(( MAXCONN - 50 < HTTP_IDLE ? (MAXCONN - 50) / 100 * 100 : HTTP_IDLE ))

TOOLS="$BUILD/tools"
mkdir -p "$TOOLS"
for t in l4_backend l4_load; do
  if [[ ! -x "$TOOLS/$t" || "$ROOT/bench/tools/$t.cpp" -nt "$TOOLS/$t" ]]; then
    g++ -std=c++20 -O2 -Wall -Wextra -o "$TOOLS/$t" "$ROOT/bench/tools/$t.cpp"
  fi
done
LOAD="$TOOLS/l4_load"
if [[ ! -x "$TOOLS/floor_forwarder" || "$ROOT/bench/tools/floor_forwarder.c" -nt "$TOOLS/floor_forwarder" ]]; then
  gcc -std=c11 -O2 -Wall -Wextra -o "$TOOLS/floor_forwarder" "$ROOT/bench/tools/floor_forwarder.c"
fi

FULCRUM="${FULCRUM_BIN:-}"
if [[ -z "$FULCRUM" ]]; then
  log "building Fulcrum (Release) in $BUILD"
  # Only the binary is needed here: tests and micro-benchmarks stay out of this build tree.
  if cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFULCRUM_BUILD_TESTS=OFF \
    -DFULCRUM_BUILD_BENCH=OFF >"$WORK/cmake.log" 2>&1 &&
    cmake --build "$BUILD" -j"$(nproc)" --target fulcrum >>"$WORK/cmake.log" 2>&1; then
    FULCRUM="$BUILD/fulcrum"
  else
    log "Fulcrum did not build (tail of the log below); its column will read n/a"
    tail -n 15 "$WORK/cmake.log" >&2
  fi
fi

# ---- configs -----------------------------------------------------------------------------
write_l4_configs() {
  local f=${BASE[fulcrum]} h=${BASE[haproxy]} n=${BASE[nginx]} maxconn=$MAXCONN
  cat >"$WORK/fulcrum-l4.yaml" <<EOF
workers: 1
log: { level: warn }
listeners:
  - { name: stream, listen: 127.0.0.1:$((f + 1)), protocol: tcp, pool: sink,
      limits: { max_connections: 100000 } }
  - { name: echo, listen: 127.0.0.1:$((f + 2)), protocol: tcp, pool: echo,
      limits: { max_connections: 100000 } }
pools:
  - { name: sink, backends: [{ address: 127.0.0.1:$SINK_PORT }] }
  - { name: echo, backends: [{ address: 127.0.0.1:$ECHO_PORT }] }
EOF
  cat >"$WORK/haproxy-l4.cfg" <<EOF
global
  nbthread 1
  maxconn $maxconn
defaults
  mode tcp
  maxconn $maxconn
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend stream
  bind 127.0.0.1:$((h + 1))
  default_backend sink
frontend echo
  bind 127.0.0.1:$((h + 2))
  default_backend echo
backend sink
  server s1 127.0.0.1:$SINK_PORT
backend echo
  server e1 127.0.0.1:$ECHO_PORT
EOF
  cat >"$WORK/nginx-l4.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile $HARD_NOFILE;
daemon off;
pid $WORK/nginx-l4.pid;
error_log $WORK/nginx-l4.err warn;
events { worker_connections $((HARD_NOFILE - 100)); }
stream {
  upstream sink { server 127.0.0.1:$SINK_PORT; }
  upstream echo { server 127.0.0.1:$ECHO_PORT; }
  server { listen 127.0.0.1:$((n + 1)) backlog=4096; proxy_pass sink; }
  server { listen 127.0.0.1:$((n + 2)) backlog=4096; proxy_pass echo; }
}
EOF
}

write_http_configs() {
  local f=${BASE[fulcrum]} h=${BASE[haproxy]} n=${BASE[nginx]} maxconn=$MAXCONN
  mkdir -p "$WORK/www" "$WORK/nginx-tmp"
  printf 'Hello, world!' >"$WORK/www/hello"  # 13 bytes
  head -c 65536 /dev/zero | tr '\0' 'x' >"$WORK/www/64k"
  chmod -R a+rX "$WORK/www"
  # The backend: a separate nginx serving static files, keep-alive without a request cap.
  cat >"$WORK/nginx-backend.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $HARD_NOFILE;
daemon off;
pid $WORK/nginx-backend.pid;
error_log $WORK/nginx-backend.err warn;
events { worker_connections $((HARD_NOFILE - 100)); }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-tmp/b-body;
  proxy_temp_path $WORK/nginx-tmp/b-proxy;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  default_type text/plain;
  server {
    listen 127.0.0.1:$HTTP_BACKEND_PORT backlog=4096;
    root $WORK/www;
  }
}
EOF
  cat >"$WORK/fulcrum-http.yaml" <<EOF
workers: 1
log: { level: warn }
listeners:
  - name: web
    listen: 127.0.0.1:$((f + 80))
    protocol: http
    pool: web
    limits: { max_connections: 100000 }
  - name: bytes
    listen: 127.0.0.1:$((f + 81))
    protocol: tcp
    pool: bytes
    limits: { max_connections: 100000 }
pools:
  - name: web
    backends: [{ address: 127.0.0.1:$HTTP_BACKEND_PORT }]
    keepalive: { max_idle_per_backend: 512 }
  - name: bytes
    backends: [{ address: 127.0.0.1:$HTTP_BACKEND_PORT }]
EOF
  # Upstream keep-alive on for all three, and the same header work for all three (what Fulcrum
  # does by default): X-Forwarded-For, -Proto and -Host to the backend, an X-Request-Id
  # generated per request (wrk sends none), sent to the backend and returned to the client.
  cat >"$WORK/haproxy-http.cfg" <<EOF
global
  nbthread 1
  maxconn $maxconn
defaults
  mode http
  maxconn $maxconn
  option forwardfor
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
frontend web
  bind 127.0.0.1:$((h + 80))${PEER_DEFER:+ defer-accept}
  unique-id-format %[uuid()]
  unique-id-header X-Request-Id
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-response set-header X-Request-Id %[unique-id]
  default_backend web
backend web
  http-reuse always
  server s1 127.0.0.1:$HTTP_BACKEND_PORT
frontend bytes
  mode tcp
  bind 127.0.0.1:$((h + 81))
  default_backend bytes
backend bytes
  mode tcp
  server s1 127.0.0.1:$HTTP_BACKEND_PORT
EOF
  cat >"$WORK/nginx-http.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile $HARD_NOFILE;
daemon off;
pid $WORK/nginx-http.pid;
error_log $WORK/nginx-http.err warn;
events { worker_connections $((HARD_NOFILE - 100)); }
http {
  access_log off;
  client_body_temp_path $WORK/nginx-tmp/p-body;
  proxy_temp_path $WORK/nginx-tmp/p-proxy;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  upstream web {
    server 127.0.0.1:$HTTP_BACKEND_PORT;
    keepalive 512;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:$((n + 80)) backlog=4096${PEER_DEFER:+ deferred};
    location / {
      proxy_pass http://web;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Request-Id \$request_id;
      add_header X-Request-Id \$request_id;
    }
  }
}
stream {
  server { listen 127.0.0.1:$((n + 81)) backlog=4096; proxy_pass 127.0.0.1:$HTTP_BACKEND_PORT; }
}
EOF
}

# start_proxies KIND (l4|http): starts the three proxies on the proxy core and records, per
# proxy, the PID to measure in MEASURE_PID[proxy] (empty when it could not start).
declare -A MEASURE_PID
start_proxies() {
  local kind="$1" port_off=1
  [[ "$kind" == http ]] && port_off=80
  MEASURE_PID=()
  if [[ -n "$FULCRUM" ]]; then
    start "fulcrum_$kind" $PROXY_CORE "$FULCRUM" -c "$WORK/fulcrum-$kind.yaml"
    local p; eval "p=\$PID_fulcrum_$kind"
    if wait_port $((BASE[fulcrum] + port_off)) "$p"; then MEASURE_PID[fulcrum]=$p; else
      log "Fulcrum did not start for $kind (log: $(tail -n 3 "$WORK/fulcrum_$kind.log" | tr '\n' ' '))"
    fi
  fi
  start "haproxy_$kind" $PROXY_CORE haproxy -db -f "$WORK/haproxy-$kind.cfg"
  eval "p=\$PID_haproxy_$kind"
  if wait_port $((BASE[haproxy] + port_off)) "$p"; then MEASURE_PID[haproxy]=$p; else
    log "HAProxy did not start: $(tail -n 3 "$WORK/haproxy_$kind.log" | tr '\n' ' ')"
  fi
  start "nginx_$kind" $PROXY_CORE nginx -p "$WORK" -e "$WORK/nginx-$kind.err" -c "$WORK/nginx-$kind.conf"
  eval "p=\$PID_nginx_$kind"
  if wait_port $((BASE[nginx] + port_off)) "$p"; then MEASURE_PID[nginx]="$(nginx_worker "$p")"; else
    log "nginx did not start: $(tail -n 3 "$WORK/nginx-$kind.err" 2>/dev/null | tr '\n' ' ')"
  fi
}

# record SECTION PHASE PROXY ROUND KEY=VALUE...
record() { echo "$*" >>"$RESULTS"; }

# stime_us PID: the kernel part of PID's CPU time (stime of /proc/PID/stat), in µs.
stime_us() { awk -v t="$(getconf CLK_TCK)" '{ printf "%d", $15 * 1e6 / t }' "/proc/$1/stat"; }

# bounded LOAD_CMD...: the load generator on the load core, killed if it overruns.
bounded() { timeout --kill-after=5 "$1" "${NICE[@]}" taskset -c $LOAD_CORE "${@:2}"; }

# ---- L4 ----------------------------------------------------------------------------------
run_l4() {
  log "L4: backends on core $LOAD_CORE, proxies on core $PROXY_CORE, ${PHASE_S}s per phase"
  write_l4_configs
  start backend_l4 $LOAD_CORE "$TOOLS/l4_backend" --echo $ECHO_PORT --sink $SINK_PORT --max-seconds 900
  wait_port $ECHO_PORT "$PID_backend_l4" || { log "l4_backend did not start"; exit 1; }
  start_proxies l4
  local limit=$(( ${PHASE_S%.*} + ${WARMUP%.*} + 30 )) px pid out round
  # Idle sessions first, on fresh processes: RSS growth is then the sessions' own, not
  # memory that earlier phases left in the allocator.
  for px in "${PROXIES[@]}"; do
    pid="${MEASURE_PID[$px]:-}"; [[ -z "$pid" ]] && continue
    log "L4 idle sessions via $px ($L4_IDLE sessions)"
    out="$(bounded 90 "$LOAD" idle --port $((BASE[$px] + 2)) --pid "$pid" --count "$L4_IDLE" \
      --hold 1 || true)"
    log "  $out"; record l4 idle "$px" 1 $out
    sleep 1  # let the closed sessions' TIME_WAIT/close work finish before the next proxy
  done
  for round in $(seq 1 "$ROUNDS"); do
    for px in "${PROXIES[@]}"; do
      pid="${MEASURE_PID[$px]:-}"; [[ -z "$pid" ]] && continue
      log "L4 throughput via $px, round $round (16 connections, 64 KiB writes)"
      out="$(bounded $limit "$LOAD" throughput --port $((BASE[$px] + 1)) --pid "$pid" \
        --conns 16 --chunk 65536 --seconds "$PHASE_S" --warmup "$WARMUP" || true)"
      log "  $out"; record l4 throughput "$px" "$round" $out
    done
  done
  for round in $(seq 1 "$ROUNDS"); do
    for px in "${PROXIES[@]}"; do
      pid="${MEASURE_PID[$px]:-}"; [[ -z "$pid" ]] && continue
      log "L4 connection rate via $px, round $round (32 concurrent loops, 64-byte exchange)"
      out="$(bounded $limit "$LOAD" connrate --port $((BASE[$px] + 2)) --pid "$pid" \
        --conns 32 --size 64 --seconds "$PHASE_S" --warmup "$WARMUP" || true)"
      log "  $out"; record l4 connrate "$px" "$round" $out
    done
  done
  if [[ -n "${PROFILE:-}" ]]; then
    for px in "${PROXIES[@]}"; do
      pid="${MEASURE_PID[$px]:-}"; [[ -z "$pid" ]] && continue
      profile_syscalls "$px" "$pid" throughput $((BASE[$px] + 1)) --conns 16 --chunk 65536
      profile_syscalls "$px" "$pid" connrate $((BASE[$px] + 2)) --conns 32 --size 64
    done
  fi
  stop_pids
}

# perf_start PID FILE: counts PID's syscalls (perf stat on the syscall tracepoints) in the
# background for one phase; after `wait $PERF_PID`, perf_report FILE UNITS prints them per unit.
PERF_PID=""
perf_start() {
  local events
  events="$(printf 'syscalls:sys_enter_%s,' read write readv writev recvfrom sendto recvmsg \
    sendmsg epoll_wait epoll_pwait epoll_ctl accept4 connect socket close shutdown setsockopt \
    getsockopt getsockname getpeername ioctl fcntl splice brk mmap munmap)"
  timeout 60 perf stat -x, -p "$1" -e "${events%,}" -o "$2" -- sleep "$(( ${PHASE_S%.*} + 1 ))" &
  PERF_PID=$!
}
perf_report() {
  awk -F, -v u="${2:-0}" '$1+0 > 0 && u > 0 { sub("syscalls:sys_enter_", "", $3);
      printf "%s=%.1f ", $3, $1 / u; t += $1 } END { if (u > 0) printf "total=%.1f", t / u }' "$1"
}

# profile_syscalls PROXY PID MODE PORT ARGS...: one run of the load tool with the proxy's
# syscalls counted, printed per MiB / per connection.
profile_syscalls() {
  local px="$1" pid="$2" phase="$3" port="$4" out unit
  shift 4
  command -v perf >/dev/null || { log "PROFILE: perf not installed (apt linux-perf)"; return; }
  perf_start "$pid" "$WORK/perf-$px-$phase.txt"
  out="$(bounded 60 "$LOAD" "$phase" --port "$port" --pid "$pid" --seconds "$PHASE_S" \
    --warmup 0 "$@" || true)"
  wait "$PERF_PID" || true
  unit="$(sed -n 's/^\(mib\|conns\)=\([0-9.]*\).*/\2/p' <<<"$out")"
  log "PROFILE $px $phase: $out"
  log "PROFILE $px $phase: syscalls per $([[ $phase == throughput ]] && echo MiB || echo connection):\
 $(perf_report "$WORK/perf-$px-$phase.txt" "$unit")"
}

# profile_wrk PROXY PID NAME CONNS PATH [wrk args]: the same for one wrk run, per request.
profile_wrk() {
  local px="$1" pid="$2" name="$3" conns="$4" path="$5" out requests
  shift 5
  command -v perf >/dev/null || { log "PROFILE: perf not installed (apt linux-perf)"; return; }
  perf_start "$pid" "$WORK/perf-$px-$name.txt"
  out="$(bounded 60 wrk -t1 -c"$conns" -d"${PHASE_S}s" --timeout 5s "$@" \
    "http://127.0.0.1:$((BASE[$px] + 80))$path" 2>&1 || true)"
  wait "$PERF_PID" || true
  requests="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")"
  log "PROFILE $px $name: $requests requests; syscalls per request:\
 $(perf_report "$WORK/perf-$px-$name.txt" "$requests")"
}

# ---- HTTP --------------------------------------------------------------------------------
# wrk_phase NAME CONNS PATH [wrk args...]; PORT_OFF=81 aims it at each proxy's TCP listener,
# WITH_FLOOR=1 adds the floor forwarder to the proxies taking turns.
wrk_phase() {
  local name="$1" conns="$2" path="$3" px pid before after round out sys0 sys1
  local turns=("${PROXIES[@]}")
  [[ -n "${WITH_FLOOR:-}" ]] && turns+=(floor)
  shift 3
  for round in $(seq 1 "$ROUNDS"); do
    for px in "${turns[@]}"; do
      pid="${MEASURE_PID[$px]:-}"; [[ -z "$pid" ]] && continue
      log "HTTP $name via $px, round $round ($conns connections, $path $*)"
      out="$WORK/wrk-$name-$px-$round.txt"
      before="$("$LOAD" stat --pid "$pid")"; sys0="$(stime_us "$pid")"
      bounded $(( ${PHASE_S%.*} + 30 )) wrk -t1 -c"$conns" -d"${PHASE_S}s" --timeout 5s \
        --latency "$@" "http://127.0.0.1:$((BASE[$px] + ${PORT_OFF:-80}))$path" >"$out" 2>&1 || true
      after="$("$LOAD" stat --pid "$pid")"; sys1="$(stime_us "$pid")"
      local cpu0="${before#cpu_us=}" cpu1="${after#cpu_us=}"
      cpu0="${cpu0%% *}" cpu1="${cpu1%% *}"
      log "  $(grep -E 'Requests/sec|^ +99%|Non-2xx|Socket errors' "$out" | tr -s ' ' | tr '\n' ';')"
      record http "$name" "$px" "$round" cpu_us=$(( cpu1 - cpu0 )) sys_us=$(( sys1 - sys0 )) "wrk=$out"
    done
  done
}

run_http() {
  log "HTTP: backend nginx + wrk on core $LOAD_CORE, proxies on core $PROXY_CORE"
  write_http_configs
  start backend_http $LOAD_CORE nginx -p "$WORK" -e "$WORK/nginx-backend.err" -c "$WORK/nginx-backend.conf"
  wait_port $HTTP_BACKEND_PORT "$PID_backend_http" || { log "backend nginx did not start"; exit 1; }
  start_proxies http
  # Idle clients first, on fresh processes (see run_l4).
  local px pid out count
  for px in "${PROXIES[@]}"; do
    pid="${MEASURE_PID[$px]:-}"; [[ -z "$pid" ]] && continue
    count=$HTTP_IDLE; [[ $px == haproxy ]] && count=$HAPROXY_HTTP_IDLE
    log "HTTP idle keep-alive clients via $px ($count clients)"
    out="$(bounded 90 "$LOAD" idle --http --path /hello --port $((BASE[$px] + 80)) --pid "$pid" \
      --count "$count" --hold 1 || true)"
    log "  $out"; record http idle "$px" 1 $out
    sleep 1
  done
  wrk_phase keepalive-64 64 /hello
  wrk_phase keepalive-256 256 /hello
  wrk_phase close-64 64 /hello -H "Connection: close"
  wrk_phase 64KiB-64 64 /64k
  # The floor: the same keep-alive load through each proxy's TCP mode, which forwards bytes
  # with no HTTP work (one client connection = one backend connection, same syscalls), and
  # through the floor forwarder, which does nothing else either (no event library).
  start floor_fwd $PROXY_CORE "$TOOLS/floor_forwarder" $((BASE[floor] + 81)) $HTTP_BACKEND_PORT 3600
  if wait_port $((BASE[floor] + 81)) "$PID_floor_fwd"; then MEASURE_PID[floor]=$PID_floor_fwd; fi
  WITH_FLOOR=1 PORT_OFF=81 wrk_phase bytes-64 64 /hello
  WITH_FLOOR=1 PORT_OFF=81 wrk_phase bytes-256 256 /hello
  PORT_OFF=81 wrk_phase bytes-64KiB 64 /64k
  if [[ -n "${PROFILE:-}" ]]; then
    for px in "${PROXIES[@]}"; do
      pid="${MEASURE_PID[$px]:-}"; [[ -z "$pid" ]] && continue
      profile_wrk "$px" "$pid" keepalive-64 64 /hello
      profile_wrk "$px" "$pid" close-64 64 /hello -H "Connection: close"
      profile_wrk "$px" "$pid" 64KiB-64 64 /64k
    done
  fi
  stop_pids
}

# ---- run and report ----------------------------------------------------------------------
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
log "load average before the run: $LOADAVG"
sections=()
case "$mode" in
  l4) run_l4; sections=(l4) ;;
  http) run_http; sections=(http) ;;
  all) run_l4; run_http; sections=(l4 http) ;;
esac

report_args=(--loadavg "$LOADAVG" --results "$RESULTS" --command "bash bench/run.sh $mode" --l4-idle "$L4_IDLE"
  --http-idle "$HTTP_IDLE" --haproxy-http-idle "$HAPROXY_HTTP_IDLE" --nofile "$HARD_NOFILE" --seconds "$PHASE_S" --rounds "$ROUNDS")
[[ -n "$FULCRUM" ]] && report_args+=(--fulcrum "$FULCRUM")
[[ -z "${NO_README:-}" && -z "${PEER_DEFER:-}" ]] && report_args+=(--readme "$ROOT/bench/README.md")
python3 "$ROOT/bench/tools/report.py" "${report_args[@]}" "${sections[@]}"
