// End to end, per packet: two nodes (e2e/cluster_topology.h), each running
// the real daemon (build/bpfproxy) inside its own network namespace with its
// own bpffs and cgroup, both watching one API server emulator that listens on
// the LAN. External clients on the LAN reach NodePorts, LoadBalancer IPs and
// externalIPs. Every assertion is about what a client or a backend observed:
// which backend answered, which source address it saw, which address the
// answer came from, or how the connection failed.
#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "e2e/apiserver/emulator.h"
#include "e2e/apiserver/test_pki.h"
#include "e2e/cluster_topology.h"
#include "e2e/k8s_objects.h"
#include "e2e/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/bpf_lb_maps.h"
#include "proxy/reconciler.h"
#include "tests/e2e/apiserver_test_client.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/proxy/http_test_client.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using e2e::ClusterTopology;
using e2e::EndpointSpec;
using e2e::ErrnoOf;
using e2e::HostPort;
using e2e::IpFamily;
using e2e::NetNs;
using e2e::PortSpec;
using e2e::ServiceSpec;
using e2e::TcpClient;
using e2e::UdpClient;
using e2e::apiserver::ApiServerEmulator;
using T = e2e::ClusterTopology;

constexpr uint16_t kPodPort = 8080;
constexpr uint16_t kTcpPort = 80;  // Service ports, also on LB IPs and externalIPs.
constexpr uint16_t kUdpPort = 53;
constexpr uint16_t kTcpNodePort = 30080;
constexpr uint16_t kUdpNodePort = 30053;
constexpr uint16_t kHealthCheckNodePort = 32000;
// How long a client waits for an answer that must not come (a drop).
constexpr absl::Duration kDropTimeout = absl::Milliseconds(300);
// How long a change may take to reach both nodes' datapaths.
constexpr absl::Duration kPatience = absl::Seconds(15);

IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }
const IpAddress kLbIp4 = Ip("192.168.60.10");
const IpAddress kLbIp6 = Ip("fd00:60::10");
const IpAddress kExternalIp4 = Ip("192.168.60.20");
const IpAddress kExternalIp6 = Ip("fd00:60::20");
const IpAddress kLoopback4 = Ip("127.0.0.1");

const char* NodeName(int n) { return n == 0 ? "node-a" : "node-b"; }

// A pod of the topology: node 0 ("node-a", A) or 1 ("node-b", B), and its index.
struct Pod {
  int node;
  int index;
};
constexpr Pod kA0{0, 0}, kA1{0, 1}, kB0{1, 0}, kB1{1, 1};

IpAddress PodIp(Pod pod, IpFamily family) {
  return family == IpFamily::kIpv4 ? T::pod_ip4(pod.node, pod.index) : T::pod_ip6(pod.node, pod.index);
}
std::string PodId(Pod pod, IpFamily family = IpFamily::kIpv4) { return HostPort(PodIp(pod, family), kPodPort); }
IpAddress NodeIp(int n, IpFamily family) { return family == IpFamily::kIpv4 ? T::node_ip4(n) : T::node_ip6(n); }
IpAddress BridgeIp(int n, IpFamily family) { return family == IpFamily::kIpv4 ? T::bridge_ip4(n) : T::bridge_ip6(n); }
IpAddress ClientIp(int c, IpFamily family) { return family == IpFamily::kIpv4 ? T::client_ip4(c) : T::client_ip6(c); }
const char* FamilyName(IpFamily family) { return family == IpFamily::kIpv4 ? "IPv4" : "IPv6"; }

// ---------------------------------------------------------------------------
// What a client observes.

// "error: <strerror>" for a failed exchange: the errno is what tells a
// refusal (RST, ICMP port unreachable) from a drop (timeout).
std::string ErrorOf(const absl::Status& status) {
  const int error = ErrnoOf(status);
  return absl::StrCat("error: ", error != 0 ? std::strerror(error) : std::string(status.message()));
}
const std::string kRefused = absl::StrCat("error: ", std::strerror(ECONNREFUSED));
const std::string kTimedOut = absl::StrCat("error: ", std::strerror(ETIMEDOUT));

// One exchange with an identity server through whatever translates it.
struct Seen {
  std::string backend;  // "10.244.1.10:8080", or ErrorOf() the failure.
  std::string source;   // The source address the backend saw, without port.
  std::string peer;     // Where the client's answer came from (getpeername / recvfrom).
  bool ok() const { return !source.empty(); }
  // "10.244.1.10:8080 saw 10.244.1.1 via 192.168.50.1:30080"
  std::string Describe() const { return ok() ? absl::StrCat(backend, " saw ", source, " via ", peer) : backend; }
};

