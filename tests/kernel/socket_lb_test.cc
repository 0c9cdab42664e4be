// The socket-LB programs on a real kernel: real sockets in a test-owned
// cgroup, a node namespace and pod namespaces with identity servers. Every
// assertion is about what a client observes: which backend answered, the
// peer address getpeername()/recvfrom() report, the errno of a refusal.
#include <cerrno>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e/topology.h"
#include "gtest/gtest.h"
#include "proxy/reconciler.h"
#include "proxy/socket_lb.h"
#include "tests/kernel/kernel_gate.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using e2e::ErrnoOf;
using e2e::HostPort;
using e2e::IpFamily;
using e2e::PodTopology;
using e2e::TcpClient;
using e2e::UdpClient;

constexpr uint16_t kPodPort = 8080;

IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }
const IpAddress kVip4 = Ip("10.96.0.10");
const IpAddress kVip6 = Ip("fd00:96::10");

L4Address At(const IpAddress& ip, uint16_t port, Protocol proto) { return L4Address{ip, port, proto}; }

// "backend=10.244.0.10:8080 client=..." -> "10.244.0.10:8080".
std::string BackendOf(const std::string& line) {
  size_t start = line.find("backend=");
  if (start == std::string::npos) return "<no backend in \"" + line + "\">";
  start += 8;
  return line.substr(start, line.find(' ', start) - start);
}

class SocketLbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_KERNEL_TEST_PREREQUISITES();
    ASSERT_OK_AND_ASSIGN(bpffs_, e2e::BpffsMount::Create());
    ASSERT_OK_AND_ASSIGN(cgroup_, e2e::TestCgroup::Create(e2e::kTestPrefix));
    ASSERT_OK_AND_ASSIGN(topology_, PodTopology::Create({.pods = 3, .ports = {kPodPort}}));
    ASSERT_NO_FATAL_FAILURE(OpenDatapath());
    ASSERT_OK_AND_ASSIGN(auto membership, cgroup_->Enter());
    membership_.emplace(std::move(membership));
    ASSERT_OK_AND_ASSIGN(auto entered, topology_->node().Enter());
    in_node_.emplace(std::move(entered));
  }

  void TearDown() override {
    in_node_.reset();
    membership_.reset();
    reconciler_.reset();
    lb_.reset();
    if (bpffs_ != nullptr) EXPECT_OK(SocketLb::Cleanup(bpf_root()));
  }

  std::string bpf_root() const { return bpffs_->path() + "/bpfproxy"; }

  // Opens the datapath on the pins (creating them the first time) and a
  // reconciler restored from them: what a daemon (re)start does.
  void OpenDatapath() {
    SocketLbConfig config;
    config.bpf_root = bpf_root();
    config.cgroup_root = cgroup_->path();
    ASSERT_OK_AND_ASSIGN(lb_, SocketLb::Open(config));
    ASSERT_OK_AND_ASSIGN(reconciler_, Reconciler::Create(&lb_->maps()));
  }

  std::vector<L4Address> Pods(std::vector<int> indexes, Protocol proto, IpFamily family = IpFamily::kIpv4) {
    std::vector<L4Address> out;
    for (int i : indexes) {
      out.push_back(At(family == IpFamily::kIpv4 ? PodTopology::pod_ip4(i) : PodTopology::pod_ip6(i), kPodPort, proto));
    }
    return out;
  }

  static std::string PodId(int i, IpFamily family = IpFamily::kIpv4) {
    return HostPort(family == IpFamily::kIpv4 ? PodTopology::pod_ip4(i) : PodTopology::pod_ip6(i), kPodPort);
  }

  // Backends reached by |n| fresh TCP connections to ip:port; each
  // connection's getpeername() must show ip:port.
  std::map<std::string, int> TcpSpread(const IpAddress& ip, uint16_t port, int n) {
    std::map<std::string, int> hits;
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<TcpClient> c = TcpClient::Connect(ip, port);
      if (!c.ok()) {
        ADD_FAILURE() << "connect " << HostPort(ip, port) << ": " << c.status();
        continue;
      }
      EXPECT_EQ(c->PeerName().value_or("?"), HostPort(ip, port));
      absl::StatusOr<std::string> line = c->Request();
      EXPECT_OK(line);
      if (line.ok()) hits[BackendOf(*line)]++;
    }
    return hits;
  }

  std::unique_ptr<e2e::BpffsMount> bpffs_;
  std::unique_ptr<e2e::TestCgroup> cgroup_;
  std::unique_ptr<PodTopology> topology_;
  std::unique_ptr<SocketLb> lb_;
  std::unique_ptr<Reconciler> reconciler_;
  std::optional<e2e::TestCgroup::Membership> membership_;
  std::optional<e2e::NetNs::Entered> in_node_;
};

