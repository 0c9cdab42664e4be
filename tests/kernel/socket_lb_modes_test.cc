// The socket LB's modes on a real kernel: host-only (--socket-lb=host-only)
// translates the node's sockets and leaves pods' alone; and the connection
// counter in bpfp_stat_v1. Clients in the node and in a pod namespace, all
// in the test cgroup; assertions are about what the client observes (which
// backend answered, the errno) and what the stats map holds.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bpfproxy/lb_abi.h"
#include "proxy/bpf_pins.h"
#include "tests/kernel/socket_lb_fixture.h"

namespace bpfproxy {
namespace {

class SocketLbModesTest : public SocketLbTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SetUpNode({kPodPort}));
    // The test thread is in the node namespace: its cookie is the node's.
    ASSERT_OK_AND_ASSIGN(node_cookie_, CurrentNetnsCookie());
  }

  // (Re)opens the socket LB on the same pins with |netns_cookie|: what a
  // daemon restart with another --socket-lb does.
  void Reopen(uint64_t netns_cookie) {
    reconciler_.reset();
    lb_.reset();
    SocketLbConfig config;
    config.bpf_root = bpf_root();
    config.cgroup_root = cgroup_->path();
    config.netns_cookie = netns_cookie;
    ASSERT_OK_AND_ASSIGN(lb_, SocketLb::Open(config));
    ASSERT_OK_AND_ASSIGN(reconciler_, Reconciler::Create(&lb_->maps()));
  }

  // The backend that answered a TCP connection to ip:port, or the error.
  static std::string TcpOutcome(const IpAddress& ip, uint16_t port) {
    absl::StatusOr<TcpClient> c = TcpClient::Connect(ip, port);
    if (!c.ok()) return absl::StrCat("errno ", ErrnoOf(c.status()));
    absl::StatusOr<std::string> line = c->Request();
    return line.ok() ? BackendOf(*line) : std::string(line.status().message());
  }

  // The same from pod |i|'s namespace (still in the test cgroup).
  std::string TcpOutcomeFromPod(int i, const IpAddress& ip, uint16_t port) {
    absl::StatusOr<e2e::NetNs::Entered> in_pod = topology_->pod(i).Enter();
    if (!in_pod.ok()) return std::string(in_pod.status().message());
    return TcpOutcome(ip, port);
  }

  std::string UdpOutcomeFromPod(int i, const IpAddress& ip, uint16_t port) {
    absl::StatusOr<e2e::NetNs::Entered> in_pod = topology_->pod(i).Enter();
    if (!in_pod.ok()) return std::string(in_pod.status().message());
    absl::StatusOr<e2e::UdpReply> reply = e2e::UdpExchange(ip, port, absl::Milliseconds(500));
    if (!reply.ok()) return absl::StrCat("errno ", ErrnoOf(reply.status()));
    return BackendOf(reply->line);
  }

  uint32_t ServiceIdOf(const L4Address& frontend) {
    uint32_t id = 0;
    EXPECT_OK(lb_->maps().ForEachService([&](const lb_service_key& key, const lb_service_value& value) {
      if (key.slot == LB_SLOT_MASTER && FrontendOf(key) == frontend) id = value.service_id;
    }));
    EXPECT_NE(id, 0u) << frontend.ToString();
    return id;
  }

  // The socket view's connection count of |frontend|, summed over CPUs;
  // nullopt when it has no entry.
  std::optional<uint64_t> Connections(const L4Address& frontend) {
    UniqueFd fd(bpf_obj_get((MapsDir(bpf_root()) + "/" LB_STATS_MAP_NAME).c_str()));
    EXPECT_TRUE(fd.valid()) << "bpfp_stat_v1 is not pinned";
    lb_stats_key key{};
    key.service_id = ServiceIdOf(frontend);
    key.view = LB_VIEW_SOCKET;
    std::vector<lb_stats_value> per_cpu(libbpf_num_possible_cpus());
    if (bpf_map_lookup_elem(fd.get(), &key, per_cpu.data()) != 0) return std::nullopt;
    uint64_t sum = 0;
    for (const lb_stats_value& v : per_cpu) sum += v.connections;
    return sum;
  }

  uint64_t node_cookie_ = 0;
};