// Parses "backend=<ip:port> client=<ip:port>".
Seen ParseAnswer(const std::string& line, std::string peer) {
  auto field = [&](const std::string& key) {
    size_t start = line.find(key);
    if (start == std::string::npos) return std::string();
    start += key.size();
    return line.substr(start, line.find(' ', start) - start);
  };
  std::string client = field("client=");
  client = client.substr(0, client.rfind(':'));  // Drop the port...
  if (client.size() > 2 && client.front() == '[') client = client.substr(1, client.size() - 2);  // ...and brackets.
  if (client.empty()) return {absl::StrCat("error: unexpected answer \"", line, "\"")};
  return {field("backend="), client, std::move(peer)};
}

// A TCP connection or a connected UDP socket from the calling thread's netns:
// a UDP answer from anywhere but ip:port is filtered by the socket, so an
// untranslated reply shows as a timeout.
Seen Exchange(Protocol proto, const IpAddress& ip, uint16_t port, absl::Duration timeout = absl::Seconds(1)) {
  if (proto == Protocol::kTcp) {
    absl::StatusOr<TcpClient> client = TcpClient::Connect(ip, port, timeout);
    if (!client.ok()) return {ErrorOf(client.status())};
    absl::StatusOr<std::string> line = client->Request(timeout);
    if (!line.ok()) return {ErrorOf(line.status())};
    return ParseAnswer(*line, client->PeerName().value_or("?"));
  }
  absl::StatusOr<UdpClient> client = UdpClient::Open(e2e::FamilyOf(ip));
  if (!client.ok()) return {ErrorOf(client.status())};
  absl::Status sent = client->Connect(ip, port);
  if (sent.ok()) sent = client->Send();
  if (!sent.ok()) return {ErrorOf(sent)};
  absl::StatusOr<e2e::UdpReply> reply = client->Receive(timeout);
  if (!reply.ok()) return {ErrorOf(reply.status())};
  return ParseAnswer(reply->line, reply->source);
}

using Observe = std::function<std::string()>;

Observe Backend(Protocol proto, const IpAddress& ip, uint16_t port, absl::Duration timeout = absl::Seconds(1)) {
  return [=] { return Exchange(proto, ip, port, timeout).backend; };
}
Observe Described(Protocol proto, const IpAddress& ip, uint16_t port) {
  return [=] { return Exchange(proto, ip, port).Describe(); };
}

// Each distinct result of up to |tries| calls; stops at the first result
// outside |want|, so a poll that cannot succeed yet costs one call.
std::set<std::string> Collect(const Observe& observe, int tries, const std::set<std::string>& want) {
  std::set<std::string> seen;
  for (int i = 0; i < tries; ++i) {
    std::string result = observe();
    const bool wanted = want.contains(result);
    seen.insert(std::move(result));
    if (!wanted) break;
  }
  return seen;
}

// Polls until |tries| observations give exactly |want|: the datapaths of both
// nodes follow the API server asynchronously.
::testing::AssertionResult Eventually(const Observe& observe, const std::set<std::string>& want, int tries = 20) {
  std::set<std::string> got;
  for (absl::Time end = absl::Now() + kPatience; absl::Now() < end;) {
    if ((got = Collect(observe, tries, want)) == want) return ::testing::AssertionSuccess();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return ::testing::AssertionFailure() << "observed {" << absl::StrJoin(got, ", ") << "}, want {"
                                       << absl::StrJoin(want, ", ") << "}";
}

// "200 localEndpoints=1" from the health check node port, or ErrorOf().
std::string HealthCheck(const IpAddress& node, uint16_t port) {
  absl::StatusOr<testing_util::HttpAnswer> answer = testing_util::HttpGet(node.ToString(), port, "/");
  if (!answer.ok()) return ErrorOf(answer.status());
  nlohmann::json body = nlohmann::json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("localEndpoints")) {
    return absl::StrCat(answer->status, " unexpected body ", answer->body);
  }
  return absl::StrCat(answer->status, " localEndpoints=", body["localEndpoints"].dump());
}

// ---------------------------------------------------------------------------
// One node's daemon.

