#!/usr/bin/env bash
# Installs everything bpfproxy needs to build and test, from Debian's packages only.
# Idempotent: packages already present are left alone and apt is not called at all.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
  libcpprest-dev libssl-dev nlohmann-json3-dev libabsl-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev openssl
  iproute2 util-linux
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
