#!/usr/bin/env bash
# Sets up, builds, starts the demo backends and runs Fulcrum on conf/demo.yaml in the
# foreground. Try, from another shell:
#   curl -i http://127.0.0.1:8080/        curl http://127.0.0.1:8080/api/x
#   nc 127.0.0.1 9000                     curl http://127.0.0.1:9901/metrics
#   kill -HUP <pid> (reload)              Ctrl-C (graceful shutdown)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFULCRUM_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target fulcrum
python3 scripts/demo_backends.py &
backends=$!
trap 'kill $backends 2>/dev/null; wait $backends 2>/dev/null || true' EXIT
sleep 0.5
echo "fulcrum: http on 127.0.0.1:8080, tcp on 127.0.0.1:9000, admin on 127.0.0.1:9901 (Ctrl-C stops)"
# Its own session, so that a Ctrl-C reaches it once, through the trap below, not twice (the
# terminal signals the whole foreground group; a second signal means "close every connection
# now").
setsid ./build/fulcrum -c conf/demo.yaml &
fulcrum=$!
# Ctrl-C, or a TERM sent to this script alone (kill <script pid>): Fulcrum shuts down
# gracefully, then the EXIT trap stops the backends. Without forwarding, bash would wait for
# Fulcrum before running any trap, and a TERM to the script would leave Fulcrum running.
trap 'kill -TERM $fulcrum 2>/dev/null || true' INT TERM
status=0
while kill -0 "$fulcrum" 2>/dev/null; do
  wait "$fulcrum" && status=0 || status=$?
done
exit "$status"