// The real bpfproxy of one node, started inside the node's network namespace
// with its own bpffs and cgroup. Destroying it kills the process and runs
// `bpfproxy --cleanup` in the node, which must remove what a killed daemon
// left (pins, cgroup and tc attachments).
class NodeDaemon {
 public:
  static absl::StatusOr<std::unique_ptr<NodeDaemon>> Start(const NetNs& node, const std::string& node_name,
                                                           const std::string& kubeconfig, std::string log) {
    std::unique_ptr<NodeDaemon> daemon(new NodeDaemon(node, std::move(log)));
    absl::StatusOr<std::unique_ptr<e2e::BpffsMount>> bpffs = e2e::BpffsMount::Create();
    if (!bpffs.ok()) return bpffs.status();
    daemon->bpffs_ = std::move(*bpffs);
    absl::StatusOr<std::unique_ptr<e2e::TestCgroup>> cgroup = e2e::TestCgroup::Create(e2e::kTestPrefix);
    if (!cgroup.ok()) return cgroup.status();
    daemon->cgroup_ = std::move(*cgroup);
    daemon->flags_ = {BPFPROXY_BINARY,
                      "--kubeconfig=" + kubeconfig,
                      absl::StrCat("--hostname-override=", node_name),
                      "--bpf-root=" + daemon->bpffs_->path() + "/bpfproxy",
                      "--cgroup-root=" + daemon->cgroup_->path(),
                      // The pod bridge too, so local backends' replies are translated back.
                      absl::StrCat("--devices=", T::kLanDevice, ",", T::kPodBridge),
                      "--iptables-min-sync-period=0",
                      "--v=2"};
    // The child inherits the spawning thread's network namespace.
    absl::StatusOr<NetNs::Entered> in_node = node.Enter();
    if (!in_node.ok()) return in_node.status();
    // setpriv makes the daemon die with this process, even when ctest
    // kills a test that ran out of time before its destructors could run.
    std::vector<std::string> argv = {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"};
    argv.insert(argv.end(), daemon->flags_.begin(), daemon->flags_.end());
    absl::StatusOr<std::unique_ptr<e2e::Process>> process = e2e::Process::Start(argv, daemon->log_);
    if (!process.ok()) return process.status();
    daemon->process_ = std::move(*process);
    return daemon;
  }

  ~NodeDaemon() {
    Kill();
    if (absl::Status status = Cleanup(); !status.ok()) {
      std::fprintf(stderr, "bpfproxy --cleanup in %s: %s\n", node_.name().c_str(), status.ToString().c_str());
    }
  }

  // SIGKILL: the pinned datapath stays, as after a crash.
  void Kill() { process_.reset(); }

  // `bpfproxy --cleanup` with the daemon's flags, inside the node; once.
  absl::Status Cleanup() {
    if (flags_.empty() || cleaned_) return absl::OkStatus();
    cleaned_ = true;
    std::vector<std::string> cleanup = flags_;
    cleanup.push_back("--cleanup");
    absl::StatusOr<NetNs::Entered> in_node = node_.Enter();
    return in_node.ok() ? e2e::Run(cleanup) : in_node.status();
  }

  e2e::TestCgroup& cgroup() { return *cgroup_; }
  const std::string& log() const { return log_; }

  // The frontends a view's pinned maps hold, read the way a restarted
  // daemon reads them; empty if they cannot be read.
  DesiredFrontends Programmed(const LbMapNames& view) const {
    auto open = [&](const std::string& name) {
      return UniqueFd(bpf_obj_get((bpffs_->path() + "/bpfproxy/maps/" + name).c_str()));
    };
    BpfLbMaps maps(open(view.services), open(view.backends), open(view.members), {}, view);
    absl::StatusOr<std::unique_ptr<Reconciler>> reconciler = Reconciler::Create(&maps);
    return reconciler.ok() ? (*reconciler)->Applied() : DesiredFrontends{};
  }

 private:
  NodeDaemon(const NetNs& node, std::string log) : node_(node), log_(std::move(log)) {}

  const NetNs& node_;
  const std::string log_;
  std::vector<std::string> flags_;
  bool cleaned_ = false;
  std::unique_ptr<e2e::BpffsMount> bpffs_;  // Declared first: unmounted last.
  std::unique_ptr<e2e::TestCgroup> cgroup_;
  std::unique_ptr<e2e::Process> process_;
};

// ---------------------------------------------------------------------------
// The fixture: topology, emulator on the LAN, one daemon per node.

class NodePortE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KERNEL_TEST_PREREQUISITES();
    ASSERT_OK_AND_ASSIGN(topology_, T::Create({.nodes = 2, .pods_per_node = 2, .clients = 2, .ports = {kPodPort}}));
    // PKI, kubeconfig and the daemons' logs.
    std::string dir_template = absl::StrCat("/tmp/", e2e::kTestPrefix, "-nodeport-", getpid(), "-XXXXXX");
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr) << std::strerror(errno);
    dir_ = dir_template;
    ASSERT_OK_AND_ASSIGN(e2e::apiserver::TestPki pki, e2e::apiserver::MakeTestPki(dir_, {T::lan_ip4().ToString()}));
    e2e::apiserver::EmulatorConfig config;
    config.server.address = T::lan_ip4().ToString();
    config.server.tls_cert_file = pki.server_cert;
    config.server.tls_key_file = pki.server_key;
    config.token = pki.token;
    config.initial_objects = {e2e::NodeObject(NodeName(0), "zone-a"), e2e::NodeObject(NodeName(1), "zone-b")};
    {
      // The listener lives in the LAN namespace, which both nodes reach.
      ASSERT_OK_AND_ASSIGN(NetNs::Entered in_lan, topology_->lan().Enter());
      ASSERT_OK_AND_ASSIGN(emulator_, ApiServerEmulator::Start(config));
    }
    ASSERT_OK_AND_ASSIGN(std::string kubeconfig, pki.WriteKubeconfig(emulator_->url()));
    for (int n = 0; n < 2; ++n) {
      ASSERT_OK_AND_ASSIGN(daemons_[n], NodeDaemon::Start(topology_->node(n), NodeName(n), kubeconfig,
                                                          absl::StrCat(dir_, "/", NodeName(n), ".log")));
    }
  }

  void TearDown() override {
    for (auto& daemon : daemons_) {
      if (daemon != nullptr && HasFailure()) {
        std::fprintf(stderr, "---- %s ----\n%s\n", daemon->log().c_str(), e2e::ReadFile(daemon->log()).c_str());
      }
      daemon.reset();
    }
    emulator_.reset();
    topology_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void Apply(const nlohmann::json& object) { ASSERT_OK(emulator_->Apply(object)); }

  // Polls node |n|'s daemon log for |text|.
  ::testing::AssertionResult EventuallyLogged(int n, const std::string& text) {
    for (absl::Time end = absl::Now() + absl::Seconds(20); absl::Now() < end; absl::SleepFor(absl::Milliseconds(100))) {
      if (absl::StrContains(e2e::ReadFile(daemons_[n]->log()), text)) return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "node " << n << "'s daemon never logged \"" << text << "\"";
  }

  // Makes |pods| the ready endpoints of |service|: one EndpointSlice per
  // family, as the EndpointSlice controller writes them.
  void SetEndpoints(const std::string& service, const std::vector<Pod>& pods,
                    const std::vector<IpFamily>& families = {IpFamily::kIpv4, IpFamily::kIpv6}) {
    const std::vector<PortSpec> ports = {{"http", kPodPort, "TCP"}, {"dns", kPodPort, "UDP"}};
    for (IpFamily family : families) {
      std::vector<EndpointSpec> endpoints;
      for (Pod pod : pods) endpoints.push_back(e2e::Ready(PodIp(pod, family), NodeName(pod.node)));
      const std::string name = absl::StrCat(service, "-", family == IpFamily::kIpv4 ? "v4" : "v6");
      ASSERT_NO_FATAL_FAILURE(Apply(e2e::SliceObject(service, name, ports, endpoints, FamilyName(family))));
    }
  }

  // A dual-stack Service "web": http 80/TCP on kTcpNodePort, dns 53/UDP on
  // kUdpNodePort, both to the pods' kPodPort.
  static ServiceSpec Web(const std::string& type, const std::string& external_traffic_policy = "Cluster") {
    return {.type = type,
            .cluster_ips = {"10.96.0.10", "fd00:96::10"},
            .ports = {{"http", kTcpPort, "TCP", kTcpNodePort}, {"dns", kUdpPort, "UDP", kUdpNodePort}},
            .external_traffic_policy = external_traffic_policy};
  }

  NetNs& Client(int c) { return topology_->client(c); }

  std::unique_ptr<ClusterTopology> topology_;
  std::string dir_;
  std::unique_ptr<ApiServerEmulator> emulator_;
  std::unique_ptr<NodeDaemon> daemons_[2];
};

// ---------------------------------------------------------------------------

// eTP=Cluster through node A: the local backend sees node A's pod-bridge
// address, the remote one node A's LAN address (SNAT to the address of the
// device the packet leaves by); the client sees node A's NodePort answer.
TEST_F(NodePortE2eTest, NodePortReachesLocalAndRemoteBackendsWithTheNodeAsSource) {
  Apply(ServiceObject("web", Web("NodePort")));
  SetEndpoints("web", {kA0, kB0});
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    for (Protocol proto : {Protocol::kTcp, Protocol::kUdp}) {
      const uint16_t node_port = proto == Protocol::kTcp ? kTcpNodePort : kUdpNodePort;
      const std::string via = HostPort(NodeIp(0, family), node_port);
      SCOPED_TRACE(absl::StrCat(FamilyName(family), " ", ProtocolName(proto), " to ", via));
      ASSERT_TRUE(Eventually(Described(proto, NodeIp(0, family), node_port),
                             {absl::StrCat(PodId(kA0, family), " saw ", BridgeIp(0, family).ToString(), " via ", via),
                              absl::StrCat(PodId(kB0, family), " saw ", NodeIp(0, family).ToString(), " via ", via)}));
    }
  }
}

