// bpfproxy-demo: the socket-level load balancer on this machine's kernel,
// with no cluster. It builds a node namespace with three pod namespaces
// (identity servers on :8080), loads and attaches the real BPF programs to a
// cgroup it creates, programs a ClusterIP through the reconciler, and shows
// what clients see as the Service changes. Everything it creates is removed
// on exit.
#include <cerrno>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "e2e/topology.h"
#include "proxy/log.h"
#include "proxy/reconciler.h"
#include "proxy/socket_lb.h"

namespace bpfproxy::e2e {
namespace {

constexpr uint16_t kPodPort = 8080;
constexpr int kConnections = 300;

#define DEMO_RETURN_IF_ERROR(expr)                                                          \
  do {                                                                                      \
    absl::Status _s = (expr);                                                               \
    if (!_s.ok()) {                                                                         \
      std::fprintf(stderr, "demo: %s\n", std::string(_s.message()).c_str());                \
      return 1;                                                                             \
    }                                                                                       \
  } while (0)

std::string BackendOf(const std::string& line) {
  size_t start = line.find("backend=");
  if (start == std::string::npos) return line;
  start += 8;
  return line.substr(start, line.find(' ', start) - start);
}

void PrintMaps(LbMaps& maps) {
  absl::StatusOr<std::vector<std::string>> lines = DumpLines(maps);
  std::printf("  maps:\n");
  for (const std::string& line : lines.value_or(std::vector<std::string>{"(dump failed)"})) {
    std::printf("    %s\n", line.c_str());
  }
}

// Opens |n| TCP connections to ip:port and prints where they went.
void Spread(const IpAddress& ip, uint16_t port, int n) {
  std::map<std::string, int> hits;
  std::string peer;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<TcpClient> c = TcpClient::Connect(ip, port);
    absl::StatusOr<std::string> line = c.ok() ? c->Request() : c.status();
    if (c.ok() && peer.empty()) peer = c->PeerName().value_or("?");
    hits[line.ok() ? BackendOf(*line) : absl::StrCat("error: ", line.status().message())]++;
  }
  std::printf("  %d TCP connections to %s (getpeername() says %s):\n", n, HostPort(ip, port).c_str(),
              peer.empty() ? "-" : peer.c_str());
  for (const auto& [backend, count] : hits) {
    std::printf("    %-40s %4d  %s\n", backend.c_str(), count, std::string(count * 40 / n, '#').c_str());
  }
}

void Udp(const IpAddress& ip, uint16_t port) {
  absl::StatusOr<UdpReply> reply = UdpExchange(ip, port);
  if (reply.ok()) {
    std::printf("  UDP to %s: answered by %s, reply source %s\n", HostPort(ip, port).c_str(),
                BackendOf(reply->line).c_str(), reply->source.c_str());
  } else {
    std::printf("  UDP to %s: %s\n", HostPort(ip, port).c_str(), std::string(reply.status().message()).c_str());
  }
}

std::vector<L4Address> Pods(std::initializer_list<int> indexes, Protocol proto) {
  std::vector<L4Address> out;
  for (int i : indexes) out.push_back(L4Address{PodTopology::pod_ip4(i), kPodPort, proto});
  return out;
}

int RunDemo() {
  log::SetMinSeverity(log::Severity::kWarning);  // The demo's own output tells the story.
  auto bpffs = BpffsMount::Create();
  DEMO_RETURN_IF_ERROR(bpffs.status());
  auto cgroup = TestCgroup::Create(kDemoPrefix);
  DEMO_RETURN_IF_ERROR(cgroup.status());
  auto topology = PodTopology::Create({.pods = 3, .ports = {kPodPort}, .prefix = std::string(kDemoPrefix)});
  DEMO_RETURN_IF_ERROR(topology.status());
  SocketLbConfig config;
  config.bpf_root = (*bpffs)->path() + "/bpfproxy";
  config.cgroup_root = (*cgroup)->path();
  auto lb = SocketLb::Open(config);
  DEMO_RETURN_IF_ERROR(lb.status());
  auto reconciler = Reconciler::Create(&(*lb)->maps());
  DEMO_RETURN_IF_ERROR(reconciler.status());
  auto membership = (*cgroup)->Enter();
  DEMO_RETURN_IF_ERROR(membership.status());
  auto in_node = (*topology)->node().Enter();
  DEMO_RETURN_IF_ERROR(in_node.status());

  std::printf("bpfproxy demo: node namespace %s, pods %s %s %s on :%u, BPF attached to cgroup %s\n",
              (*topology)->node().name().c_str(), PodTopology::pod_ip4(0).ToString().c_str(),
              PodTopology::pod_ip4(1).ToString().c_str(), PodTopology::pod_ip4(2).ToString().c_str(), kPodPort,
              config.cgroup_root.c_str());
  IpAddress vip = IpAddress::Parse("10.96.0.10").value();
  L4Address tcp{vip, 80, Protocol::kTcp};
  L4Address udp{vip, 53, Protocol::kUdp};

  std::printf("\n1. ClusterIP 10.96.0.10 (TCP 80, UDP 53) with three backends\n");
  DesiredFrontends desired = {{tcp, Pods({0, 1, 2}, Protocol::kTcp)}, {udp, Pods({0, 1, 2}, Protocol::kUdp)}};
  SyncResult result = (*reconciler)->Sync(desired);
  if (!result.ok()) DEMO_RETURN_IF_ERROR(result.failed.begin()->second);
  PrintMaps((*lb)->maps());
  Spread(vip, 80, kConnections);
  Udp(vip, 53);

  std::printf("\n2. Scale down to two backends (only the difference is written)\n");
  DEMO_RETURN_IF_ERROR((*reconciler)->Upsert(tcp, Pods({0, 2}, Protocol::kTcp)));
  PrintMaps((*lb)->maps());
  Spread(vip, 80, kConnections);

  std::printf("\n3. No ready endpoints: connections are refused, like kube-proxy's REJECT\n");
  DEMO_RETURN_IF_ERROR((*reconciler)->Upsert(tcp, {}));
  Spread(vip, 80, 5);

  std::printf("\n4. Service deleted: 10.96.0.10 is an ordinary address again (unreachable here)\n");
  DEMO_RETURN_IF_ERROR((*reconciler)->Remove(tcp));
  Spread(vip, 80, 5);

  std::printf("\nCleaning up: detaching programs, removing pins, namespaces and cgroup.\n");
  reconciler->reset();
  lb->reset();
  DEMO_RETURN_IF_ERROR(SocketLb::Cleanup(config.bpf_root));
  return 0;
}

}  // namespace
}  // namespace bpfproxy::e2e

int main() { return bpfproxy::e2e::RunDemo(); }
