#include "proxy/mounts.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proxy/log.h"

namespace bpfproxy {
namespace {

absl::Status Errno(absl::string_view what, absl::string_view path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// statfs of |path|, or of its nearest existing ancestor.
absl::StatusOr<long> FsTypeOfNearest(std::string path) {
  struct statfs st;
  while (statfs(path.c_str(), &st) != 0) {
    if (errno != ENOENT || path.empty() || path == "/") return Errno("statfs", path);
    size_t slash = path.find_last_of('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return static_cast<long>(st.f_type);
}

}  // namespace

absl::Status MakeDirs(absl::string_view path, int mode) {
  if (!absl::StartsWith(path, "/")) return absl::InvalidArgumentError(absl::StrCat("not an absolute path: ", path));
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    if (mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) return Errno("mkdir", prefix);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FindMount(absl::string_view fstype) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "36 35 98:0 / /mnt rw,noatime master:1 - cgroup2 none rw": the fields
    // after " - " are fstype, source, options; field 5 is the mount point.
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::vector<std::string> head = absl::StrSplit(line.substr(0, dash), ' ');
    std::vector<std::string> tail = absl::StrSplit(line.substr(dash + 3), ' ');
    if (head.size() >= 5 && !tail.empty() && tail[0] == fstype) return head[4];
  }
  return absl::NotFoundError(absl::StrCat("no ", fstype, " mount in /proc/self/mountinfo"));
}

absl::Status EnsureBpffs(absl::string_view dir) {
  if (!absl::StartsWith(dir, "/")) return absl::InvalidArgumentError(absl::StrCat("not an absolute path: ", dir));
  absl::StatusOr<long> type = FsTypeOfNearest(std::string(dir));
  if (!type.ok()) return type.status();
  if (*type != BPF_FS_MAGIC) {
    std::string mount_point =
        absl::StartsWith(dir, "/sys/fs/bpf/") || dir == "/sys/fs/bpf" ? "/sys/fs/bpf" : std::string(dir);
    if (absl::Status s = MakeDirs(mount_point); !s.ok()) return s;
    if (mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700") != 0) return Errno("mount bpffs on", mount_point);
    KLOG(INFO) << "Mounted bpffs on " << mount_point;
  }
  return MakeDirs(dir);
}

absl::StatusOr<std::string> ResolveCgroupRoot(absl::string_view cgroup_root, absl::string_view fallback_mount) {
  if (!cgroup_root.empty()) {
    struct statfs st;
    std::string path(cgroup_root);
    if (statfs(path.c_str(), &st) != 0) return Errno("statfs", path);
    if (st.f_type != CGROUP2_SUPER_MAGIC) {
      return absl::InvalidArgumentError(absl::StrCat("--cgroup-root ", path, " is not a cgroup v2 directory"));
    }
    return path;
  }
  absl::StatusOr<std::string> mounted = FindMount("cgroup2");
  if (mounted.ok()) return mounted;
  std::string path(fallback_mount);
  if (absl::Status s = MakeDirs(path); !s.ok()) return s;
  if (mount("none", path.c_str(), "cgroup2", 0, nullptr) != 0) return Errno("mount cgroup2 on", path);
  KLOG(INFO) << "Mounted cgroup2 on " << path;
  return path;
}

}  // namespace bpfproxy
