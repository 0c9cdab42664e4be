// End to end: the API server emulator (HTTPS, bearer token) and the daemon
// in a node namespace, backends in pod namespaces, clients in the socket-LB
// cgroup. Objects go into the emulator; the test observes what a client
// reaches, and what the pinned maps hold.
#include <bpf/bpf.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <set>
#include <filesystem>
#include <thread>

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "e2e/apiserver/emulator.h"
#include "e2e/apiserver/test_pki.h"
#include "proxy/bpf_lb_maps.h"
#include "proxy/mounts.h"
#include "e2e/k8s_objects.h"
#include "tests/kernel/socket_lb_fixture.h"
#include "e2e/process.h"

namespace bpfproxy {
namespace {

using e2e::apiserver::ApiServerEmulator;
using e2e::EndpointSpec;
using e2e::L4;
using e2e::NodeObject;
using e2e::NotReady;
using e2e::Process;
using e2e::Ready;
using e2e::ServiceObject;
using e2e::SliceObject;
using e2e::Terminating;

constexpr char kNode[] = "node-a";

class DaemonE2eTest : public NodeFixture {
 protected:
  void SetUp() override {
    // The emulator's listener, and the daemon, live in the node namespace.
    ASSERT_NO_FATAL_FAILURE(SetUpNode({8080, 9090}));
    dir_ = bpffs_->path() + "-e2e";
    ASSERT_OK(MakeDirs(dir_));
    ASSERT_OK_AND_ASSIGN(pki_, e2e::apiserver::MakeTestPki(dir_, {"127.0.0.1"}));
    e2e::apiserver::EmulatorConfig config;
    config.server.tls_cert_file = pki_.server_cert;
    config.server.tls_key_file = pki_.server_key;
    config.token = pki_.token;
    config.initial_objects = {NodeObject(kNode, "zone-a")};
    ASSERT_OK_AND_ASSIGN(emulator_, ApiServerEmulator::Start(config));
    ASSERT_OK_AND_ASSIGN(kubeconfig_, pki_.WriteKubeconfig(emulator_->url()));
    ASSERT_NO_FATAL_FAILURE(StartDaemon());
  }

  void TearDown() override {
    daemon_.reset();
    if (HasFailure() && !dir_.empty()) std::fprintf(stderr, "daemon log:\n%s\n", e2e::ReadFile(Log()).c_str());
    emulator_.reset();
    LeaveNode();
    if (node_ready()) EXPECT_OK(SocketLb::Cleanup(bpf_root()));
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string Log() const { return dir_ + "/daemon.log"; }

  void StartDaemon() {
    ASSERT_OK_AND_ASSIGN(daemon_, Process::Start({BPFPROXY_BINARY, "--kubeconfig=" + kubeconfig_,
                                                  std::string("--hostname-override=") + kNode,
                                                  "--bpf-root=" + bpf_root(), "--cgroup-root=" + cgroup_->path(),
                                                  "--iptables-min-sync-period=0", "--v=2"},
                                                 Log()));
  }

  void Apply(const nlohmann::json& object) { ASSERT_OK(emulator_->Apply(object)); }

  // What the pinned maps hold, read the way a restarted daemon reads them.
  DesiredFrontends Programmed() {
    auto open = [&](const char* name) { return UniqueFd(bpf_obj_get((bpf_root() + "/maps/" + name).c_str())); };
    BpfLbMaps maps(open(LB_SERVICES_MAP_NAME), open(LB_BACKENDS_MAP_NAME), open(LB_MEMBERS_MAP_NAME), {});
    absl::StatusOr<std::unique_ptr<Reconciler>> r = Reconciler::Create(&maps);
    return r.ok() ? (*r)->Applied() : DesiredFrontends{};
  }

  // Backends (or errors) reached by 30 TCP connections to ip:port.
  static std::set<std::string> Reached(const IpAddress& ip, uint16_t port) {
    std::set<std::string> out;
    for (int i = 0; i < 30; ++i) {
      absl::StatusOr<TcpClient> c = TcpClient::Connect(ip, port);
      absl::StatusOr<std::string> line = c.ok() ? c->Request() : c.status();
      out.insert(line.ok() ? BackendOf(*line) : absl::StrCat("error: ", strerror(ErrnoOf(line.status()))));
    }
    return out;
  }

  // Polls until 30 connections to ip:port reach exactly |want|.
  ::testing::AssertionResult Eventually(const IpAddress& ip, uint16_t port, const std::set<std::string>& want) {
    std::set<std::string> got;
    for (absl::Time end = absl::Now() + absl::Seconds(15); absl::Now() < end;) {
      if ((got = Reached(ip, port)) == want) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(50));
    }
    return ::testing::AssertionFailure() << HostPort(ip, port) << " reached {" << absl::StrJoin(got, ", ")
                                         << "}, want {" << absl::StrJoin(want, ", ") << "}";
  }