std::set<std::string> Keys(const std::map<std::string, int>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

TEST_F(SocketLbTest, TcpToClusterIpReachesEveryBackendAndPeerIsTheVip) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 80, Protocol::kTcp), Pods({0, 1, 2}, Protocol::kTcp)));
  std::map<std::string, int> hits = TcpSpread(kVip4, 80, 60);
  EXPECT_EQ(Keys(hits), (std::set<std::string>{PodId(0), PodId(1), PodId(2)}));
}

TEST_F(SocketLbTest, UdpReplyComesFromTheVipAndOneSocketKeepsItsBackend) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 53, Protocol::kUdp), Pods({0, 1, 2}, Protocol::kUdp)));
  std::set<std::string> backends;
  for (int i = 0; i < 60; ++i) {
    ASSERT_OK_AND_ASSIGN(e2e::UdpReply reply, e2e::UdpExchange(kVip4, 53));
    EXPECT_EQ(reply.source, "10.96.0.10:53");
    backends.insert(BackendOf(reply.line));
  }
  EXPECT_EQ(backends, (std::set<std::string>{PodId(0), PodId(1), PodId(2)}));

  ASSERT_OK_AND_ASSIGN(UdpClient socket, UdpClient::Open(IpFamily::kIpv4));
  std::set<std::string> sticky;
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(socket.SendTo(kVip4, 53));
    ASSERT_OK_AND_ASSIGN(e2e::UdpReply reply, socket.Receive());
    EXPECT_EQ(reply.source, "10.96.0.10:53");
    sticky.insert(BackendOf(reply.line));
  }
  EXPECT_EQ(sticky.size(), 1u) << "one unconnected UDP socket must stick to one backend";
}

TEST_F(SocketLbTest, ConnectedUdpSocketSeesTheVipAsPeer) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 53, Protocol::kUdp), Pods({1}, Protocol::kUdp)));
  ASSERT_OK_AND_ASSIGN(UdpClient socket, UdpClient::Open(IpFamily::kIpv4));
  ASSERT_OK(socket.Connect(kVip4, 53));
  EXPECT_EQ(socket.PeerName().value_or("?"), "10.96.0.10:53");
  ASSERT_OK(socket.Send());
  ASSERT_OK_AND_ASSIGN(e2e::UdpReply reply, socket.Receive());
  EXPECT_EQ(BackendOf(reply.line), PodId(1));
  EXPECT_EQ(reply.source, "10.96.0.10:53");
}

TEST_F(SocketLbTest, Ipv6TcpAndUdp) {
  ASSERT_OK(reconciler_->Upsert(At(kVip6, 80, Protocol::kTcp), Pods({0, 1, 2}, Protocol::kTcp, IpFamily::kIpv6)));
  ASSERT_OK(reconciler_->Upsert(At(kVip6, 53, Protocol::kUdp), Pods({2}, Protocol::kUdp, IpFamily::kIpv6)));
  std::map<std::string, int> hits = TcpSpread(kVip6, 80, 60);
  EXPECT_EQ(Keys(hits), (std::set<std::string>{PodId(0, IpFamily::kIpv6), PodId(1, IpFamily::kIpv6),
                                               PodId(2, IpFamily::kIpv6)}));
  ASSERT_OK_AND_ASSIGN(e2e::UdpReply reply, e2e::UdpExchange(kVip6, 53));
  EXPECT_EQ(reply.source, "[fd00:96::10]:53");
  EXPECT_EQ(BackendOf(reply.line), PodId(2, IpFamily::kIpv6));
}

TEST_F(SocketLbTest, Ipv6SocketToV4MappedClusterIpReachesTheIpv4Service) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 53, Protocol::kUdp), Pods({0}, Protocol::kUdp)));
  ASSERT_OK_AND_ASSIGN(UdpClient socket, UdpClient::Open(IpFamily::kIpv6));
  ASSERT_OK(socket.SendTo(kVip4, 53));  // Sent to ::ffff:10.96.0.10.
  ASSERT_OK_AND_ASSIGN(e2e::UdpReply reply, socket.Receive());
  EXPECT_EQ(BackendOf(reply.line), PodId(0));
  EXPECT_EQ(reply.source, "10.96.0.10:53");
}

