// BpfConnectionStats on real per-CPU LRU hash maps: per-CPU values summed,
// more entries than one batch holds, the layout checked, a missing pin read
// as empty. The maps are created by the test (not pinned, not attached to
// anything) and freed when their fds close.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <vector>

#include "bpfproxy/lb_abi.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/connection_stats.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::metrics {
namespace {

class MapFd {
 public:
  explicit MapFd(int fd) : fd_(fd) {}
  ~MapFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

MapFd CreateMap(bpf_map_type type, uint32_t key_size, uint32_t value_size, uint32_t entries) {
  return MapFd(bpf_map_create(type, "bpfp_stat_test", key_size, value_size, entries, nullptr));
}

// Writes |per_cpu(cpu)| on every CPU for (view, id).
void Put(int fd, uint8_t view, uint32_t id, const std::function<uint64_t(int)>& per_cpu) {
  lb_stats_key key{};
  key.service_id = id;
  key.view = view;
  std::vector<uint64_t> values(libbpf_num_possible_cpus());
  for (size_t cpu = 0; cpu < values.size(); ++cpu) values[cpu] = per_cpu(static_cast<int>(cpu));
  ASSERT_EQ(bpf_map_update_elem(fd, &key, values.data(), BPF_ANY), 0);
}

TEST(ConnectionStatsKernelTest, SumsEveryCpuOfEveryEntry) {
  REQUIRE_KERNEL_TEST_PREREQUISITES();
  MapFd map = CreateMap(BPF_MAP_TYPE_LRU_PERCPU_HASH, sizeof(lb_stats_key), sizeof(lb_stats_value), 4096);
  ASSERT_GE(map.get(), 0) << strerror(errno);
  const int cpus = libbpf_num_possible_cpus();
  ASSERT_GT(cpus, 0);
  // More entries than one batch (256), in both views.
  constexpr uint32_t kEntries = 700;
  for (uint32_t id = 1; id <= kEntries; ++id) {
    Put(map.get(), id % 2 ? LB_VIEW_SOCKET : LB_VIEW_EXTERNAL, id, [id](int cpu) { return id * 10 + cpu; });
  }
  ASSERT_OK_AND_ASSIGN(auto stats, BpfConnectionStats::FromFd(map.get()));
  ASSERT_OK_AND_ASSIGN(std::vector<ConnectionCount> counts, stats->Read());
  ASSERT_EQ(counts.size(), kEntries);
  const uint64_t cpu_sum = static_cast<uint64_t>(cpus) * (cpus - 1) / 2;
  for (const ConnectionCount& c : counts) {
    ASSERT_EQ(c.view, c.service_id % 2 ? LB_VIEW_SOCKET : LB_VIEW_EXTERNAL);
    ASSERT_EQ(c.connections, static_cast<uint64_t>(c.service_id) * 10 * cpus + cpu_sum) << c.service_id;
  }
  // Sorted by view, then ID.
  EXPECT_EQ(counts.front(), (ConnectionCount{LB_VIEW_SOCKET, 1, 10ull * cpus + cpu_sum}));
  EXPECT_EQ(counts.back().view, LB_VIEW_EXTERNAL);
  EXPECT_EQ(counts.back().service_id, kEntries);

  // Values move between reads.
  Put(map.get(), LB_VIEW_SOCKET, 1, [](int) { return 100; });
  ASSERT_OK_AND_ASSIGN(counts, stats->Read());
  EXPECT_EQ(counts.front().connections, 100ull * cpus);
}

TEST(ConnectionStatsKernelTest, EmptyMapReadsEmpty) {
  REQUIRE_KERNEL_TEST_PREREQUISITES();
  MapFd map = CreateMap(BPF_MAP_TYPE_LRU_PERCPU_HASH, sizeof(lb_stats_key), sizeof(lb_stats_value), 16);
  ASSERT_GE(map.get(), 0);
  ASSERT_OK_AND_ASSIGN(std::vector<ConnectionCount> counts, ReadConnectionStats(map.get()));
  EXPECT_TRUE(counts.empty());
}

TEST(ConnectionStatsKernelTest, RefusesAMapOfAnotherLayout) {
  REQUIRE_KERNEL_TEST_PREREQUISITES();
  MapFd wrong_type = CreateMap(BPF_MAP_TYPE_HASH, sizeof(lb_stats_key), sizeof(lb_stats_value), 16);
  MapFd wrong_key = CreateMap(BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, sizeof(lb_stats_value), 16);
  ASSERT_GE(wrong_type.get(), 0);
  ASSERT_GE(wrong_key.get(), 0);
  EXPECT_EQ(ReadConnectionStats(wrong_type.get()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadConnectionStats(wrong_key.get()).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ConnectionStatsKernelTest, MissingPinReadsEmpty) {
  REQUIRE_KERNEL_TEST_PREREQUISITES();
  auto stats = BpfConnectionStats::FromPin("/sys/fs/bpf/bpfproxy-test-does-not-exist/maps/bpfp_stat_v1");
  ASSERT_OK_AND_ASSIGN(std::vector<ConnectionCount> counts, stats->Read());
  EXPECT_TRUE(counts.empty());
}

}  // namespace
}  // namespace bpfproxy::metrics