// eTP=Local: only node-local endpoints, the client's own address reaches the
// backend, and a node without a local endpoint drops (the client times out;
// it is neither refused nor forwarded to the other node).
TEST_F(NodePortE2eTest, LocalPolicyPreservesTheClientAndDropsOnNodesWithoutLocalEndpoints) {
  Apply(ServiceObject("web", Web("NodePort", "Local")));
  SetEndpoints("web", {kA0});
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    SCOPED_TRACE(FamilyName(family));
    for (Protocol proto : {Protocol::kTcp, Protocol::kUdp}) {
      const uint16_t node_port = proto == Protocol::kTcp ? kTcpNodePort : kUdpNodePort;
      ASSERT_TRUE(Eventually(Described(proto, NodeIp(0, family), node_port),
                             {absl::StrCat(PodId(kA0, family), " saw ", ClientIp(0, family).ToString(), " via ",
                                           HostPort(NodeIp(0, family), node_port))}))
          << ProtocolName(proto);
    }
    // Before node B programs the Service its stack refuses (nothing listens
    // on the NodePort); once it does, the SYN is dropped.
    ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, NodeIp(1, family), kTcpNodePort, kDropTimeout), {kTimedOut}, 3));
  }
  // The endpoint moves to node B: the roles swap.
  SetEndpoints("web", {kB0});
  ASSERT_TRUE(Eventually(Described(Protocol::kTcp, T::node_ip4(1), kTcpNodePort),
                         {absl::StrCat(PodId(kB0), " saw ", T::client_ip4(0).ToString(), " via ",
                                       HostPort(T::node_ip4(1), kTcpNodePort))}));
  ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, T::node_ip4(0), kTcpNodePort, kDropTimeout), {kTimedOut}, 3));
}