TEST_F(SocketLbTest, BackendChangesApplyToNewConnectionsWhileOpenOnesKeepWorking) {
  L4Address frontend = At(kVip4, 80, Protocol::kTcp);
  ASSERT_OK(reconciler_->Upsert(frontend, Pods({0, 1}, Protocol::kTcp)));
  ASSERT_OK_AND_ASSIGN(TcpClient open, TcpClient::Connect(kVip4, 80));
  ASSERT_OK_AND_ASSIGN(std::string first, open.Request());
  std::string kept = BackendOf(first);
  int removed = kept == PodId(0) ? 0 : 1;
  int stays = 1 - removed;

  // Remove the open connection's backend, add pod 2.
  ASSERT_OK(reconciler_->Upsert(frontend, Pods({stays, 2}, Protocol::kTcp)));
  std::map<std::string, int> hits = TcpSpread(kVip4, 80, 40);
  EXPECT_EQ(Keys(hits), (std::set<std::string>{PodId(stays), PodId(2)}));

  ASSERT_OK_AND_ASSIGN(std::string again, open.Request());
  EXPECT_EQ(BackendOf(again), kept) << "an open connection keeps its backend";
  EXPECT_EQ(open.PeerName().value_or("?"), "10.96.0.10:80");
}

TEST_F(SocketLbTest, ServiceWithoutBackendsRefusesTcpAndUdp) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 80, Protocol::kTcp), {}));
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 53, Protocol::kUdp), {}));
  absl::Time start = absl::Now();
  absl::StatusOr<TcpClient> c = TcpClient::Connect(kVip4, 80);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(ErrnoOf(c.status()), ECONNREFUSED) << c.status();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500)) << "a refusal is immediate, not a timeout";

  ASSERT_OK_AND_ASSIGN(UdpClient socket, UdpClient::Open(IpFamily::kIpv4));
  absl::Status sent = socket.SendTo(kVip4, 53);
  EXPECT_EQ(ErrnoOf(sent), ECONNREFUSED) << sent;

  // Backends arrive: the same Service answers.
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 80, Protocol::kTcp), Pods({0}, Protocol::kTcp)));
  EXPECT_EQ(Keys(TcpSpread(kVip4, 80, 3)), (std::set<std::string>{PodId(0)}));
}

TEST_F(SocketLbTest, DestinationsThatAreNoServiceAreUntouched) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 80, Protocol::kTcp), Pods({0}, Protocol::kTcp)));
  // A pod reached directly: its own address is the peer.
  ASSERT_OK_AND_ASSIGN(TcpClient direct, TcpClient::Connect(PodTopology::pod_ip4(1), kPodPort));
  EXPECT_EQ(direct.PeerName().value_or("?"), PodId(1));
  ASSERT_OK_AND_ASSIGN(std::string line, direct.Request());
  EXPECT_EQ(BackendOf(line), PodId(1));
  ASSERT_OK_AND_ASSIGN(e2e::UdpReply reply, e2e::UdpExchange(PodTopology::pod_ip4(2), kPodPort));
  EXPECT_EQ(reply.source, PodId(2));

  // Another port of the VIP, another IP of the range, another protocol: not
  // Services, so the unreachable route answers (not a refusal by the LB).
  for (auto [ip, port] : {std::pair{kVip4, uint16_t{81}}, std::pair{Ip("10.96.0.11"), uint16_t{80}}}) {
    absl::StatusOr<TcpClient> c = TcpClient::Connect(ip, port);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(ErrnoOf(c.status()), EHOSTUNREACH) << HostPort(ip, port) << ": " << c.status();
  }
  ASSERT_OK_AND_ASSIGN(UdpClient socket, UdpClient::Open(IpFamily::kIpv4));
  absl::Status sent = socket.SendTo(kVip4, 80);  // UDP/80 is not the TCP Service.
  EXPECT_TRUE(ErrnoOf(sent) == EHOSTUNREACH || ErrnoOf(sent) == ENETUNREACH) << sent;
}

