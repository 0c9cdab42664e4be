// Read-only access to the maps a daemon pinned under <bpf-root>/maps/: open
// them, describe them, iterate them, and decode them into a
// DatapathSnapshot. Nothing here writes a map, so bpfproxyctl is safe to run
// next to a live daemon; what it reads is a snapshot only as far as the maps
// do not change while it iterates (fine for an inspection tool).
#ifndef BPFPROXY_PROXY_CTL_PINNED_MAPS_H_
#define BPFPROXY_PROXY_CTL_PINNED_MAPS_H_

#include <linux/bpf.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/ctl/datapath_snapshot.h"
#include "proxy/unique_fd.h"

namespace bpfproxy::ctl {

class PinnedMap {
 public:
  // NotFound when nothing is pinned at |path|; other errors name the path.
  static absl::StatusOr<PinnedMap> Open(const std::string& path);

  const std::string& path() const { return path_; }
  const bpf_map_info& info() const { return info_; }
  bool per_cpu() const;
  // "hash", "lru_hash", "lpm_trie", "percpu_hash", ...
  std::string type_name() const;

  // Every entry: |key| has info().key_size bytes; |value| has value_size
  // bytes, or, for a per-CPU map, one value per possible CPU, each padded to
  // 8 bytes. An entry deleted while iterating is skipped. A map that keeps
  // changing is iterated at most max_entries times, so this always ends.
  using Visitor = absl::FunctionRef<void(const uint8_t* key, const uint8_t* value)>;
  absl::Status ForEach(Visitor visit) const;
  // Keys only, without reading values: how many entries the map holds.
  size_t CountEntries() const;

 private:
  PinnedMap(std::string path, UniqueFd fd, bpf_map_info info)
      : path_(std::move(path)), fd_(std::move(fd)), info_(info) {}

  std::string path_;
  UniqueFd fd_;
  bpf_map_info info_;
};

// Usage of one pinned bpfp_* map.
struct MapUsage {
  std::string name;
  std::string type;
  size_t entries = 0;
  uint32_t capacity = 0;
  uint32_t key_size = 0, value_size = 0;
};
// Every bpfp_* map pinned under |bpf_root|: the known ones in the order of
// lb_abi.h, then any other bpfp_* pin by name. NotFound when not even the
// socket view's services map is there (not a daemon's --bpf-root).
absl::StatusOr<std::vector<MapUsage>> ReadMapUsage(const std::string& bpf_root);

// Both views, policies and counters. The socket view's maps must be there;
// the per-packet maps and the counters are read when present.
absl::StatusOr<DatapathSnapshot> ReadDatapath(const std::string& bpf_root);

// The ifindexes in bpfp_dev_v1: the devices the per-packet path is
// attached to. nullopt when the per-packet path is not loaded.
absl::StatusOr<std::optional<std::vector<uint32_t>>> ReadDeviceIfindexes(const std::string& bpf_root);

// bpfp_ct_v1's flows; nullopt when the per-packet path is not loaded.
absl::StatusOr<std::optional<ConntrackTable>> ReadConntrack(const std::string& bpf_root);

}  // namespace bpfproxy::ctl

#endif  // BPFPROXY_PROXY_CTL_PINNED_MAPS_H_