TEST_F(SocketLbModesTest, HostOnlyTranslatesTheNodesSocketsButNotThePods) {
  const std::string unreachable = absl::StrCat("errno ", EHOSTUNREACH);
  struct Case {
    const char* mode;
    bool host_only;
    // What a pod's connection to the VIP gets: a backend (translated), or
    // the unreachable route of the Service range (not translated).
    bool pod_translated;
  };
  for (const Case& c : std::vector<Case>{{"host-only", true, false}, {"all", false, true}, {"host-only again", true, false}}) {
    SCOPED_TRACE(c.mode);
    ASSERT_NO_FATAL_FAILURE(Reopen(c.host_only ? node_cookie_ : 0));
    ASSERT_OK(reconciler_->Upsert(At(kVip4, 80, Protocol::kTcp), Pods({2}, Protocol::kTcp)));
    ASSERT_OK(reconciler_->Upsert(At(kVip4, 53, Protocol::kUdp), Pods({2}, Protocol::kUdp)));
    ASSERT_OK(reconciler_->Upsert(At(kVip4, 81, Protocol::kTcp), {}));

    // The node is translated in every mode, refusals included.
    EXPECT_EQ(TcpOutcome(kVip4, 80), PodId(2));
    EXPECT_EQ(TcpOutcome(kVip4, 81), absl::StrCat("errno ", ECONNREFUSED));
    ASSERT_OK_AND_ASSIGN(e2e::UdpReply reply, e2e::UdpExchange(kVip4, 53));
    EXPECT_EQ(BackendOf(reply.line), PodId(2));
    EXPECT_EQ(reply.source, "10.96.0.10:53");

    std::string pod_tcp = TcpOutcomeFromPod(1, kVip4, 80);
    std::string pod_udp = UdpOutcomeFromPod(1, kVip4, 53);
    std::string pod_refused = TcpOutcomeFromPod(1, kVip4, 81);
    if (c.pod_translated) {
      EXPECT_EQ(pod_tcp, PodId(2));
      EXPECT_EQ(pod_udp, PodId(2));
      EXPECT_EQ(pod_refused, absl::StrCat("errno ", ECONNREFUSED));
    } else {
      EXPECT_EQ(pod_tcp, unreachable);
      EXPECT_EQ(pod_udp, unreachable);
      EXPECT_EQ(pod_refused, unreachable);
    }
  }
}

TEST_F(SocketLbModesTest, HostOnlyDoesNotCountPodsConnections) {
  ASSERT_NO_FATAL_FAILURE(Reopen(node_cookie_));
  const L4Address web = At(kVip4, 80, Protocol::kTcp);
  ASSERT_OK(reconciler_->Upsert(web, Pods({0}, Protocol::kTcp)));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(TcpOutcome(kVip4, 80), PodId(0));
  for (int i = 0; i < 2; ++i) EXPECT_EQ(TcpOutcomeFromPod(1, kVip4, 80), absl::StrCat("errno ", EHOSTUNREACH));
  EXPECT_EQ(Connections(web), 3u);
}

TEST_F(SocketLbModesTest, CountsTranslatedTcpConnectsAndNewUdpAffinities) {
  ASSERT_NO_FATAL_FAILURE(Reopen(0));
  const L4Address web = At(kVip4, 80, Protocol::kTcp);
  const L4Address web6 = At(kVip6, 80, Protocol::kTcp);
  const L4Address dns = At(kVip4, 53, Protocol::kUdp);
  const L4Address empty = At(kVip4, 81, Protocol::kTcp);
  ASSERT_OK(reconciler_->Upsert(web, Pods({0, 1, 2}, Protocol::kTcp)));
  ASSERT_OK(reconciler_->Upsert(web6, Pods({0}, Protocol::kTcp, IpFamily::kIpv6)));
  ASSERT_OK(reconciler_->Upsert(dns, Pods({0, 1, 2}, Protocol::kUdp)));
  ASSERT_OK(reconciler_->Upsert(empty, {}));
  EXPECT_EQ(Connections(web), std::nullopt);

  for (const auto& [address, count] : TcpSpread(kVip4, 80, 7)) EXPECT_GT(count, 0) << address;
  EXPECT_EQ(TcpSpread(kVip6, 80, 2), (std::map<std::string, int>{{PodId(0, IpFamily::kIpv6), 2}}));
  EXPECT_EQ(TcpOutcome(kVip4, 81), absl::StrCat("errno ", ECONNREFUSED));
  // Two UDP sockets: 5 and 3 datagrams, one affinity each.
  for (int datagrams : {5, 3}) {
    ASSERT_OK_AND_ASSIGN(UdpClient socket, UdpClient::Open(IpFamily::kIpv4));
    for (int i = 0; i < datagrams; ++i) {
      ASSERT_OK(socket.SendTo(kVip4, 53));
      ASSERT_OK(socket.Receive());
    }
  }

  EXPECT_EQ(Connections(web), 7u);
  EXPECT_EQ(Connections(web6), 2u);
  EXPECT_EQ(Connections(dns), 2u);
  EXPECT_EQ(Connections(empty), std::nullopt) << "a refused connect is no connection";
}

}  // namespace
}  // namespace bpfproxy
