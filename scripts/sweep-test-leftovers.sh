#!/usr/bin/env bash
# Removes what crashed kernel tests or demos (e2e/topology.h) left behind:
#   - `ip netns` entries named bpfpt-*/bpfpdemo-* whose creating process is gone,
#   - empty cgroup v2 directories with those prefixes at the top of every cgroup2 mount,
#   - private mounts /tmp/bpfpt-bpffs-* and /tmp/bpfpt-cgroup2-* of dead processes,
#   - the working directories /tmp/bpfpt-nodeport-* (PKI, kubeconfig, daemon logs) of
#     dead processes (tests/e2e/nodeport_e2e_test.cc).
# Every name embeds the creating pid as "<prefix>...-<pid>-<suffix>", so objects of a
# process that is still running are never touched.
#
# Usage: scripts/sweep-test-leftovers.sh [-n]    (-n: only print what would be removed)
set -u

dry_run=0
[[ "${1:-}" == "-n" ]] && dry_run=1
status=0

act() {
  echo "+ $*"
  ((dry_run)) && return 0
  "$@" || status=1
}

# "bpfpt-pod0-1234-7" -> 1234: the second-to-last dash-separated field.
owner_pid() {
  local rest="${1%-*}"
  echo "${rest##*-}"
}

owner_is_dead() {
  local pid
  pid="$(owner_pid "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ ! -d "/proc/$pid" ]]
}

sweep_netns() {
  local name
  # Lines read "name" or "name (id: 3)".
  while read -r name _; do
    [[ "$name" =~ ^(bpfpt|bpfpdemo)- ]] || continue
    owner_is_dead "$name" && act ip netns delete "$name"
  done < <(ip netns list 2>/dev/null)
}

cgroup2_mounts() {
  awk '$3 == "cgroup2" { print $2 }' /proc/self/mounts
}

sweep_cgroups() {
  local mount dir
  while read -r mount; do
    for dir in "$mount"/bpfpt-* "$mount"/bpfpdemo-*; do
      [[ -d "$dir" ]] || continue
      # rmdir refuses a cgroup that still has processes or children: that is
      # what we want, a live member means someone still uses it.
      owner_is_dead "$(basename "$dir")" && act rmdir "$dir"
    done
  done < <(cgroup2_mounts)
}

# /tmp/bpfpt-bpffs-1234-Ab3xYz -> owner pid 1234 (the suffix is mkdtemp's).
sweep_mounts() {
  local dir
  for dir in /tmp/bpfpt-bpffs-* /tmp/bpfpt-cgroup2-*; do
    [[ -d "$dir" ]] || continue
    owner_is_dead "$(basename "$dir")" || continue
    # Lazy: nobody should use it any more, and a stale fd must not keep it mounted.
    mountpoint -q "$dir" && act umount -l "$dir"
    act rmdir "$dir"
  done
}

# /tmp/bpfpt-nodeport-1234-Ab3xYz -> owner pid 1234: plain directories of files a test
# mkdtemp'd for itself. Nothing is ever mounted there, so one found mounted is left alone,
# and --one-file-system keeps rm on /tmp's file system should something be mounted inside.
sweep_work_dirs() {
  local dir
  for dir in /tmp/bpfpt-nodeport-*; do
    [[ -d "$dir" && ! -L "$dir" ]] || continue
    owner_is_dead "$(basename "$dir")" || continue
    if mountpoint -q "$dir"; then
      echo "skipped $dir: a mount point, not a test's working directory" >&2
      status=1
      continue
    fi
    act rm -rf --one-file-system -- "$dir"
  done
}

sweep_netns
sweep_cgroups  # Before the mounts: a private cgroup2 mount may be the only way in.
sweep_mounts
sweep_work_dirs
exit "$status"
