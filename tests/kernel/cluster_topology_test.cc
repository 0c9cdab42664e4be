// Kernel tests for the two-node cluster topology (e2e/cluster_topology.h):
// who reaches whom, with which source address, and what fails fast. No BPF
// is loaded here: this is the network the per-packet e2e tests build on.
#include "e2e/cluster_topology.h"

#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/kernel/netns_checks.h"
#include "tests/util/status_macros.h"

namespace bpfproxy::e2e {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using T = ClusterTopology;

// The identity line a TCP connection from the calling thread's netns gets.
absl::StatusOr<std::string> TcpAnswer(const IpAddress& ip, uint16_t port) {
  absl::StatusOr<TcpClient> client = TcpClient::Connect(ip, port, absl::Seconds(2));
  if (!client.ok()) return client.status();
  return client->Request();
}

// "backend=<backend>:8080 client=<client>:" (the client's port is ephemeral).
std::string Expected(const IpAddress& backend, const IpAddress& client) {
  std::string client_host_port = HostPort(client, 0);
  client_host_port.pop_back();
  return absl::StrCat("backend=", HostPort(backend, 8080), " client=", client_host_port);
}

class ClusterTopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KERNEL_TEST_PREREQUISITES();
    ASSERT_OK_AND_ASSIGN(topology_, ClusterTopology::Create({}));
  }

  std::unique_ptr<ClusterTopology> topology_;
};

TEST_F(ClusterTopologyTest, AddressesFollowNodeAndIndex) {
  EXPECT_EQ(T::node_ip4(1).ToString(), "192.168.50.2");
  EXPECT_EQ(T::node_ip6(0).ToString(), "fd00:50::1");
  EXPECT_EQ(T::bridge_ip4(1).ToString(), "10.244.2.1");
  EXPECT_EQ(T::pod_ip4(1, 1).ToString(), "10.244.2.11");
  EXPECT_EQ(T::pod_ip6(0, 1).ToString(), "fd00:244:1::11");
  EXPECT_EQ(T::client_ip4(1).ToString(), "192.168.50.101");
  EXPECT_EQ(T::client_ip6(0).ToString(), "fd00:50::100");
  EXPECT_EQ(T::pod_cidr6(1), "fd00:244:2::/64");
  EXPECT_EQ(topology_->nodes(), 2);
  EXPECT_EQ(topology_->pods_per_node(), 2);
  EXPECT_EQ(topology_->clients(), 2);
}

TEST_F(ClusterTopologyTest, NodesHaveTheirLanDeviceAndPodBridge) {
  for (int n = 0; n < 2; ++n) {
    ASSERT_OK_AND_ASSIGN(std::string lan, topology_->node(n).IpOutput({"-br", "addr", "show", "dev", "eth0"}));
    EXPECT_THAT(lan, HasSubstr(absl::StrCat(T::node_ip4(n).ToString(), "/24")));
    EXPECT_THAT(lan, HasSubstr(absl::StrCat(T::node_ip6(n).ToString(), "/64")));
    ASSERT_OK_AND_ASSIGN(std::string bridge, topology_->node(n).IpOutput({"-br", "addr", "show", "dev", "br0"}));
    EXPECT_THAT(bridge, HasSubstr(absl::StrCat(T::bridge_ip4(n).ToString(), "/24")));
    ASSERT_OK_AND_ASSIGN(std::string forwarding,
                         RunOutput({"ip", "netns", "exec", topology_->node(n).name(), "sysctl", "-n",
                                    "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"}));
    EXPECT_EQ(forwarding, "1\n1\n");
  }
}

// Pod to pod across nodes is routed, not translated: each side sees the
// other's pod address.
TEST_F(ClusterTopologyTest, PodsReachPodsOnTheOtherNodeWithTheirOwnAddress) {
  struct Case {
    IpAddress from, to;
    int from_node, from_pod;
  };
  const std::vector<Case> cases = {
      {T::pod_ip4(0, 0), T::pod_ip4(1, 1), 0, 0},
      {T::pod_ip6(0, 0), T::pod_ip6(1, 1), 0, 0},
      {T::pod_ip4(1, 0), T::pod_ip4(0, 1), 1, 0},
      {T::pod_ip6(1, 0), T::pod_ip6(0, 1), 1, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.from.ToString(), " -> ", c.to.ToString()));
    ASSERT_OK_AND_ASSIGN(NetNs::Entered in_pod, topology_->pod(c.from_node, c.from_pod).Enter());
    ASSERT_OK_AND_ASSIGN(std::string answer, TcpAnswer(c.to, 8080));
    EXPECT_THAT(answer, StartsWith(Expected(c.to, c.from)));
  }
}

TEST_F(ClusterTopologyTest, ClientsReachNodesAndTheLanOverTcpAndUdp) {
  // Servers on the node and LAN addresses stand in for the daemon's health
  // and API servers.
  std::vector<std::unique_ptr<IdentityServer>> servers;
  const std::vector<std::pair<NetNs*, IpAddress>> targets = {
      {&topology_->node(0), T::node_ip4(0)}, {&topology_->node(1), T::node_ip6(1)}, {&topology_->lan(), T::lan_ip4()}};
  for (const auto& [ns, ip] : targets) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<IdentityServer> server, IdentityServer::Start(*ns, ip, 8080));
    servers.push_back(std::move(server));
  }
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, topology_->client(1).Enter());
  for (const auto& [ns, ip] : targets) {
    const IpAddress& source = ip.is_v4() ? T::client_ip4(1) : T::client_ip6(1);
    ASSERT_OK_AND_ASSIGN(std::string answer, TcpAnswer(ip, 8080));
    EXPECT_THAT(answer, StartsWith(Expected(ip, source)));
    ASSERT_OK_AND_ASSIGN(UdpReply reply, UdpExchange(ip, 8080));
    EXPECT_EQ(reply.source, HostPort(ip, 8080));
  }
}