  ::testing::AssertionResult EventuallyProgrammed(const DesiredFrontends& want) {
    DesiredFrontends got;
    for (absl::Time end = absl::Now() + absl::Seconds(15); absl::Now() < end;) {
      got = Programmed();
      for (auto& [f, b] : got) std::sort(b.begin(), b.end());
      if (got == want) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(50));
    }
    std::vector<std::string> lines;
    for (const auto& [f, b] : got) {
      std::vector<std::string> bs;
      for (const L4Address& a : b) bs.push_back(a.ToString());
      lines.push_back(f.ToString() + " -> " + absl::StrJoin(bs, ","));
    }
    return ::testing::AssertionFailure() << "programmed: " << absl::StrJoin(lines, "; ");
  }

  static std::string Pod(int i, uint16_t port = 8080) { return HostPort(PodTopology::pod_ip4(i), port); }
  static std::string Err(int e) { return absl::StrCat("error: ", strerror(e)); }

  std::string dir_, kubeconfig_;
  e2e::apiserver::TestPki pki_;
  std::unique_ptr<ApiServerEmulator> emulator_;
  std::unique_ptr<Process> daemon_;
};

const IpAddress kWebVip = Ip("10.96.0.10");

TEST_F(DaemonE2eTest, ServiceWithTwoBackendsAnswersOverTcpAndUdp) {
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}, {"dns", 53, "UDP"}}));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}, {"dns", 8080, "UDP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), "node-b")}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0), Pod(1)}));
  std::set<std::string> udp;
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK_AND_ASSIGN(e2e::UdpReply reply, e2e::UdpExchange(kWebVip, 53));
    EXPECT_EQ(reply.source, "10.96.0.10:53");
    udp.insert(BackendOf(reply.line));
  }
  EXPECT_EQ(udp, (std::set<std::string>{Pod(0), Pod(1)}));
}

TEST_F(DaemonE2eTest, MultiPortServiceMatchesPortsByName) {
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}, {"admin", 81, "TCP"}}));
  // Ports listed in another order than the Service's: matched by name.
  Apply(SliceObject("web", "web-1", {{"admin", 9090, "TCP"}, {"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(2), kNode)}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(2, 8080)}));
  EXPECT_TRUE(Eventually(kWebVip, 81, {Pod(2, 9090)}));
}

TEST_F(DaemonE2eTest, EndpointsScaleUpAndDown) {
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}}, {Ready(PodTopology::pod_ip4(0), kNode)}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0)}));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), kNode),
                     Ready(PodTopology::pod_ip4(2), kNode)}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0), Pod(1), Pod(2)}));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}}, {Ready(PodTopology::pod_ip4(2), kNode)}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(2)}));
}

TEST_F(DaemonE2eTest, NotReadyEndpointsLeaveAndTerminatingOnesServeAsALastResort) {
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  auto slice = [&](EndpointSpec a, EndpointSpec b) {
    Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}}, {a, b}));
  };
  slice(Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), kNode));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0), Pod(1)}));
  slice(Ready(PodTopology::pod_ip4(0), kNode), NotReady(PodTopology::pod_ip4(1), kNode));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0)}));
  // No ready endpoint: the serving, terminating one takes the traffic.
  slice(Terminating(PodTopology::pod_ip4(0), kNode, /*serving=*/true), NotReady(PodTopology::pod_ip4(1), kNode));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0)}));
  slice(Terminating(PodTopology::pod_ip4(0), kNode, /*serving=*/false), NotReady(PodTopology::pod_ip4(1), kNode));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Err(ECONNREFUSED)}));
}

TEST_F(DaemonE2eTest, ServiceWithoutEndpointsIsRefusedAndADeletedOneIsUntouched) {
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Err(ECONNREFUSED)}));
  ASSERT_OK(emulator_->Delete("services", "default", "web").status());
  EXPECT_TRUE(Eventually(kWebVip, 80, {Err(EHOSTUNREACH)})) << "no longer a Service: the unreachable route answers";
}