TEST_F(SocketLbTest, RestartOnTheSamePinsKeepsConnectionsAndTheVipAnswering) {
  DesiredFrontends desired = {{At(kVip4, 80, Protocol::kTcp), Pods({0, 1, 2}, Protocol::kTcp)}};
  ASSERT_TRUE(reconciler_->Sync(desired).ok());
  ASSERT_OK_AND_ASSIGN(TcpClient open, TcpClient::Connect(kVip4, 80));
  ASSERT_OK_AND_ASSIGN(std::string first, open.Request());

  // A client that keeps connecting to the VIP during the restart.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::string last_error;
  std::thread prober([&] {
    auto entered = topology_->node().Enter();  // setns is per thread.
    if (!entered.ok()) {
      last_error = std::string(entered.status().message());
      failed++;
      return;
    }
    while (!stop) {
      absl::StatusOr<TcpClient> c = TcpClient::Connect(kVip4, 80);
      absl::StatusOr<std::string> line = c.ok() ? c->Request() : c.status();
      if (line.ok()) {
        ok++;
      } else {
        failed++;
        last_error = std::string(line.status().message());
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> before, DumpLines(lb_->maps()));
  reconciler_.reset();
  lb_.reset();  // The daemon exits: fds closed, pins stay.
  int ok_while_down = ok;
  absl::SleepFor(absl::Milliseconds(200));
  ok_while_down = ok - ok_while_down;
  ASSERT_NO_FATAL_FAILURE(OpenDatapath());
  EXPECT_TRUE(lb_->reused_maps());
  EXPECT_EQ(reconciler_->Applied(), desired) << "the restarted reconciler rebuilt its state from the pins";
  SyncResult result = reconciler_->Sync(desired);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.pruned_services + result.pruned_backends, 0u);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> after, DumpLines(lb_->maps()));
  EXPECT_EQ(after, before) << "no flush, no rewrite";
  absl::SleepFor(absl::Milliseconds(200));
  stop = true;
  prober.join();

  EXPECT_EQ(failed, 0) << "last error: " << last_error;
  EXPECT_GT(ok_while_down, 0) << "the VIP answered while no daemon was running";
  ASSERT_OK_AND_ASSIGN(std::string again, open.Request());
  EXPECT_EQ(BackendOf(again), BackendOf(first));
  EXPECT_EQ(open.PeerName().value_or("?"), "10.96.0.10:80");
}

TEST_F(SocketLbTest, CleanupDetachesTheProgramsAndRemovesThePins) {
  ASSERT_OK(reconciler_->Upsert(At(kVip4, 80, Protocol::kTcp), Pods({0}, Protocol::kTcp)));
  EXPECT_EQ(Keys(TcpSpread(kVip4, 80, 2)), (std::set<std::string>{PodId(0)}));
  reconciler_.reset();
  lb_.reset();
  ASSERT_OK(SocketLb::Cleanup(bpf_root()));
  EXPECT_NE(access(bpf_root().c_str(), F_OK), 0) << bpf_root() << " still exists";
  absl::StatusOr<TcpClient> c = TcpClient::Connect(kVip4, 80);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(ErrnoOf(c.status()), EHOSTUNREACH) << "no translation after cleanup: " << c.status();
}

TEST_F(SocketLbTest, KernelMapErrorsNameTheMapAndTheOperation) {
  lb_.reset();
  reconciler_.reset();
  ASSERT_OK(SocketLb::Cleanup(bpf_root()));
  SocketLbConfig config;
  config.bpf_root = bpf_root();
  config.cgroup_root = cgroup_->path();
  config.capacity.services = 2;
  ASSERT_OK_AND_ASSIGN(lb_, SocketLb::Open(config));
  EXPECT_EQ(lb_->maps().capacity().services, 2u);
  LbMaps& maps = lb_->maps();
  L4Address frontend = At(kVip4, 80, Protocol::kTcp);
  ASSERT_OK(maps.UpdateService(MakeServiceKey(frontend, 0), lb_service_value{}));
  ASSERT_OK(maps.UpdateService(MakeServiceKey(frontend, 1), lb_service_value{}));
  absl::Status full = maps.UpdateService(MakeServiceKey(frontend, 2), lb_service_value{});
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_EQ(full.message(), "bpf map bpfp_svc_v1: update 10.96.0.10:80/TCP#2: Argument list too long (E2BIG)");
  absl::Status missing = maps.DeleteBackend(42);
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_EQ(missing.message(), "bpf map bpfp_be_v1: delete 42: No such file or directory (ENOENT)");

  // Through the reconciler: the Service that does not fit fails, clearly.
  ASSERT_OK(maps.DeleteService(MakeServiceKey(frontend, 1)));
  ASSERT_OK(maps.DeleteService(MakeServiceKey(frontend, 0)));
  ASSERT_OK_AND_ASSIGN(reconciler_, Reconciler::Create(&maps));
  absl::Status s = reconciler_->Upsert(frontend, Pods({0, 1, 2}, Protocol::kTcp));
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_NE(s.message().find("bpfp_svc_v1"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace bpfproxy
