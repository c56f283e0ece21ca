#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the demo need (apt only).
# Idempotent: when every package is already installed it touches nothing (no apt-get update),
# so running it again is fast.
#   scripts/setup.sh           build + test + demo dependencies
#   scripts/setup.sh --bench   also HAProxy, nginx (with the stream module) and wrk for bench/run.sh
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libuv1-dev node-llhttp libssl-dev libyaml-cpp-dev prometheus-cpp-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 curl ca-certificates netcat-openbsd  # curl and nc: the demo's instructions
  openssl  # certificates for the e2e test of a listener with tls: set
  python3-websockets  # a real WebSocket client and server for tests/e2e/test_ws_interop.py
  clang libclang-rt-14-dev  # the libFuzzer target
)

for arg in "$@"; do
  case "$arg" in
    --bench)
      # nginx-light has no stream module built in; Debian ships it as the dynamic module
      # libnginx-mod-stream, which loads itself through /etc/nginx/modules-enabled.
      packages+=(haproxy nginx-light libnginx-mod-stream wrk curl)
      ;;
    -h | --help)
      sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup.sh: unknown argument: $arg (expected --bench)" >&2
      exit 2
      ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  # dpkg-query reports "install ok installed" only for a fully installed package.
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup.sh: not root and sudo is not available; install as root: ${missing[*]}" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup.sh: done"
