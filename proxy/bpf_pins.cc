#include "proxy/bpf_pins.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bpfproxy/lb_abi.h"
#include "proxy/log.h"
#include "proxy/unique_fd.h"

namespace bpfproxy {
namespace {

// The kernel's answers to tc queries that find nothing: libbpf passes them
// on as warnings, but "no filter in our slot" and "no clsact yet" are
// normal answers when attaching and cleaning up.
bool IsExpectedTcAnswer(absl::string_view line) {
  return absl::StrContains(line, "Kernel error message: Cannot find specified filter chain") ||
         absl::StrContains(line, "Kernel error message: Filter with specified priority/protocol not found") ||
         absl::StrContains(line, "Kernel error message: Parent Qdisc doesn't exists") ||
         absl::StrContains(line, "Kernel error message: Exclusivity flag on, cannot modify");
}

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && log::Verbosity() < 6) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  std::string line(buf);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  if (IsExpectedTcAnswer(line)) {
    VLOG(4) << line;
  } else if (level == LIBBPF_WARN) {
    KLOG(WARNING) << line;  // libbpf prefixes its own lines.
  } else {
    KLOG(INFO) << line;
  }
  return n;
}

// The info of the map pinned at |path|, or nullopt if nothing is pinned there.
absl::StatusOr<std::optional<bpf_map_info>> PinnedMapInfo(const std::string& path) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::nullopt;
    return ErrnoError(absl::StrCat("open pinned map ", path), errno);
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) {
    return ErrnoError(absl::StrCat("inspect pinned map ", path), errno);
  }
  return info;
}

}  // namespace

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err < 0 ? -err : err)));
}

void RouteLibbpfLogs() { libbpf_set_print(LibbpfPrint); }

std::string MapsDir(absl::string_view bpf_root) { return absl::StrCat(bpf_root, "/maps"); }
std::string LinksDir(absl::string_view bpf_root) { return absl::StrCat(bpf_root, "/links"); }

const std::vector<std::string>& SocketLbMapNames() {
  static const auto* names = new std::vector<std::string>{LB_SERVICES_MAP_NAME, LB_BACKENDS_MAP_NAME,
                                                          LB_MEMBERS_MAP_NAME,  LB_REVNAT_MAP_NAME,
                                                          LB_AFFINITY_MAP_NAME, LB_STATS_MAP_NAME};
  return *names;
}

const std::vector<std::string>& TcLbMapNames() {
  static const auto* names = new std::vector<std::string>{
      LB_XSERVICES_MAP_NAME, LB_XBACKENDS_MAP_NAME, LB_XMEMBERS_MAP_NAME, LB_XPOLICY_MAP_NAME,
      LB_XSRC_MAP_NAME,      LB_CT_MAP_NAME,        LB_DEVICES_MAP_NAME,  LB_STATS_MAP_NAME};
  return *names;
}

absl::flat_hash_set<std::string> CurrentMapNames() {
  absl::flat_hash_set<std::string> names(SocketLbMapNames().begin(), SocketLbMapNames().end());
  names.insert(TcLbMapNames().begin(), TcLbMapNames().end());
  return names;
}

std::vector<std::string> TcOnlyMapNames() {
  absl::flat_hash_set<std::string> socket(SocketLbMapNames().begin(), SocketLbMapNames().end());
  std::vector<std::string> out;
  for (const std::string& name : TcLbMapNames()) {
    if (!socket.contains(name)) out.push_back(name);
  }
  return out;
}

std::vector<std::string> OurPins(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, kPinPrefix)) names.push_back(name);
  }
  return names;
}

absl::Status UnpinAll(const std::string& dir, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    std::string path = absl::StrCat(dir, "/", name);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError(absl::StrCat("unlink ", path), errno);
  }
  return absl::OkStatus();
}

absl::Status PinObjectMaps(bpf_object* obj, const std::string& maps_dir,
                           absl::FunctionRef<uint32_t(const bpf_map*)> size_of, bool* reused) {
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    // .rodata and .bss belong to one load: a pinned copy would carry
    // another run's constants.
    if (bpf_map__is_internal(map)) continue;
    std::string path = absl::StrCat(maps_dir, "/", bpf_map__name(map));
    absl::StatusOr<std::optional<bpf_map_info>> pinned = PinnedMapInfo(path);
    if (!pinned.ok()) return pinned.status();
    uint32_t size = size_of(map);
    if (pinned->has_value()) {
      const bpf_map_info& info = **pinned;
      if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
          info.value_size != bpf_map__value_size(map)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "pinned map ", path, " has another layout (type ", info.type, ", key ", info.key_size, " B, value ",
            info.value_size, " B) than this binary's (type ", bpf_map__type(map), ", key ", bpf_map__key_size(map),
            " B, value ", bpf_map__value_size(map), " B); remove it with bpfproxy --cleanup"));
      }
      *reused = true;
      if (info.max_entries != size) {
        KLOG(WARNING) << "Pinned map " << path << " holds " << info.max_entries << " entries, configured " << size
                      << "; keeping the pinned map (run --cleanup to resize)";
        size = info.max_entries;
      }
    }
    if (int err = bpf_map__set_max_entries(map, size); err != 0) return ErrnoError("set max_entries", err);
    // libbpf reuses the compatible map pinned there, or creates and pins one.
    if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0) return ErrnoError("set pin path", err);
  }
  return absl::OkStatus();
}

}  // namespace bpfproxy