TEST_F(DaemonE2eTest, ServiceProxyNameLabelTogglesTheVip) {
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}}, {Ready(PodTopology::pod_ip4(0), kNode)}));
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0)}));
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}, {{"service.kubernetes.io/service-proxy-name", "other"}}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Err(EHOSTUNREACH)})) << "another proxy's Service is not ours";
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0)}));
}

TEST_F(DaemonE2eTest, AfterCompactionAndCutWatchesTheDatapathMatchesTheStoreExactly) {
  Apply(ServiceObject("a", "10.96.0.1", {{"http", 80, "TCP"}}));
  Apply(SliceObject("a", "a-1", {{"http", 8080, "TCP"}}, {Ready(PodTopology::pod_ip4(0), kNode)}));
  Apply(ServiceObject("b", "10.96.0.2", {{"http", 80, "TCP"}}));
  Apply(SliceObject("b", "b-1", {{"http", 8080, "TCP"}}, {Ready(PodTopology::pod_ip4(1), kNode)}));
  ASSERT_TRUE(EventuallyProgrammed({{L4("10.96.0.1:80/TCP"), {L4("10.244.0.10:8080/TCP")}},
                                    {L4("10.96.0.2:80/TCP"), {L4("10.244.0.11:8080/TCP")}}}));
  ASSERT_TRUE(emulator_->WaitForOpenWatches(3, absl::Seconds(10)));

  // Watches drop; while the daemon is away, history moves on and is
  // compacted, so it must relist and notice what vanished.
  emulator_->CutWatches();
  ASSERT_OK(emulator_->Delete("services", "default", "a").status());
  ASSERT_OK(emulator_->Delete("endpointslices", "default", "a-1").status());
  Apply(SliceObject("b", "b-1", {{"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(1), kNode), Ready(PodTopology::pod_ip4(2), kNode)}));
  Apply(ServiceObject("c", "10.96.0.3", {{"http", 80, "TCP"}}));
  emulator_->Compact();
  emulator_->CutWatches();

  EXPECT_TRUE(EventuallyProgrammed({{L4("10.96.0.2:80/TCP"), {L4("10.244.0.11:8080/TCP"), L4("10.244.0.12:8080/TCP")}},
                                    {L4("10.96.0.3:80/TCP"), {}}}));
  EXPECT_TRUE(Eventually(Ip("10.96.0.1"), 80, {Err(EHOSTUNREACH)}));
  EXPECT_TRUE(Eventually(Ip("10.96.0.2"), 80, {Pod(1), Pod(2)}));
}

TEST_F(DaemonE2eTest, RestartKeepsOpenConnectionsAndNewOnesWorkThroughout) {
  Apply(ServiceObject("web", "10.96.0.10", {{"http", 80, "TCP"}}));
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), kNode)}));
  ASSERT_TRUE(Eventually(kWebVip, 80, {Pod(0), Pod(1)}));
  ASSERT_OK_AND_ASSIGN(TcpClient open, TcpClient::Connect(kWebVip, 80));
  ASSERT_OK_AND_ASSIGN(std::string first, open.Request());

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread prober([&] {
    auto entered = topology_->node().Enter();
    while (!stop && entered.ok()) {
      absl::StatusOr<TcpClient> c = TcpClient::Connect(kWebVip, 80);
      (c.ok() && c->Request().ok() ? ok : failed)++;
    }
  });
  daemon_->Signal(SIGTERM);
  EXPECT_EQ(daemon_->Wait(), 0);
  absl::SleepFor(absl::Milliseconds(300));  // No daemon at all.
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  // The restarted daemon picks up a change made while it was starting.
  Apply(SliceObject("web", "web-1", {{"http", 8080, "TCP"}},
                    {Ready(PodTopology::pod_ip4(0), kNode), Ready(PodTopology::pod_ip4(1), kNode),
                     Ready(PodTopology::pod_ip4(2), kNode)}));
  EXPECT_TRUE(Eventually(kWebVip, 80, {Pod(0), Pod(1), Pod(2)}));
  stop = true;
  prober.join();
  EXPECT_EQ(failed, 0) << "connections failed during the restart";
  EXPECT_GT(ok, 0);
  ASSERT_OK_AND_ASSIGN(std::string again, open.Request());
  EXPECT_EQ(BackendOf(again), BackendOf(first));
}

}  // namespace
}  // namespace bpfproxy
