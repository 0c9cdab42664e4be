// Connections per frontend, counted by the BPF programs in the per-CPU LRU
// map bpfp_stat_v1 (lb_abi.h: key {service_id, view}, one u64 per CPU).
// Read at scrape time and summed across CPUs; the map holds at most
// LB_DEFAULT_STATS_ENTRIES entries, read in batches of a few syscalls.
#ifndef BPFPROXY_METRICS_CONNECTION_STATS_H_
#define BPFPROXY_METRICS_CONNECTION_STATS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace bpfproxy::metrics {

struct ConnectionCount {
  uint8_t view = 0;  // LB_VIEW_*
  uint32_t service_id = 0;
  uint64_t connections = 0;  // Summed over every CPU.
  bool operator==(const ConnectionCount&) const = default;
};

class ConnectionStatsSource {
 public:
  virtual ~ConnectionStatsSource() = default;
  // Every counter, sorted by (view, service_id). Thread-safe.
  virtual absl::StatusOr<std::vector<ConnectionCount>> Read() = 0;
};

// Reads the kernel map.
class BpfConnectionStats : public ConnectionStatsSource {
 public:
  // The pinned map at |pin_path| (<bpf-root>/maps/bpfp_stat_v1), opened on
  // each Read(): a map that does not exist (yet) reads as empty, and a
  // datapath reloaded with a new map is followed.
  static std::unique_ptr<BpfConnectionStats> FromPin(std::string pin_path);
  // A map already open (the fd is duplicated; the caller keeps its own).
  static absl::StatusOr<std::unique_ptr<BpfConnectionStats>> FromFd(int map_fd);
  ~BpfConnectionStats() override;

  absl::StatusOr<std::vector<ConnectionCount>> Read() override;

 private:
  BpfConnectionStats(std::string pin_path, int fd) : pin_path_(std::move(pin_path)), fd_(fd) {}
  std::string pin_path_;
  int fd_ = -1;  // FromFd only.
};

// Reads every counter of an open stats map |fd| (checked to be a per-CPU
// hash with lb_stats_key keys and u64 values).
absl::StatusOr<std::vector<ConnectionCount>> ReadConnectionStats(int fd);

}  // namespace bpfproxy::metrics

#endif  // BPFPROXY_METRICS_CONNECTION_STATS_H_
