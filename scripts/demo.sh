#!/usr/bin/env bash
# The README's run command: builds, then runs the socket-LB demo on this
# machine's kernel inside namespaces and a cgroup it creates (root needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec build/bpfproxy-demo
