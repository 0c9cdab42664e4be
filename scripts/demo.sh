#!/usr/bin/env bash
# The README's run command: builds, then runs the socket-LB demo on this
# machine's kernel inside namespaces and a cgroup it creates (root needed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
  exec sudo --preserve-env=BPFPROXY_REQUIRE_KERNEL_TESTS,BUILD_TYPE "$0" "$@"
fi
scripts/build.sh
exec build/bpfproxy-demo
