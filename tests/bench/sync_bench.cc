// Programs N Services x 10 backends into the real kernel maps and reports
// the time of the full sync and of one endpoint change at each N. The point:
// one change costs the same at every N (a handful of map writes), where
// iptables rewrites rule sets that grow with the cluster.
//
//   sudo build/bpfproxy-bench-sync [N ...]     (default: 1000 10000 100000)
//
// Needs root: it mounts a private bpffs and creates its own cgroup, both
// removed at exit. No traffic is sent.
#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "e2e/topology.h"
#include "proxy/reconciler.h"
#include "proxy/socket_lb.h"

namespace bpfproxy {
namespace {

constexpr int kBackendsPerService = 10;
constexpr int kChanges = 200;

IpAddress V4(uint32_t host_order) { return IpAddress::FromV4(htonl(host_order)); }

// Service i: 100.64.0.0 + i, port 80; its backends 10.0.0.0 + i*10 + j + 1.
DesiredFrontends MakeServices(int n) {
  DesiredFrontends desired;
  for (int i = 0; i < n; ++i) {
    std::vector<L4Address>& backends = desired[L4Address{V4(0x64400000u + i), 80, Protocol::kTcp}];
    for (int j = 0; j < kBackendsPerService; ++j) {
      backends.push_back(L4Address{V4(0x0a000001u + i * kBackendsPerService + j), 8080, Protocol::kTcp});
    }
  }
  return desired;
}

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

long MaxRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

int RunOne(int n, const std::string& cgroup_root, const std::string& bpf_root) {
  SocketLbConfig config;
  config.bpf_root = bpf_root;
  config.cgroup_root = cgroup_root;
  auto lb = SocketLb::Open(config);
  if (!lb.ok()) return std::fprintf(stderr, "%s\n", std::string(lb.status().message()).c_str()), 1;
  auto reconciler = Reconciler::Create(&(*lb)->maps());
  if (!reconciler.ok()) return 1;

  DesiredFrontends desired = MakeServices(n);
  auto start = std::chrono::steady_clock::now();
  SyncResult result = (*reconciler)->Sync(desired);
  double full = Seconds(std::chrono::steady_clock::now() - start);
  if (!result.ok()) {
    std::fprintf(stderr, "sync failed: %s\n", std::string(result.failed.begin()->second.message()).c_str());
    return 1;
  }

  // One endpoint change: one backend of a random Service replaced by a new
  // address (1 backend write, 1 slot write, 1 backend delete).
  std::mt19937 rng(42);
  std::vector<double> changes;
  for (int c = 0; c < kChanges; ++c) {
    int i = static_cast<int>(rng() % n);
    auto it = desired.find(L4Address{V4(0x64400000u + i), 80, Protocol::kTcp});
    it->second[rng() % kBackendsPerService] = L4Address{V4(0x0b000001u + c), 8080, Protocol::kTcp};
    auto t0 = std::chrono::steady_clock::now();
    absl::Status s = (*reconciler)->Upsert(it->first, it->second);
    changes.push_back(Seconds(std::chrono::steady_clock::now() - t0));
    if (!s.ok()) return std::fprintf(stderr, "%s\n", std::string(s.message()).c_str()), 1;
  }
  std::sort(changes.begin(), changes.end());
  std::printf("%9d %11zu %11zu %10.3f s %12.1f us %12.1f us %9ld MiB\n", n, (*reconciler)->service_entries(),
              (*reconciler)->backend_entries(), full, changes[changes.size() / 2] * 1e6,
              changes[changes.size() * 99 / 100] * 1e6, MaxRssMiB());
  std::fflush(stdout);
  lb->reset();
  return SocketLb::Cleanup(bpf_root).ok() ? 0 : 1;
}

}  // namespace
}  // namespace bpfproxy

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {1000, 10000, 100000};
  auto bpffs = bpfproxy::e2e::BpffsMount::Create();
  auto cgroup = bpfproxy::e2e::TestCgroup::Create(bpfproxy::e2e::kTestPrefix);
  if (!bpffs.ok() || !cgroup.ok()) {
    std::fprintf(stderr, "needs root: %s\n",
                 std::string((bpffs.ok() ? cgroup.status() : bpffs.status()).message()).c_str());
    return 1;
  }
  std::printf("%9s %11s %11s %12s %15s %15s %13s\n", "services", "svc entries", "backends", "full sync",
              "change p50", "change p99", "max RSS");
  for (int n : sizes) {
    if (bpfproxy::RunOne(n, (*cgroup)->path(), (*bpffs)->path() + "/bench") != 0) return 1;
  }
  return 0;
}