// kube-proxy's per-Service health check: 200 where the Service has a local
// endpoint, 503 elsewhere, following the endpoints as they move.
TEST_F(NodePortE2eTest, HealthCheckNodePortFollowsLocalEndpoints) {
  ServiceSpec spec = Web("LoadBalancer", "Local");
  spec.cluster_ips = {"10.96.0.10"};  // Single-stack: localEndpoints counts IPv4 endpoints.
  spec.health_check_node_port = kHealthCheckNodePort;
  Apply(ServiceObject("web", spec));
  const std::vector<IpFamily> ipv4 = {IpFamily::kIpv4};
  SetEndpoints("web", {kA0}, ipv4);
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  auto health = [](int n) { return [n] { return HealthCheck(T::node_ip4(n), kHealthCheckNodePort); }; };
  ASSERT_TRUE(Eventually(health(0), {"200 localEndpoints=1"}, 1));
  ASSERT_TRUE(Eventually(health(1), {"503 localEndpoints=0"}, 1));

  // kube-proxy's body, on the node with the endpoint.
  e2e::apiserver::testing::TestClient client({.host = T::node_ip4(0).ToString(), .port = kHealthCheckNodePort});
  ASSERT_OK_AND_ASSIGN(e2e::apiserver::testing::Response response, client.Get("/"));
  nlohmann::json body = response.Json();
  EXPECT_EQ(body["service"]["namespace"], "default") << response.body;
  EXPECT_EQ(body["service"]["name"], "web") << response.body;
  EXPECT_EQ(body["serviceProxyHealthy"], true) << response.body;
  EXPECT_EQ(response.headers["content-type"], "application/json") << response.body;

  SetEndpoints("web", {kB0}, ipv4);
  ASSERT_TRUE(Eventually(health(0), {"503 localEndpoints=0"}, 1));
  ASSERT_TRUE(Eventually(health(1), {"200 localEndpoints=1"}, 1));
  SetEndpoints("web", {kA0, kA1, kB0}, ipv4);
  ASSERT_TRUE(Eventually(health(0), {"200 localEndpoints=2"}, 1));
  ASSERT_TRUE(Eventually(health(1), {"200 localEndpoints=1"}, 1));
  SetEndpoints("web", {}, ipv4);
  ASSERT_TRUE(Eventually(health(0), {"503 localEndpoints=0"}, 1));
  ASSERT_TRUE(Eventually(health(1), {"503 localEndpoints=0"}, 1));

  // Dual-stack: kube-proxy runs a proxier per family, so a dual-stack pod
  // is one endpoint of each family, never two; a probe gets the count of
  // the family it arrived over.
  spec.cluster_ips = {"10.96.0.10", "fd00:96::10"};
  Apply(ServiceObject("web", spec));
  SetEndpoints("web", {kA0, kA1});
  auto health6 = [](int n) { return [n] { return HealthCheck(T::node_ip6(n), kHealthCheckNodePort); }; };
  ASSERT_TRUE(Eventually(health(0), {"200 localEndpoints=2"}, 1));
  ASSERT_TRUE(Eventually(health6(0), {"200 localEndpoints=2"}, 1));
  // The IPv6 endpoints leave: an IPv6 probe must drain the node, while
  // IPv4 probes still find two.
  SetEndpoints("web", {}, {IpFamily::kIpv6});
  ASSERT_TRUE(Eventually(health6(0), {"503 localEndpoints=0"}, 1));
  ASSERT_TRUE(Eventually(health(0), {"200 localEndpoints=2"}, 1));
}

