#!/usr/bin/env bash
# The README's test command: builds, then runs every test with ctest.
# Kernel tests (ctest label "kernel") need root; without it they skip, unless
# BPFPROXY_REQUIRE_KERNEL_TESTS=1 (set by .ci/run), which makes that a failure
# and also checks here that kernel tests really ran.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
  exec sudo --preserve-env=BPFPROXY_REQUIRE_KERNEL_TESTS,BUILD_TYPE "$0" "$@"
fi
scripts/build.sh

junit="$PWD/build/ctest-junit.xml"
trap 'scripts/sweep-test-leftovers.sh || true' EXIT
status=0
ctest --test-dir build --output-on-failure -j2 --timeout 300 --output-junit "$junit" || status=$?

if [ "${BPFPROXY_REQUIRE_KERNEL_TESTS:-0}" = "1" ]; then
  kernel_listed=$(ctest --test-dir build -N -L kernel | sed -n 's/^Total Tests: //p')
  # A gtest skip prints "[  SKIPPED ]"; ctest still counts it as passed, so
  # look at the output itself.
  skipped=$(grep -c '\[  SKIPPED \]' "$junit" || true)
  echo "kernel tests: ${kernel_listed:-0} listed, ${skipped} skipped"
  if [ "${kernel_listed:-0}" -lt 1 ] || [ "$skipped" -ne 0 ]; then
    echo "FAIL: kernel tests did not all run" >&2
    status=1
  fi
fi
exit "$status"
