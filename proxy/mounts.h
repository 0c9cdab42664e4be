// Finding and mounting the filesystems the datapath needs: bpffs for pins,
// cgroup v2 for the socket hooks.
#ifndef BPFPROXY_PROXY_MOUNTS_H_
#define BPFPROXY_PROXY_MOUNTS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bpfproxy {

// Makes sure |dir| lies on a bpffs and exists. If it does not, mounts bpffs
// at /sys/fs/bpf when |dir| is below it (the conventional place), else at
// |dir| itself.
absl::Status EnsureBpffs(absl::string_view dir);

// The cgroup v2 directory to attach to. A given |cgroup_root| must be a
// cgroup v2 directory. Empty: the root of the first cgroup2 mount in
// /proc/self/mountinfo, or cgroup2 mounted at |fallback_mount|.
absl::StatusOr<std::string> ResolveCgroupRoot(absl::string_view cgroup_root,
                                              absl::string_view fallback_mount = "/run/bpfproxy/cgroupv2");

// The first mount point of |fstype| in /proc/self/mountinfo, if any.
absl::StatusOr<std::string> FindMount(absl::string_view fstype);

// mkdir -p.
absl::Status MakeDirs(absl::string_view path, int mode = 0700);

}  // namespace bpfproxy

#endif  // BPFPROXY_PROXY_MOUNTS_H_