// Clients route the external ranges via node A, which answers for them.
TEST_F(NodePortE2eTest, LoadBalancerIpsAndExternalIpsAnswer) {
  ServiceSpec spec = Web("LoadBalancer");
  spec.load_balancer_ingress = {kLbIp4.ToString(), kLbIp6.ToString()};
  spec.external_ips = {kExternalIp4.ToString(), kExternalIp6.ToString()};
  Apply(ServiceObject("web", spec));
  SetEndpoints("web", {kA0, kB0});
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  for (const IpAddress& ip : {kLbIp4, kLbIp6, kExternalIp4, kExternalIp6}) {
    const IpFamily family = e2e::FamilyOf(ip);
    ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, ip, kTcpPort), {PodId(kA0, family), PodId(kB0, family)}))
        << ip.ToString();
  }
  // The answer comes from the address the client asked.
  for (const IpAddress& ip : {kLbIp4, kExternalIp6}) {
    EXPECT_EQ(Exchange(Protocol::kUdp, ip, kUdpPort).peer, HostPort(ip, kUdpPort));
  }
}

TEST_F(NodePortE2eTest, SourceRangesAdmitOnlyClientsInRange) {
  ServiceSpec spec = Web("LoadBalancer");
  spec.load_balancer_ingress = {kLbIp4.ToString(), kLbIp6.ToString()};
  spec.source_ranges = {"192.168.50.100/32", "fd00:50::100/128"};  // Client 0 only.
  Apply(ServiceObject("web", spec));
  SetEndpoints("web", {kA0});
  for (const IpAddress& ip : {kLbIp4, kLbIp6}) {
    SCOPED_TRACE(ip.ToString());
    {
      ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
      ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, ip, kTcpPort), {PodId(kA0, e2e::FamilyOf(ip))}));
    }
    // Untranslated, node A would answer with ICMP unreachable: a timeout
    // means the source range dropped client 1.
    ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(1).Enter());
    ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, ip, kTcpPort, kDropTimeout), {kTimedOut}, 3));
  }
  spec.source_ranges.push_back("192.168.50.101/32");
  Apply(ServiceObject("web", spec));
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(1).Enter());
  ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, kLbIp4, kTcpPort), {PodId(kA0)}));
  ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, kLbIp6, kTcpPort, kDropTimeout), {kTimedOut}, 3))
      << "fd00:50::101 is still out of range";
}

