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
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
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
  if (name == LB_SERVICES_MAP_NAME || name == LB_MEMBERS_MAP_NAME) return capacity.services;
  if (name == LB_BACKENDS_MAP_NAME) return capacity.backends;
  return capacity.sockets;
}

// The info of the map pinned at |path|, or nullopt if nothing is pinned there.
absl::StatusOr<std::optional<bpf_map_info>> PinnedMapInfo(const std::string& path) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::nullopt;
    return Errno(absl::StrCat("open pinned map ", path), errno);
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) {
    return Errno(absl::StrCat("inspect pinned map ", path), errno);
  }
  return info;
}

// Every pin bpfproxy makes starts with this; --cleanup and the removal of
// stale pins touch nothing else, even in a shared bpffs directory.
constexpr absl::string_view kPinPrefix = "bpfp_";

std::vector<std::string> OurPins(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, kPinPrefix)) names.push_back(name);
  }
  return names;
}

// Takes a pinned link's program off its hook now (dropping the last
// reference would free it from a workqueue, a moment later), then unpins it.
absl::Status DetachAndUnpin(const std::string& path) {
  UniqueFd link(bpf_obj_get(path.c_str()));
  if (link.valid() && bpf_link_detach(link.get()) != 0 && errno != EINVAL) {
    return Errno(absl::StrCat("detach ", path), errno);
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno(absl::StrCat("unlink ", path), errno);
  return absl::OkStatus();
}

}  // namespace

absl::Status SocketLb::PrepareMaps(const SocketLbConfig& config) {
  bpf_map* map;
  bpf_object__for_each_map(map, skel_->obj) {
    std::string path = absl::StrCat(MapsDir(config.bpf_root), "/", bpf_map__name(map));
    absl::StatusOr<std::optional<bpf_map_info>> pinned = PinnedMapInfo(path);
    if (!pinned.ok()) return pinned.status();
    uint32_t size = ConfiguredSize(map, config.capacity);
    if (pinned->has_value()) {
      const bpf_map_info& info = **pinned;
      if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
          info.value_size != bpf_map__value_size(map)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "pinned map ", path, " has another layout (type ", info.type, ", key ", info.key_size, " B, value ",
            info.value_size, " B) than this binary's (type ", bpf_map__type(map), ", key ", bpf_map__key_size(map),
            " B, value ", bpf_map__value_size(map), " B); remove it with bpfproxy --cleanup"));
      }
      reused_maps_ = true;
      if (info.max_entries != size) {
        KLOG(WARNING) << "Pinned map " << path << " holds " << info.max_entries << " entries, configured " << size
                      << "; keeping the pinned map (run --cleanup to resize)";
        size = info.max_entries;
      }
    }
    if (int err = bpf_map__set_max_entries(map, size); err != 0) return Errno("set max_entries", err);
    // libbpf reuses the compatible map pinned there, or creates and pins one.
    if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0) return Errno("set pin path", err);
  }
  return absl::OkStatus();
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
      if (int err = bpf_link__update_program(old, prog); err != 0) return Errno(absl::StrCat("update link ", path), err);
      return absl::OkStatus();
    }
  }
  // New attachment first, old one off after: a socket in both cgroups is at
  // worst translated twice, and the second time its destination is a backend.
  bpf_link* link = bpf_program__attach_cgroup(prog, cgroup_fd);
  if (link == nullptr) {
    if (old != nullptr) bpf_link__destroy(old);
    return Errno(absl::StrCat("attach ", bpf_program__name(prog), " to ", cgroup_path_), errno);
  }
  links_.push_back(link);
  if (old != nullptr) {
    KLOG(WARNING) << "Moved " << bpf_program__name(prog) << " from another cgroup to " << cgroup_path_;
    bpf_link__destroy(old);
    if (absl::Status s = DetachAndUnpin(path); !s.ok()) return s;
  }
  if (int err = bpf_link__pin(link, path.c_str()); err != 0) return Errno(absl::StrCat("pin link ", path), err);
  return absl::OkStatus();
}

absl::Status SocketLb::RemoveStalePins() {
  absl::flat_hash_set<std::string> programs, maps;
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) programs.insert(bpf_program__name(prog));
  bpf_map* map;
  bpf_object__for_each_map(map, skel_->obj) maps.insert(bpf_map__name(map));
  // Links first: a program of an older version must leave its hook before
  // the maps it reads go.
  for (const std::string& name : OurPins(LinksDir(bpf_root_))) {
    if (programs.contains(name)) continue;
    KLOG(INFO) << "Detaching stale link " << name;
    if (absl::Status s = DetachAndUnpin(absl::StrCat(LinksDir(bpf_root_), "/", name)); !s.ok()) return s;
  }
  for (const std::string& name : OurPins(MapsDir(bpf_root_))) {
    if (maps.contains(name)) continue;
    KLOG(INFO) << "Removing stale map pin " << name;
    std::string path = absl::StrCat(MapsDir(bpf_root_), "/", name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno(absl::StrCat("unlink ", path), errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SocketLb>> SocketLb::Open(const SocketLbConfig& config) {
  libbpf_set_print(LibbpfPrint);
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
  if (!cgroup_fd.valid() || fstat(cgroup_fd.get(), &st) != 0) return Errno(absl::StrCat("open ", *cgroup), errno);

  lb->skel_ = lb_sock__open();
  if (lb->skel_ == nullptr) return Errno("open BPF skeleton", errno);
  if (absl::Status s = lb->PrepareMaps(config); !s.ok()) return s;
  if (int err = lb_sock__load(lb->skel_); err != 0) {
    return Errno("load BPF programs (see libbpf messages above)", err);
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
                                          fd_of(lb->skel_->maps.bpfp_memb_v1), capacity);
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
  // Links before maps: programs leave their hooks before their maps go.
  for (const std::string& name : OurPins(LinksDir(bpf_root))) {
    if (absl::Status s = DetachAndUnpin(absl::StrCat(LinksDir(bpf_root), "/", name)); !s.ok()) return s;
  }
  for (const std::string& name : OurPins(MapsDir(bpf_root))) {
    std::string path = absl::StrCat(MapsDir(bpf_root), "/", name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno(absl::StrCat("unlink ", path), errno);
  }
  // Directories go only if nothing else was put there.
  for (const std::string& dir : {LinksDir(bpf_root), MapsDir(bpf_root), bpf_root}) {
    if (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      KLOG(WARNING) << "Leaving " << dir << ": " << std::strerror(errno);
    }
  }
  KLOG(INFO) << "Removed the socket LB pins under " << bpf_root;
  return absl::OkStatus();
}

}  // namespace bpfproxy