TEST_F(ClusterTopologyTest, NodesReachTheLanWhereTheApiServerListens) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<IdentityServer> server,
                       IdentityServer::Start(topology_->lan(), T::lan_ip4(), 6443));
  for (int n = 0; n < 2; ++n) {
    ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology_->node(n).Enter());
    ASSERT_OK_AND_ASSIGN(TcpClient client, TcpClient::Connect(T::lan_ip4(), 6443));
    ASSERT_OK_AND_ASSIGN(std::string answer, client.Request());
    EXPECT_THAT(answer, HasSubstr(absl::StrCat("client=", T::node_ip4(n).ToString(), ":")));
  }
}

// A client has no route into the cluster: a reply the datapath forgot to
// translate, or a packet it forgot to NAT, cannot sneak through.
TEST_F(ClusterTopologyTest, ClientsHaveNoRouteToPods) {
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_client, topology_->client(0).Enter());
  for (const IpAddress& pod : {T::pod_ip4(0, 0), T::pod_ip6(1, 0)}) {
    absl::StatusOr<TcpClient> client = TcpClient::Connect(pod, 8080);
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(ErrnoOf(client.status()), ENETUNREACH) << client.status();
  }
}

// Service and external ranges fail fast wherever nothing translates them:
// from a client (Service ranges locally; external ones at node 0, which
// answers with ICMP unreachable), from a node and from a pod.
TEST_F(ClusterTopologyTest, ServiceAndExternalRangesFailFastEverywhere) {
  const std::vector<IpAddress> targets = {*IpAddress::Parse("10.96.0.10"), *IpAddress::Parse("fd00:96::10"),
                                          *IpAddress::Parse("192.168.60.10"), *IpAddress::Parse("fd00:60::10")};
  for (NetNs* ns : {&topology_->client(0), &topology_->node(1), &topology_->pod(1, 0), &topology_->lan()}) {
    ASSERT_OK_AND_ASSIGN(NetNs::Entered entered, ns->Enter());
    for (const IpAddress& ip : targets) {
      SCOPED_TRACE(absl::StrCat(ip.ToString(), " from ", ns->name()));
      const absl::Time start = absl::Now();
      absl::StatusOr<TcpClient> client = TcpClient::Connect(ip, 80, absl::Seconds(5));
      ASSERT_FALSE(client.ok());
      // Linux takes ICMPv6 "no route" as a soft error for the first SYN and
      // gives up at its retransmission, a second later.
      EXPECT_LT(absl::Now() - start, absl::Seconds(2));
      // EHOSTUNREACH from a local unreachable route or ICMP host
      // unreachable; ENETUNREACH from ICMPv6 "no route" or no route at all
      // (the LAN has none to the external ranges). Not a timeout.
      EXPECT_THAT(ErrnoOf(client.status()), ::testing::AnyOf(EHOSTUNREACH, ENETUNREACH)) << client.status();
    }
  }
}

TEST_F(ClusterTopologyTest, DestructionDeletesEveryNamespace) {
  std::vector<std::string> names = {topology_->lan().name(), topology_->client(0).name(), topology_->client(1).name()};
  for (int n = 0; n < 2; ++n) {
    names.push_back(topology_->node(n).name());
    for (int i = 0; i < 2; ++i) names.push_back(topology_->pod(n, i).name());
  }
  for (const std::string& name : names) EXPECT_THAT(NetnsNames(), Contains(name));
  topology_.reset();
  ExpectNoNamespaceOfThisProcess();
}

class ClusterTopologyOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override { REQUIRE_KERNEL_TEST_PREREQUISITES(); }
};

TEST_F(ClusterTopologyOptionsTest, RejectsInvalidOptions) {
  const std::vector<ClusterTopologyOptions> invalid = {{.nodes = 0},   {.nodes = 10},     {.pods_per_node = -1},
                                                       {.clients = 100}, {.ports = {0}}, {.prefix = ""}};
  for (const ClusterTopologyOptions& options : invalid) {
    EXPECT_EQ(ClusterTopology::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  }
  ExpectNoNamespaceOfThisProcess();
}

TEST_F(ClusterTopologyOptionsTest, FailureHalfWayRemovesWhatWasBuilt) {
  // The second server on the same port fails to bind after the LAN, node 0
  // and its first pod exist.
  absl::StatusOr<std::unique_ptr<ClusterTopology>> topology = ClusterTopology::Create({.ports = {8080, 8080}});
  ASSERT_FALSE(topology.ok());
  EXPECT_EQ(ErrnoOf(topology.status()), EADDRINUSE) << topology.status();
  ExpectNoNamespaceOfThisProcess();
}

TEST_F(ClusterTopologyOptionsTest, OneNodeWithoutPodsOrClientsIsValid) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ClusterTopology> topology,
                       ClusterTopology::Create({.nodes = 1, .pods_per_node = 0, .clients = 0}));
  EXPECT_EQ(topology->nodes(), 1);
  ASSERT_OK_AND_ASSIGN(NetNs::Entered in_node, topology->node(0).Enter());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<IdentityServer> server,
                       IdentityServer::Start(topology->lan(), T::lan_ip6(), 8080));
  ASSERT_OK_AND_ASSIGN(std::string answer, TcpAnswer(T::lan_ip6(), 8080));
  EXPECT_THAT(answer, HasSubstr("client=[fd00:50::1]:"));
}

}  // namespace
}  // namespace bpfproxy::e2e
