#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds Fulcrum twice and runs the whole test suite:
#   1. Release build: every unit test and every end-to-end test (the real binary against real
#      backends on 127.0.0.1).
#   2. ASan+UBSan build: every unit test and the end-to-end tests labelled `asan` (reload
#      leak check, byte pump, HTTP parsing and tunnels), with leak detection on.
#   3. The libFuzzer targets over the request and response paths (clang): built, and run for
#      30 s and 20 s.
# Usage: scripts/test.sh [--fast]   (--fast: skip the sanitizer and fuzz builds)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

jobs=$(nproc)
fast=0
[[ "${1:-}" == "--fast" ]] && fast=1

echo "== Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFULCRUM_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$jobs"
echo "== Release tests"
(cd build && ctest --output-on-failure -j"$jobs" -L unit && ctest --output-on-failure -L e2e)

if [[ $fast -eq 0 ]]; then
  echo "== ASan+UBSan build"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFULCRUM_SANITIZE=ON \
    -DFULCRUM_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== ASan+UBSan tests"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
  (cd build-asan && ctest --output-on-failure -j"$jobs" -L unit && ctest --output-on-failure -L asan)
fi
if [[ $fast -eq 0 ]]; then
  # The libFuzzer targets must keep building (each compiles its own list of sources), and a
  # short run over the seed corpus, with the whole-head cross-check on, must find nothing.
  echo "== Fuzz targets build, and a 30 s and a 20 s run"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DFULCRUM_FUZZ=ON \
    -DFULCRUM_BUILD_BENCH=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs" --target request_parser_fuzz response_parser_fuzz
  fuzz() {  # TARGET SECONDS SEEDS: new inputs go to a scratch directory, the seeds stay as they are
    local scratch
    scratch=$(mktemp -d)
    build-fuzz/tests/fuzz/"$1" -max_total_time="$2" -max_len=4096 -print_final_stats=1 \
      "$scratch" "$3" 2>&1 | tail -n 6  # a finding fails the pipe (pipefail), and the script
    rm -rf "$scratch"
  }
  fuzz request_parser_fuzz 30 tests/fuzz/corpus
  fuzz response_parser_fuzz 20 tests/fuzz/response_corpus
fi
echo "== all tests passed"