// Without endpoints a client is refused at once: TCP gets a RST, UDP an
// ICMP port unreachable. On the LB IP an untranslated packet would get ICMP
// host unreachable instead, so the refusal is the datapath's.
TEST_F(NodePortE2eTest, NoEndpointsIsRefused) {
  ServiceSpec spec = Web("LoadBalancer");
  spec.load_balancer_ingress = {kLbIp4.ToString(), kLbIp6.ToString()};
  Apply(ServiceObject("web", spec));
  SetEndpoints("web", {kB0});
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, kLbIp4, kTcpPort), {PodId(kB0)}));
  SetEndpoints("web", {});
  const std::vector<std::tuple<Protocol, IpAddress, uint16_t>> targets = {
      {Protocol::kTcp, kLbIp4, kTcpPort},           {Protocol::kTcp, kLbIp6, kTcpPort},
      {Protocol::kUdp, kLbIp4, kUdpPort},           {Protocol::kUdp, kLbIp6, kUdpPort},
      {Protocol::kTcp, T::node_ip4(0), kTcpNodePort}, {Protocol::kTcp, T::node_ip6(1), kTcpNodePort},
  };
  for (const auto& [proto, ip, port] : targets) {
    ASSERT_TRUE(Eventually(Backend(proto, ip, port), {kRefused}, 3)) << ProtocolName(proto) << " " << HostPort(ip, port);
  }
}

TEST_F(NodePortE2eTest, ManyConnectionsSpreadOverEveryBackend) {
  Apply(ServiceObject("web", Web("NodePort")));
  const std::vector<Pod> pods = {kA0, kA1, kB0, kB1};
  SetEndpoints("web", pods);
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  std::set<std::string> all;
  for (Pod pod : pods) all.insert(PodId(pod));
  ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, T::node_ip4(0), kTcpNodePort), all));
  std::map<std::string, int> connections;
  for (int i = 0; i < 100; ++i) ++connections[Exchange(Protocol::kTcp, T::node_ip4(0), kTcpNodePort).backend];
  std::string counts = absl::StrJoin(connections, ", ", absl::PairFormatter("="));
  int answered = 0;
  for (Pod pod : pods) {
    EXPECT_GT(connections[PodId(pod)], 0) << counts;
    answered += connections[PodId(pod)];
  }
  EXPECT_EQ(answered, 100) << counts;
}

// A flow keeps its backend while the backend set changes around it: the
// conntrack entry of the per-packet path outlives the change.
TEST_F(NodePortE2eTest, LongLivedConnectionKeepsItsBackendAcrossChanges) {
  Apply(ServiceObject("web", Web("NodePort")));
  SetEndpoints("web", {kA0, kB0});
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  const Observe backend = Backend(Protocol::kTcp, T::node_ip4(0), kTcpNodePort);
  ASSERT_TRUE(Eventually(backend, {PodId(kA0), PodId(kB0)}));
  ASSERT_OK_AND_ASSIGN(TcpClient open, TcpClient::Connect(T::node_ip4(0), kTcpNodePort));
  ASSERT_OK_AND_ASSIGN(std::string first, open.Request());
  const std::string kept = ParseAnswer(first, "").backend;
  const Pod other = kept == PodId(kA0) ? kB0 : kA0;

  SetEndpoints("web", {kA0, kA1, kB0, kB1});
  ASSERT_TRUE(Eventually(backend, {PodId(kA0), PodId(kA1), PodId(kB0), PodId(kB1)}));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string line, open.Request());
    EXPECT_EQ(ParseAnswer(line, "").backend, kept);
  }
  // The other original backend leaves; the open connection still answers.
  const Pod kept_pod = kept == PodId(kA0) ? kA0 : kB0;
  SetEndpoints("web", {kept_pod, kA1, kB1});
  ASSERT_TRUE(Eventually(backend, {kept, PodId(kA1), PodId(kB1)})) << PodId(other) << " left";
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(std::string line, open.Request());
    EXPECT_EQ(ParseAnswer(line, "").backend, kept);
  }
}

// A process on node A (in the cgroup its daemon serves) reaches the
// NodePort on the node's addresses and on 127.0.0.1 through the socket
// hooks: connect() goes straight to a backend, getpeername() still shows
// what the process asked for.
TEST_F(NodePortE2eTest, NodeProcessesReachNodePortsThroughSocketHooks) {
  Apply(ServiceObject("web", Web("NodePort")));
  SetEndpoints("web", {kA0, kB0});
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology_->node(0).Enter());
  ASSERT_OK_AND_ASSIGN(e2e::TestCgroup::Membership membership, daemons_[0]->cgroup().Enter());
  for (const IpAddress& ip : {T::node_ip4(0), kLoopback4, T::node_ip6(0)}) {
    const IpFamily family = e2e::FamilyOf(ip);
    ASSERT_TRUE(Eventually(Backend(Protocol::kTcp, ip, kTcpNodePort), {PodId(kA0, family), PodId(kB0, family)}))
        << ip.ToString();
    EXPECT_EQ(Exchange(Protocol::kTcp, ip, kTcpNodePort).peer, HostPort(ip, kTcpNodePort));
    EXPECT_EQ(Exchange(Protocol::kUdp, ip, kUdpNodePort).peer, HostPort(ip, kUdpNodePort));
  }
}

