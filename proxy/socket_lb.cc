#include "proxy/socket_lb.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lb_sock.skel.h"
#include "proxy/bpf_pins.h"
#include "proxy/log.h"
#include "proxy/mounts.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71  // Linux 5.14; older libc headers lack it.
#endif

namespace bpfproxy {
namespace {

uint32_t ConfiguredSize(const bpf_map* map, const LbMapCapacity& capacity) {
  absl::string_view name = bpf_map__name(map);
  if (name == LB_SERVICES_MAP_NAME || name == LB_MEMBERS_MAP_NAME) return capacity.services;
  if (name == LB_BACKENDS_MAP_NAME) return capacity.backends;
  // Shared with the tc object, which sizes it the same.
  if (name == LB_STATS_MAP_NAME) return LB_DEFAULT_STATS_ENTRIES;
  return capacity.sockets;
}

// Takes a pinned link's program off its hook now (dropping the last
// reference would free it from a workqueue, a moment later), then unpins it.
absl::Status DetachAndUnpin(const std::string& path) {
  UniqueFd link(bpf_obj_get(path.c_str()));
  if (link.valid() && bpf_link_detach(link.get()) != 0 && errno != EINVAL) {
    return ErrnoError(absl::StrCat("detach ", path), errno);
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError(absl::StrCat("unlink ", path), errno);
  return absl::OkStatus();
}

}  // namespace

absl::Status SocketLb::PrepareMaps(const SocketLbConfig& config) {
  return PinObjectMaps(
      skel_->obj, MapsDir(config.bpf_root), [&](const bpf_map* map) { return ConfiguredSize(map, config.capacity); },
      &reused_maps_);
}

absl::Status SocketLb::AttachOne(bpf_program* prog, int cgroup_fd, uint64_t cgroup_id) {
  std::string path = absl::StrCat(LinksDir(bpf_root_), "/", bpf_program__name(prog));
  bpf_link* old = access(path.c_str(), F_OK) == 0 ? bpf_link__open(path.c_str()) : nullptr;
  if (old != nullptr) {
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    bool same_cgroup = bpf_obj_get_info_by_fd(bpf_link__fd(old), &info, &len) == 0 &&
                       info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == cgroup_id;
    if (same_cgroup) {
      // Atomic swap: the hook is never without a program.
      links_.push_back(old);
      if (int err = bpf_link__update_program(old, prog); err != 0) return ErrnoError(absl::StrCat("update link ", path), err);
      return absl::OkStatus();
    }
  }
  // New attachment first, old one off after: a socket in both cgroups is at
  // worst translated twice, and the second time its destination is a backend.
  bpf_link* link = bpf_program__attach_cgroup(prog, cgroup_fd);
  if (link == nullptr) {
    if (old != nullptr) bpf_link__destroy(old);
    return ErrnoError(absl::StrCat("attach ", bpf_program__name(prog), " to ", cgroup_path_), errno);
  }
  links_.push_back(link);
  if (old != nullptr) {
    KLOG(WARNING) << "Moved " << bpf_program__name(prog) << " from another cgroup to " << cgroup_path_;
    bpf_link__destroy(old);
    if (absl::Status s = DetachAndUnpin(path); !s.ok()) return s;
  }
  if (int err = bpf_link__pin(link, path.c_str()); err != 0) return ErrnoError(absl::StrCat("pin link ", path), err);
  return absl::OkStatus();
}

absl::Status SocketLb::RemoveStalePins() {
  absl::flat_hash_set<std::string> programs;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) programs.insert(bpf_program__name(prog));
  // Both objects pin into maps/: the tc object's maps are not stale.
  const absl::flat_hash_set<std::string> maps = CurrentMapNames();
  // Links first: a program of an older version must leave its hook before
  // the maps it reads go.
  for (const std::string& name : OurPins(LinksDir(bpf_root_))) {
    if (programs.contains(name)) continue;
    KLOG(INFO) << "Detaching stale link " << name;
    if (absl::Status s = DetachAndUnpin(absl::StrCat(LinksDir(bpf_root_), "/", name)); !s.ok()) return s;
  }
  std::vector<std::string> stale;
  for (const std::string& name : OurPins(MapsDir(bpf_root_))) {
    if (maps.contains(name)) continue;
    KLOG(INFO) << "Removing stale map pin " << name;
    stale.push_back(name);
  }
  return UnpinAll(MapsDir(bpf_root_), stale);
}

absl::StatusOr<std::unique_ptr<SocketLb>> SocketLb::Open(const SocketLbConfig& config) {
  RouteLibbpfLogs();
  if (!absl::StartsWith(config.bpf_root, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("--bpf-root must be an absolute path, not ", config.bpf_root));
  }
  std::unique_ptr<SocketLb> lb(new SocketLb());
  lb->bpf_root_ = config.bpf_root;
  if (absl::Status s = EnsureBpffs(config.bpf_root); !s.ok()) return s;
  for (const std::string& dir : {MapsDir(config.bpf_root), LinksDir(config.bpf_root)}) {
    if (absl::Status s = MakeDirs(dir); !s.ok()) return s;
  }
  absl::StatusOr<std::string> cgroup = ResolveCgroupRoot(config.cgroup_root);
  if (!cgroup.ok()) return cgroup.status();
  lb->cgroup_path_ = *cgroup;
  UniqueFd cgroup_fd(open(cgroup->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (!cgroup_fd.valid() || fstat(cgroup_fd.get(), &st) != 0) return ErrnoError(absl::StrCat("open ", *cgroup), errno);

  lb->skel_ = lb_sock__open();
  if (lb->skel_ == nullptr) return ErrnoError("open BPF skeleton", errno);
  if (absl::Status s = lb->PrepareMaps(config); !s.ok()) return s;
  lb->skel_->rodata->host_netns_cookie = config.netns_cookie;
  if (int err = lb_sock__load(lb->skel_); err != 0) {
    return ErrnoError("load BPF programs (see libbpf messages above)", err);
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, lb->skel_->obj) {
    // On cgroup v2 a directory's inode number is its cgroup ID.
    if (absl::Status s = lb->AttachOne(prog, cgroup_fd.get(), st.st_ino); !s.ok()) return s;
  }
  if (absl::Status s = lb->RemoveStalePins(); !s.ok()) return s;

  LbMapCapacity capacity = config.capacity;
  capacity.services = bpf_map__max_entries(lb->skel_->maps.bpfp_svc_v1);
  capacity.backends = bpf_map__max_entries(lb->skel_->maps.bpfp_be_v1);
  capacity.sockets = bpf_map__max_entries(lb->skel_->maps.bpfp_rnat_v1);
  auto fd_of = [](const bpf_map* map) { return UniqueFd(fcntl(bpf_map__fd(map), F_DUPFD_CLOEXEC, 0)); };
  lb->maps_ = std::make_unique<BpfLbMaps>(fd_of(lb->skel_->maps.bpfp_svc_v1), fd_of(lb->skel_->maps.bpfp_be_v1),
                                          fd_of(lb->skel_->maps.bpfp_memb_v1), capacity,
                                          LbMapNames::SocketView());
  KLOG(INFO) << "Socket LB attached to " << lb->cgroup_path_ << ", pins under " << config.bpf_root
             << (lb->reused_maps_ ? " (reused pinned maps)" : " (new maps)")
             << (config.netns_cookie != 0 ? ", host network namespace only" : "");
  return lb;
}

SocketLb::~SocketLb() {
  // Closing our fds leaves pinned links attached and pinned maps alive.
  for (bpf_link* link : links_) bpf_link__destroy(link);
  if (skel_ != nullptr) lb_sock__destroy(skel_);
}

absl::Status SocketLb::Cleanup(const std::string& bpf_root) {
  // Links before maps: programs leave their hooks before their maps go.
  for (const std::string& name : OurPins(LinksDir(bpf_root))) {
    if (absl::Status s = DetachAndUnpin(absl::StrCat(LinksDir(bpf_root), "/", name)); !s.ok()) return s;
  }
  if (absl::Status s = UnpinAll(MapsDir(bpf_root), OurPins(MapsDir(bpf_root))); !s.ok()) return s;
  // Directories go only if nothing else was put there.
  for (const std::string& dir : {LinksDir(bpf_root), MapsDir(bpf_root), bpf_root}) {
    if (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      KLOG(WARNING) << "Leaving " << dir << ": " << std::strerror(errno);
    }
  }
  KLOG(INFO) << "Removed the socket LB pins under " << bpf_root;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CurrentNetnsCookie() {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) fd.reset(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError("socket for the network namespace cookie", errno);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(fd.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
    return ErrnoError("getsockopt(SO_NETNS_COOKIE) (host-only socket LB needs Linux 5.14 or newer)", errno);
  }
  return cookie;
}

}  // namespace bpfproxy
