#include "metrics/connection_stats.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bpfproxy/lb_abi.h"

namespace bpfproxy::metrics {
namespace {

absl::Status MapError(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat("bpf map ", LB_STATS_MAP_NAME, ": ", what, ": ", strerror(err)));
}

absl::Status CheckLayout(int fd) {
  bpf_map_info info;
  memset(&info, 0, sizeof(info));
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0) return MapError("get info", errno);
  if (info.type != BPF_MAP_TYPE_LRU_PERCPU_HASH && info.type != BPF_MAP_TYPE_PERCPU_HASH) {
    return absl::FailedPreconditionError(
        absl::StrCat(LB_STATS_MAP_NAME, ": not a per-CPU hash (type ", info.type, ")"));
  }
  if (info.key_size != sizeof(lb_stats_key) || info.value_size != sizeof(lb_stats_value)) {
    return absl::FailedPreconditionError(absl::StrCat(LB_STATS_MAP_NAME, ": key/value sizes ", info.key_size, "/",
                                                      info.value_size, ", expected ", sizeof(lb_stats_key), "/",
                                                      sizeof(lb_stats_value)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ConnectionCount>> ReadConnectionStats(int fd) {
  if (absl::Status status = CheckLayout(fd); !status.ok()) return status;
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return MapError("number of CPUs", -cpus);
  // Per-CPU values come 8-byte aligned per CPU; lb_stats_value is one u64.
  static_assert(sizeof(lb_stats_value) == 8);

  absl::btree_map<std::pair<uint8_t, uint32_t>, uint64_t> sums;
  uint32_t batch = 256;
  std::vector<lb_stats_key> keys;
  std::vector<uint64_t> values;
  // Batches walk the hash buckets: entries the LRU evicts meanwhile are
  // simply not seen, none is seen twice (unlike a get_next_key walk).
  uint64_t in_token = 0, out_token = 0;
  bool first = true;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  for (;;) {
    keys.resize(batch);
    values.resize(static_cast<size_t>(batch) * cpus);
    uint32_t count = batch;
    int err =
        bpf_map_lookup_batch(fd, first ? nullptr : &in_token, &out_token, keys.data(), values.data(), &count, &opts);
    if (err == -ENOSPC && count == 0) {
      batch *= 2;  // One bucket holds more entries than a batch: retry larger.
      continue;
    }
    if (err != 0 && err != -ENOENT) return MapError("lookup batch", -err);
    for (uint32_t i = 0; i < count; ++i) {
      uint64_t sum = 0;
      for (int cpu = 0; cpu < cpus; ++cpu) sum += values[static_cast<size_t>(i) * cpus + cpu];
      sums[{keys[i].view, keys[i].service_id}] += sum;
    }
    if (err == -ENOENT) break;  // The last batch.
    in_token = out_token;
    first = false;
  }
  std::vector<ConnectionCount> out;
  out.reserve(sums.size());
  for (const auto& [key, sum] : sums) out.push_back({key.first, key.second, sum});
  return out;
}

std::unique_ptr<BpfConnectionStats> BpfConnectionStats::FromPin(std::string pin_path) {
  return std::unique_ptr<BpfConnectionStats>(new BpfConnectionStats(std::move(pin_path), -1));
}

absl::StatusOr<std::unique_ptr<BpfConnectionStats>> BpfConnectionStats::FromFd(int map_fd) {
  int fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return MapError("dup", errno);
  return std::unique_ptr<BpfConnectionStats>(new BpfConnectionStats("", fd));
}

BpfConnectionStats::~BpfConnectionStats() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::vector<ConnectionCount>> BpfConnectionStats::Read() {
  if (fd_ >= 0) return ReadConnectionStats(fd_);
  int fd = bpf_obj_get(pin_path_.c_str());
  if (fd < 0) {
    if (errno == ENOENT) return std::vector<ConnectionCount>{};  // No per-packet datapath (yet).
    return MapError(absl::StrCat("open ", pin_path_), errno);
  }
  absl::StatusOr<std::vector<ConnectionCount>> counts = ReadConnectionStats(fd);
  close(fd);
  return counts;
}

}  // namespace bpfproxy::metrics
