// bpfproxy-demo: bpfproxy as it runs in a cluster, on this machine's
// kernel, with no cluster. It builds a node namespace with three pod
// namespaces (identity servers on :8080), starts the API server emulator
// (HTTPS, token) in the node namespace with an example Service, and runs the
// real daemon (build/bpfproxy) against it, attached to a cgroup the demo
// creates. Then it changes the Service through the API and shows what
// clients see. Everything it creates is removed on exit.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "e2e/apiserver/emulator.h"
#include "e2e/apiserver/test_pki.h"
#include "e2e/k8s_objects.h"
#include "e2e/process.h"
#include "e2e/topology.h"
#include "proxy/log.h"
#include "proxy/mounts.h"
#include "proxy/socket_lb.h"

namespace bpfproxy::e2e {
namespace {

constexpr char kNode[] = "demo-node";
constexpr int kConnections = 300;

#define DEMO_RETURN_IF_ERROR(expr)                                            \
  do {                                                                        \
    absl::Status _s = (expr);                                                 \
    if (!_s.ok()) {                                                           \
      std::fprintf(stderr, "demo: %s\n", std::string(_s.message()).c_str()); \
      return 1;                                                               \
    }                                                                         \
  } while (0)

std::string BackendOf(const std::string& line) {
  size_t start = line.find("backend=");
  if (start == std::string::npos) return line;
  start += 8;
  return line.substr(start, line.find(' ', start) - start);
}

// Where |n| TCP connections to ip:port land.
std::map<std::string, int> Spread(const IpAddress& ip, uint16_t port, int n) {
  std::map<std::string, int> hits;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<TcpClient> c = TcpClient::Connect(ip, port);
    absl::StatusOr<std::string> line = c.ok() ? c->Request() : c.status();
    hits[line.ok() ? BackendOf(*line) : absl::StrCat("error: ", strerror(ErrnoOf(line.status())))]++;
  }
  return hits;
}

void Print(const IpAddress& ip, uint16_t port, const std::map<std::string, int>& hits, int n) {
  std::printf("  %d TCP connections to %s:\n", n, HostPort(ip, port).c_str());
  for (const auto& [backend, count] : hits) {
    std::printf("    %-34s %4d  %s\n", backend.c_str(), count, std::string(count * 40 / n, '#').c_str());
  }
}

// Waits until connections reach exactly |want| (the daemon applies changes
// within its sync period), then prints the spread.
void ShowWhenApplied(const IpAddress& ip, uint16_t port, const std::set<std::string>& want) {
  absl::Time start = absl::Now();
  std::map<std::string, int> hits;
  for (absl::Time end = start + absl::Seconds(15); absl::Now() < end; absl::SleepFor(absl::Milliseconds(20))) {
    hits = Spread(ip, port, 10);
    std::set<std::string> got;
    for (const auto& [k, v] : hits) got.insert(k);
    if (got == want) break;
  }
  std::printf("  (in the datapath %s after the API change)\n",
              absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1))).c_str());
  Print(ip, port, Spread(ip, port, kConnections), kConnections);
}

std::string Pod(int i) { return HostPort(PodTopology::pod_ip4(i), 8080); }

nlohmann::json WebSlice(std::vector<EndpointSpec> endpoints) {
  return SliceObject("web", "web-abc12", {{"http", 8080, "TCP"}, {"dns", 8080, "UDP"}}, endpoints);
}