// Restart is not an outage: a daemon that died leaves its datapath serving.
// --cleanup then removes it from the node: the NodePort reaches node A's
// stack, where nothing listens, and the LB IP its unreachable route (whose
// ICMP errors the kernel rate-limits, so the client may also time out).
TEST_F(NodePortE2eTest, KilledDaemonKeepsServingUntilCleanup) {
  ServiceSpec spec = Web("LoadBalancer");
  spec.load_balancer_ingress = {kLbIp4.ToString()};
  Apply(ServiceObject("web", spec));
  SetEndpoints("web", {kA0, kB0});
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  const Observe lb_ip = Backend(Protocol::kTcp, kLbIp4, kTcpPort);
  const Observe node_port = Backend(Protocol::kTcp, T::node_ip4(0), kTcpNodePort);
  ASSERT_TRUE(Eventually(lb_ip, {PodId(kA0), PodId(kB0)}));
  ASSERT_TRUE(Eventually(node_port, {PodId(kA0), PodId(kB0)}));

  daemons_[0]->Kill();
  EXPECT_EQ(Collect(lb_ip, 20, {PodId(kA0), PodId(kB0)}), (std::set<std::string>{PodId(kA0), PodId(kB0)}));
  ASSERT_OK(daemons_[0]->Cleanup());
  EXPECT_EQ(node_port(), kRefused);
  for (int i = 0; i < 3; ++i) EXPECT_THAT(lb_ip(), ::testing::StartsWith("error: "));
  // Node B's datapath is its own, and still serves.
  const Seen via_b = Exchange(Protocol::kTcp, T::node_ip4(1), kTcpNodePort);
  EXPECT_TRUE(via_b.ok()) << via_b.Describe();
}

// A node address added while the daemon runs (a secondary IP, a DHCP
// renumbering) serves NodePorts within seconds (a remote backend sees the
// SNAT source of the device the packet leaves by: node-a's primary
// address); a removed one stops being a frontend in both views.
TEST_F(NodePortE2eTest, ANodeAddressAddedAtRunTimeServesNodePorts) {
  Apply(ServiceObject("web", Web("NodePort")));
  SetEndpoints("web", {kA0, kB0});
  const IpAddress added = Ip("192.168.50.21");
  ASSERT_OK(topology_->node(0).Ip({"addr", "add", "192.168.50.21/24", "dev", std::string(T::kLanDevice)}));
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, Client(0).Enter());
  const std::string via = HostPort(added, kTcpNodePort);
  EXPECT_TRUE(Eventually(Described(Protocol::kTcp, added, kTcpNodePort),
                         {absl::StrCat(PodId(kA0), " saw ", BridgeIp(0, IpFamily::kIpv4).ToString(), " via ", via),
                          absl::StrCat(PodId(kB0), " saw ", T::node_ip4(0).ToString(), " via ", via)}))
      << "the new address is a NodePort frontend";
  const L4Address added_port = L4Address::Parse(absl::StrCat(via, "/TCP")).value();
  for (const LbMapNames& view : {LbMapNames::SocketView(), LbMapNames::ExternalView()}) {
    EXPECT_TRUE(daemons_[0]->Programmed(view).contains(added_port)) << view.services;
  }
  ASSERT_OK(topology_->node(0).Ip({"addr", "del", "192.168.50.21/24", "dev", std::string(T::kLanDevice)}));
  EXPECT_TRUE(EventuallyLogged(0, "Node devices now [eth0,br0] with addresses [192.168.50.1,fd00:50::1"));
  for (const LbMapNames& view : {LbMapNames::SocketView(), LbMapNames::ExternalView()}) {
    bool gone = false;
    for (absl::Time end = absl::Now() + absl::Seconds(10); !gone && absl::Now() < end;) {
      gone = !daemons_[0]->Programmed(view).contains(added_port);
      if (!gone) absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_TRUE(gone) << view.services << " still holds " << via;
  }
  EXPECT_TRUE(Eventually(Backend(Protocol::kTcp, T::node_ip4(0), kTcpNodePort), {PodId(kA0), PodId(kB0)}));
}

}  // namespace
}  // namespace bpfproxy
