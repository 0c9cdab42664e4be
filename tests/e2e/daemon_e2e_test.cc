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
#include "tests/kernel/daemon_node_fixture.h"
#include "tests/kernel/socket_lb_fixture.h"
#include "e2e/process.h"

namespace bpfproxy {
namespace {

using e2e::EndpointSpec;
using e2e::L4;
using e2e::NotReady;
using e2e::Ready;
using e2e::ServiceObject;
using e2e::SliceObject;
using e2e::Terminating;

constexpr const char* kNode = DaemonNodeFixture::kNodeName;

class DaemonE2eTest : public DaemonNodeFixture {
 protected:
  void SetUp() override {
    // The emulator's listener, and the daemon, live in the node namespace.
    ASSERT_NO_FATAL_FAILURE(SetUpDaemonNode({8080, 9090}, "e2e"));
    ASSERT_NO_FATAL_FAILURE(StartDaemon({"--iptables-min-sync-period=0", "--v=2"}));
  }

  // What the pinned maps hold, read the way a restarted daemon reads them.
  DesiredFrontends Programmed() {
    auto open = [&](const char* name) { return UniqueFd(bpf_obj_get((bpf_root() + "/maps/" + name).c_str())); };
    BpfLbMaps maps(open(LB_SERVICES_MAP_NAME), open(LB_BACKENDS_MAP_NAME), open(LB_MEMBERS_MAP_NAME), {});
    absl::StatusOr<std::unique_ptr<Reconciler>> r = Reconciler::Create(&maps);
    return r.ok() ? (*r)->Applied() : DesiredFrontends{};
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
  ASSERT_NO_FATAL_FAILURE(StartDaemon({"--iptables-min-sync-period=0", "--v=2"}));
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