int RunDemo(const std::string& daemon_binary) {
  log::SetMinSeverity(log::Severity::kWarning);  // The demo's own output tells the story.
  auto bpffs = BpffsMount::Create();
  DEMO_RETURN_IF_ERROR(bpffs.status());
  auto cgroup = TestCgroup::Create(kDemoPrefix);
  DEMO_RETURN_IF_ERROR(cgroup.status());
  auto topology = PodTopology::Create({.pods = 3, .ports = {8080}, .prefix = std::string(kDemoPrefix)});
  DEMO_RETURN_IF_ERROR(topology.status());
  auto membership = (*cgroup)->Enter();
  DEMO_RETURN_IF_ERROR(membership.status());
  auto in_node = (*topology)->node().Enter();
  DEMO_RETURN_IF_ERROR(in_node.status());

  std::string dir = (*bpffs)->path() + "-demo", bpf_root = (*bpffs)->path() + "/bpfproxy";
  DEMO_RETURN_IF_ERROR(MakeDirs(dir));
  auto pki = apiserver::MakeTestPki(dir, {"127.0.0.1"});
  DEMO_RETURN_IF_ERROR(pki.status());
  apiserver::EmulatorConfig config;
  config.server.tls_cert_file = pki->server_cert;
  config.server.tls_key_file = pki->server_key;
  config.token = pki->token;
  config.initial_objects = {
      NodeObject(kNode, "zone-a"), ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}, {"dns", 53, "UDP"}}),
      WebSlice({Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), kNode),
                Ready(PodTopology::pod_ip4(2), "node-b")})};
  auto emulator = apiserver::ApiServerEmulator::Start(config);
  DEMO_RETURN_IF_ERROR(emulator.status());
  auto kubeconfig = pki->WriteKubeconfig((*emulator)->url());
  DEMO_RETURN_IF_ERROR(kubeconfig.status());
  std::vector<std::string> args = {daemon_binary,         "--kubeconfig=" + *kubeconfig,
                                   "--hostname-override=" + std::string(kNode), "--bpf-root=" + bpf_root,
                                   "--cgroup-root=" + (*cgroup)->path(), "--iptables-min-sync-period=100ms"};
  auto daemon = Process::Start(args, dir + "/daemon.log");
  DEMO_RETURN_IF_ERROR(daemon.status());

  IpAddress vip = IpAddress::Parse("10.96.0.10").value();
  std::printf("bpfproxy demo\n  node namespace %s; pods %s, %s, %s serving :8080\n", (*topology)->node().name().c_str(),
              Pod(0).c_str(), Pod(1).c_str(), Pod(2).c_str());
  std::printf("  API server emulator at %s (HTTPS, token); daemon: %s\n", (*emulator)->url().c_str(),
              absl::StrJoin(args, " ").c_str());

  std::printf("\n1. Service default/web: ClusterIP 10.96.0.10, http 80/TCP and dns 53/UDP, three ready endpoints\n");
  ShowWhenApplied(vip, 80, {Pod(0), Pod(1), Pod(2)});
  absl::StatusOr<UdpReply> udp = UdpExchange(vip, 53);
  if (udp.ok()) {
    std::printf("  UDP to 10.96.0.10:53: answered by %s, reply source %s\n", BackendOf(udp->line).c_str(),
                udp->source.c_str());
  }

  std::printf("\n2. The EndpointSlice loses %s\n", Pod(1).c_str());
  DEMO_RETURN_IF_ERROR((*emulator)->Apply(WebSlice({Ready(PodTopology::pod_ip4(0), kNode),
                                                    Ready(PodTopology::pod_ip4(2), "node-b")})).status());
  ShowWhenApplied(vip, 80, {Pod(0), Pod(2)});

  std::printf("\n3. %s is terminating, %s not ready: the terminating, still serving one takes the traffic\n",
              Pod(0).c_str(), Pod(2).c_str());
  DEMO_RETURN_IF_ERROR((*emulator)->Apply(WebSlice({Terminating(PodTopology::pod_ip4(0), kNode, true),
                                                    NotReady(PodTopology::pod_ip4(2), "node-b")})).status());
  ShowWhenApplied(vip, 80, {Pod(0)});

  std::printf("\n4. The daemon stops: the pinned datapath keeps serving with no daemon running\n");
  DEMO_RETURN_IF_ERROR((*emulator)->Apply(WebSlice({Ready(PodTopology::pod_ip4(0), kNode),
                                                    Ready(PodTopology::pod_ip4(1), kNode)})).status());
  ShowWhenApplied(vip, 80, {Pod(0), Pod(1)});
  (*daemon)->Signal(SIGTERM);
  std::printf("  daemon exited with %d\n", (*daemon)->Wait());
  Print(vip, 80, Spread(vip, 80, kConnections), kConnections);
  daemon = Process::Start(args, dir + "/daemon.log");
  DEMO_RETURN_IF_ERROR(daemon.status());
  std::printf("  daemon started again; it reuses the pins and rebuilds its state from them\n");

  std::printf("\n5. No endpoints left: connections are refused, like kube-proxy's REJECT\n");
  DEMO_RETURN_IF_ERROR((*emulator)->Apply(WebSlice({})).status());
  ShowWhenApplied(vip, 80, {absl::StrCat("error: ", strerror(ECONNREFUSED))});

  std::printf("\n6. Service deleted: 10.96.0.10 is an ordinary address again (unreachable here)\n");
  DEMO_RETURN_IF_ERROR((*emulator)->Delete("services", "default", "web").status());
  ShowWhenApplied(vip, 80, {absl::StrCat("error: ", strerror(EHOSTUNREACH))});

  std::printf("\nCleaning up: daemon, emulator, pins, namespaces, cgroup.\n");
  (*daemon)->Signal(SIGTERM);
  (*daemon)->Wait();
  emulator->reset();
  DEMO_RETURN_IF_ERROR(SocketLb::Cleanup(bpf_root));
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace bpfproxy::e2e

int main(int argc, char** argv) {
  // The daemon sits next to the demo in build/.
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string daemon = std::filesystem::path(self).parent_path() / "bpfproxy";
  return bpfproxy::e2e::RunDemo(daemon);
}
