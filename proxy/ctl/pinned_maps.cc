#include "proxy/ctl/pinned_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "proxy/bpf_pins.h"

namespace bpfproxy::ctl {
namespace {

std::string PinPath(const std::string& bpf_root, absl::string_view name) {
  return absl::StrCat(MapsDir(bpf_root), "/", name);
}

// The pinned map |name|, or nullopt when it is not pinned.
absl::StatusOr<std::optional<PinnedMap>> OpenIfPinned(const std::string& bpf_root, absl::string_view name) {
  absl::StatusOr<PinnedMap> map = PinnedMap::Open(PinPath(bpf_root, name));
  if (absl::IsNotFound(map.status())) return std::nullopt;
  if (!map.ok()) return map.status();
  return std::optional<PinnedMap>(*std::move(map));
}

// A map the tool cannot read as the ABI says is another version's: refuse
// to guess rather than print garbage.
absl::Status CheckLayout(const PinnedMap& map, size_t key_size, size_t value_size) {
  if (map.info().key_size == key_size && map.info().value_size == value_size) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(map.path(), " has key/value sizes ", map.info().key_size, "/",
                                                    map.info().value_size, ", this bpfproxyctl expects ", key_size,
                                                    "/", value_size, " (another bpfproxy version?)"));
}

template <typename K, typename V>
absl::StatusOr<std::vector<std::pair<K, V>>> ReadAll(const PinnedMap& map) {
  if (absl::Status s = CheckLayout(map, sizeof(K), sizeof(V)); !s.ok()) return s;
  std::vector<std::pair<K, V>> out;
  absl::Status s = map.ForEach([&](const uint8_t* key, const uint8_t* value) {
    std::pair<K, V> entry;
    std::memcpy(&entry.first, key, sizeof(K));
    std::memcpy(&entry.second, value, sizeof(V));
    out.push_back(entry);
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ProgrammedView> ReadView(const std::string& bpf_root, const char* services_name,
                                        const char* backends_name) {
  absl::StatusOr<PinnedMap> services = PinnedMap::Open(PinPath(bpf_root, services_name));
  if (!services.ok()) return services.status();
  absl::StatusOr<PinnedMap> backends = PinnedMap::Open(PinPath(bpf_root, backends_name));
  if (!backends.ok()) return backends.status();
  absl::StatusOr<ServiceEntries> service_entries = ReadAll<lb_service_key, lb_service_value>(*services);
  if (!service_entries.ok()) return service_entries.status();
  absl::StatusOr<std::vector<std::pair<uint32_t, lb_backend_value>>> backend_entries =
      ReadAll<uint32_t, lb_backend_value>(*backends);
  if (!backend_entries.ok()) return backend_entries.status();
  return BuildView(*service_entries, BackendEntries(backend_entries->begin(), backend_entries->end()),
                   backends_name);
}

absl::StatusOr<Policies> ReadPolicies(const std::string& bpf_root) {
  absl::StatusOr<std::optional<PinnedMap>> policy_map = OpenIfPinned(bpf_root, LB_XPOLICY_MAP_NAME);
  if (!policy_map.ok()) return policy_map.status();
  std::vector<std::pair<lb_frontend_key, lb_policy_value>> policies;
  if (policy_map->has_value()) {
    auto entries = ReadAll<lb_frontend_key, lb_policy_value>(**policy_map);
    if (!entries.ok()) return entries.status();
    policies = *std::move(entries);
  }
  absl::StatusOr<std::optional<PinnedMap>> range_map = OpenIfPinned(bpf_root, LB_XSRC_MAP_NAME);
  if (!range_map.ok()) return range_map.status();
  std::vector<lb_src_range_key> ranges;
  if (range_map->has_value()) {
    auto entries = ReadAll<lb_src_range_key, uint8_t>(**range_map);
    if (!entries.ok()) return entries.status();
    for (const auto& [key, value] : *entries) ranges.push_back(key);
  }
  return BuildPolicies(policies, ranges);
}

absl::StatusOr<std::optional<ConnectionCounts>> ReadConnectionCounts(const std::string& bpf_root) {
  absl::StatusOr<std::optional<PinnedMap>> map = OpenIfPinned(bpf_root, LB_STATS_MAP_NAME);
  if (!map.ok()) return map.status();
  if (!map->has_value()) return std::nullopt;
  const PinnedMap& stats = **map;
  if (absl::Status s = CheckLayout(stats, sizeof(lb_stats_key), sizeof(lb_stats_value)); !s.ok()) return s;
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return absl::InternalError("cannot tell the number of possible CPUs");
  std::vector<std::pair<lb_stats_key, std::vector<uint64_t>>> entries;
  absl::Status s = stats.ForEach([&](const uint8_t* key, const uint8_t* values) {
    auto& entry = entries.emplace_back();
    std::memcpy(&entry.first, key, sizeof(lb_stats_key));
    // Per-CPU values are laid out 8-byte aligned, one per possible CPU.
    for (int cpu = 0; cpu < cpus; ++cpu) {
      lb_stats_value v;
      std::memcpy(&v, values + cpu * sizeof(uint64_t), sizeof(v));
      entry.second.push_back(v.connections);
    }
  });
  if (!s.ok()) return s;
  return std::optional<ConnectionCounts>(BuildConnectionCounts(entries));
}

// The names of every bpfp_* pin in |bpf_root|'s maps directory, the known
// ones first in lb_abi.h's order.
std::vector<std::string> PinnedMapNames(const std::string& bpf_root) {
  std::vector<std::string> pinned = OurPins(MapsDir(bpf_root));
  absl::c_sort(pinned);
  std::vector<std::string> ordered;
  absl::flat_hash_set<std::string> seen;
  for (const auto* names : {&SocketLbMapNames(), &TcLbMapNames()}) {
    for (const std::string& name : *names) {
      if (absl::c_linear_search(pinned, name) && seen.insert(name).second) ordered.push_back(name);
    }
  }
  for (const std::string& name : pinned) {
    if (seen.insert(name).second) ordered.push_back(name);
  }
  return ordered;
}

}  // namespace

absl::StatusOr<PinnedMap> PinnedMap::Open(const std::string& path) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) {
    const int err = errno;
    std::string message = absl::StrCat("cannot open ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EPERM || err == EACCES) return absl::PermissionDeniedError(absl::StrCat(message, " (run as root)"));
    return absl::InternalError(message);
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) {
    return absl::InternalError(absl::StrCat("cannot inspect ", path, ": ", std::strerror(errno)));
  }
  return PinnedMap(path, std::move(fd), info);
}

bool PinnedMap::per_cpu() const {
  switch (info_.type) {
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
      return true;
    default:
      return false;
  }
}

std::string PinnedMap::type_name() const {
  const char* name = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(info_.type));
  return name != nullptr ? name : absl::StrCat("type ", info_.type);
}

absl::Status PinnedMap::ForEach(Visitor visit) const {
  size_t value_bytes = info_.value_size;
  if (per_cpu()) {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return absl::InternalError("cannot tell the number of possible CPUs");
    value_bytes = ((info_.value_size + 7) / 8 * 8) * cpus;
  }
  std::vector<uint8_t> key(info_.key_size), next(info_.key_size), value(value_bytes);
  // A hash map restarts from its first key when the previous one was deleted
  // meanwhile: the bound keeps a busy LRU map from keeping us here forever.
  const void* previous = nullptr;
  for (size_t visited = 0; visited < info_.max_entries; ++visited) {
    if (bpf_map_get_next_key(fd_.get(), previous, next.data()) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return absl::InternalError(absl::StrCat("iterate ", path_, ": ", std::strerror(errno)));
    }
    key.swap(next);
    previous = key.data();
    if (bpf_map_lookup_elem(fd_.get(), key.data(), value.data()) != 0) {
      if (errno == ENOENT) continue;  // Deleted since get_next_key.
      return absl::InternalError(absl::StrCat("read ", path_, ": ", std::strerror(errno)));
    }
    visit(key.data(), value.data());
  }
  return absl::OkStatus();
}

size_t PinnedMap::CountEntries() const {
  std::vector<uint8_t> key(info_.key_size), next(info_.key_size);
  size_t n = 0;
  for (const void* previous = nullptr;
       n < info_.max_entries && bpf_map_get_next_key(fd_.get(), previous, next.data()) == 0; previous = key.data()) {
    key.swap(next);
    ++n;
  }
  return n;
}

absl::StatusOr<std::vector<MapUsage>> ReadMapUsage(const std::string& bpf_root) {
  // The socket view's services map is always there: its absence means the
  // path is not a daemon's --bpf-root, which deserves an error, not an
  // empty table.
  if (absl::StatusOr<PinnedMap> services = PinnedMap::Open(PinPath(bpf_root, LB_SERVICES_MAP_NAME));
      !services.ok()) {
    return absl::Status(services.status().code(),
                        absl::StrCat(services.status().message(), " (is --bpf-root the daemon's?)"));
  }
  std::vector<MapUsage> out;
  for (const std::string& name : PinnedMapNames(bpf_root)) {
    absl::StatusOr<std::optional<PinnedMap>> map = OpenIfPinned(bpf_root, name);
    if (!map.ok()) return map.status();
    if (!map->has_value()) continue;  // Unpinned meanwhile.
    const PinnedMap& m = **map;
    out.push_back(MapUsage{.name = name,
                           .type = m.type_name(),
                           .entries = m.CountEntries(),
                           .capacity = m.info().max_entries,
                           .key_size = m.info().key_size,
                           .value_size = m.info().value_size});
  }
  return out;
}

absl::StatusOr<DatapathSnapshot> ReadDatapath(const std::string& bpf_root) {
  DatapathSnapshot snapshot;
  absl::StatusOr<ProgrammedView> socket = ReadView(bpf_root, LB_SERVICES_MAP_NAME, LB_BACKENDS_MAP_NAME);
  if (!socket.ok()) {
    return absl::Status(socket.status().code(),
                        absl::StrCat(socket.status().message(), " (is --bpf-root the daemon's?)"));
  }
  snapshot.socket = *std::move(socket);
  absl::StatusOr<std::optional<PinnedMap>> xsvc = OpenIfPinned(bpf_root, LB_XSERVICES_MAP_NAME);
  if (!xsvc.ok()) return xsvc.status();
  if (xsvc->has_value()) {
    absl::StatusOr<ProgrammedView> external = ReadView(bpf_root, LB_XSERVICES_MAP_NAME, LB_XBACKENDS_MAP_NAME);
    if (!external.ok()) return external.status();
    snapshot.external = *std::move(external);
    absl::StatusOr<Policies> policies = ReadPolicies(bpf_root);
    if (!policies.ok()) return policies.status();
    snapshot.policies = *std::move(policies);
  }
  absl::StatusOr<std::optional<ConnectionCounts>> counts = ReadConnectionCounts(bpf_root);
  if (!counts.ok()) return counts.status();
  snapshot.connections = *std::move(counts);
  return snapshot;
}

absl::StatusOr<std::optional<std::vector<uint32_t>>> ReadDeviceIfindexes(const std::string& bpf_root) {
  absl::StatusOr<std::optional<PinnedMap>> map = OpenIfPinned(bpf_root, LB_DEVICES_MAP_NAME);
  if (!map.ok()) return map.status();
  if (!map->has_value()) return std::nullopt;
  auto entries = ReadAll<uint32_t, lb_device_value>(**map);
  if (!entries.ok()) return entries.status();
  std::vector<uint32_t> ifindexes;
  for (const auto& [ifindex, value] : *entries) ifindexes.push_back(ifindex);
  absl::c_sort(ifindexes);
  return std::optional<std::vector<uint32_t>>(std::move(ifindexes));
}

absl::StatusOr<std::optional<ConntrackTable>> ReadConntrack(const std::string& bpf_root) {
  absl::StatusOr<std::optional<PinnedMap>> map = OpenIfPinned(bpf_root, LB_CT_MAP_NAME);
  if (!map.ok()) return map.status();
  if (!map->has_value()) return std::nullopt;
  auto entries = ReadAll<lb_ct_key, lb_ct_value>(**map);
  if (!entries.ok()) return entries.status();
  return std::optional<ConntrackTable>(BuildConntrack(*entries));
}

}  // namespace bpfproxy::ctl
