#include "proxy/socket_lb.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "lb_sock.skel.h"
#include "proxy/log.h"
#include "proxy/mounts.h"

namespace bpfproxy {
namespace {

absl::Status Errno(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err < 0 ? -err : err)));
}

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && log::Verbosity() < 6) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  std::string line(buf);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (level == LIBBPF_WARN) {
    KLOG(WARNING) << line;  // libbpf prefixes its own lines.
  } else {
    KLOG(INFO) << line;
  }
  return n;
}

std::string MapsDir(const std::string& root) { return root + "/maps"; }
std::string LinksDir(const std::string& root) { return root + "/links"; }

uint32_t ConfiguredSize(const bpf_map* map, const LbMapCapacity& capacity) {
  absl::string_view name = bpf_map__name(map);
  if (name == LB_SERVICES_MAP_NAME) return capacity.services;
  if (name == LB_BACKENDS_MAP_NAME) return capacity.backends;
  return capacity.sockets;
}

// max_entries of the map pinned at |path|, or 0 if nothing is pinned there.
absl::StatusOr<uint32_t> PinnedMaxEntries(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    if (errno == ENOENT) return 0u;
    return Errno(absl::StrCat("open pinned map ", path), errno);
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  int ret = bpf_obj_get_info_by_fd(fd, &info, &len);
  int err = errno;
  close(fd);
  if (ret != 0) return Errno(absl::StrCat("inspect pinned map ", path), err);
  return info.max_entries;
}

}  // namespace

absl::Status SocketLb::PrepareMaps(const SocketLbConfig& config) {
  bpf_map* map;
  bpf_object__for_each_map(map, skel_->obj) {
    std::string path = absl::StrCat(MapsDir(config.bpf_root), "/", bpf_map__name(map));
    absl::StatusOr<uint32_t> pinned = PinnedMaxEntries(path);
    if (!pinned.ok()) return pinned.status();
    uint32_t size = ConfiguredSize(map, config.capacity);
    if (*pinned != 0) {
      reused_maps_ = true;
      if (*pinned != size) {
        KLOG(WARNING) << "Pinned map " << path << " holds " << *pinned << " entries, configured " << size
                      << "; keeping the pinned map (run --cleanup to resize)";
        size = *pinned;
      }
    }
    if (int err = bpf_map__set_max_entries(map, size); err != 0) return Errno("set max_entries", err);
    // libbpf reuses a compatible map pinned there, or creates and pins one.
    if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0) return Errno("set pin path", err);
  }
  return absl::OkStatus();
}

absl::Status SocketLb::AttachAll(int cgroup_fd, uint64_t cgroup_id) {
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    std::string path = absl::StrCat(LinksDir(bpf_root_), "/", bpf_program__name(prog));
    bpf_link* link = access(path.c_str(), F_OK) == 0 ? bpf_link__open(path.c_str()) : nullptr;
    if (link != nullptr) {
      bpf_link_info info{};
      uint32_t len = sizeof(info);
      bool same_cgroup = bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) == 0 &&
                         info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == cgroup_id;
      if (same_cgroup) {
        // Atomic swap: the hook is never without a program.
        if (int err = bpf_link__update_program(link, prog); err != 0) {
          bpf_link__destroy(link);
          return Errno(absl::StrCat("update link ", path), err);
        }
        links_.push_back(link);
        continue;
      }
      KLOG(WARNING) << "Pinned link " << path << " is attached elsewhere; moving it to " << cgroup_path_;
      bpf_link_detach(bpf_link__fd(link));  // Now, not when the kernel frees it.
      bpf_link__unpin(link);
      bpf_link__destroy(link);
    }
    link = bpf_program__attach_cgroup(prog, cgroup_fd);
    if (link == nullptr) return Errno(absl::StrCat("attach ", bpf_program__name(prog), " to ", cgroup_path_), errno);
    links_.push_back(link);
    if (int err = bpf_link__pin(link, path.c_str()); err != 0) return Errno(absl::StrCat("pin link ", path), err);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SocketLb>> SocketLb::Open(const SocketLbConfig& config) {
  libbpf_set_print(LibbpfPrint);
  std::unique_ptr<SocketLb> lb(new SocketLb());
  lb->bpf_root_ = config.bpf_root;
  for (const std::string& dir : {MapsDir(config.bpf_root), LinksDir(config.bpf_root)}) {
    if (absl::Status s = EnsureBpffs(dir); !s.ok()) return s;
  }
  absl::StatusOr<std::string> cgroup = ResolveCgroupRoot(config.cgroup_root);
  if (!cgroup.ok()) return cgroup.status();
  lb->cgroup_path_ = *cgroup;
  UniqueFd cgroup_fd(open(cgroup->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (!cgroup_fd.valid() || fstat(cgroup_fd.get(), &st) != 0) return Errno(absl::StrCat("open ", *cgroup), errno);

  lb->skel_ = lb_sock__open();
  if (lb->skel_ == nullptr) return Errno("open BPF skeleton", errno);
  if (absl::Status s = lb->PrepareMaps(config); !s.ok()) return s;
  if (int err = lb_sock__load(lb->skel_); err != 0) {
    return Errno("load BPF programs (see libbpf messages above)", err);
  }
  // On cgroup v2 a directory's inode number is its cgroup ID.
  if (absl::Status s = lb->AttachAll(cgroup_fd.get(), st.st_ino); !s.ok()) return s;

  LbMapCapacity capacity = config.capacity;
  capacity.services = bpf_map__max_entries(lb->skel_->maps.bpfp_svc_v1);
  capacity.backends = bpf_map__max_entries(lb->skel_->maps.bpfp_be_v1);
  capacity.sockets = bpf_map__max_entries(lb->skel_->maps.bpfp_rnat_v1);
  lb->maps_ = std::make_unique<BpfLbMaps>(UniqueFd(dup(bpf_map__fd(lb->skel_->maps.bpfp_svc_v1))),
                                          UniqueFd(dup(bpf_map__fd(lb->skel_->maps.bpfp_be_v1))), capacity);
  KLOG(INFO) << "Socket LB attached to " << lb->cgroup_path_ << ", pins under " << config.bpf_root
             << (lb->reused_maps_ ? " (reused pinned maps)" : " (new maps)");
  return lb;
}

SocketLb::~SocketLb() {
  // Closing our fds leaves pinned links attached and pinned maps alive.
  for (bpf_link* link : links_) bpf_link__destroy(link);
  if (skel_ != nullptr) lb_sock__destroy(skel_);
}

absl::Status SocketLb::Cleanup(const std::string& bpf_root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(LinksDir(bpf_root), ec)) {
    // Dropping the last reference to a link frees it from a workqueue, a
    // moment later; BPF_LINK_DETACH takes the program off the hook now.
    UniqueFd link(bpf_obj_get(entry.path().c_str()));
    if (link.valid() && bpf_link_detach(link.get()) != 0 && errno != EINVAL) {
      return Errno(absl::StrCat("detach ", entry.path().string()), errno);
    }
  }
  for (const std::string& dir : {LinksDir(bpf_root), MapsDir(bpf_root)}) {
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
      if (unlink(entry.path().c_str()) != 0 && errno != ENOENT) {
        return Errno(absl::StrCat("unlink ", entry.path().string()), errno);
      }
    }
    if (rmdir(dir.c_str()) != 0 && errno != ENOENT) return Errno(absl::StrCat("rmdir ", dir), errno);
  }
  if (rmdir(bpf_root.c_str()) != 0 && errno != ENOENT && errno != EBUSY) {
    return Errno(absl::StrCat("rmdir ", bpf_root), errno);
  }
  KLOG(INFO) << "Removed the socket LB pins under " << bpf_root;
  return absl::OkStatus();
}

}  // namespace bpfproxy
