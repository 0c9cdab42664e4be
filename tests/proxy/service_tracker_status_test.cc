// What the ServiceTracker tells health checks and metrics (health check
// Services with their local endpoints, no-local-endpoint counts) and how
// the external view shows up in TakeChanges().
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/service_tracker.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/proxy/service_tracker_test_util.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using json = nlohmann::json;
using k8s::testing::EndpointSpec;
using k8s::testing::MakeService;
using k8s::testing::MakeSlice;
using k8s::testing::Ready;
using k8s::testing::ServingTerminating;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using tracker_testing::ChangedNames;
using tracker_testing::DumpExternal;
using tracker_testing::WithExternalTrafficPolicyLocal;
using tracker_testing::WithHealthCheckNodePort;
using tracker_testing::WithIngress;
using tracker_testing::WithInternalTrafficPolicyLocal;
using tracker_testing::WithNodePorts;

constexpr char kNode[] = "node-a";

TrackerConfig Config() {
  return TrackerConfig{
      .node_name = kNode,
      .views = {.nodeport_addresses = {IpAddress::Parse("192.168.1.10").value()}, .external_view = true}};
}

// |name| with two ports (http 80 -> 8080, https 443 -> 8443).
json TwoPorts(const std::string& name, const std::string& ip = "10.96.0.10") {
  return MakeService("default", name, {ip}, {{"http", 80, "TCP", 8080}, {"https", 443, "TCP", 8443}});
}
json TwoPortSlice(const std::string& service, std::vector<EndpointSpec> endpoints, const std::string& type = "IPv4") {
  return MakeSlice("default", service + "-" + type, service, type, {{"http", 8080}, {"https", 8443}}, endpoints);
}
// A LoadBalancer with externalTrafficPolicy Local and health check node port
// |port|, as the API server allocates it.
json HealthChecked(json service, int port = 32001) {
  return WithHealthCheckNodePort(
      WithExternalTrafficPolicyLocal(WithIngress(WithNodePorts(service, {30080, 30443}), {{"198.51.100.7", ""}})),
      port);
}

HealthCheckService Check(const std::string& name, uint16_t port, size_t local) {
  return HealthCheckService{"default", name, port, local};
}

class TrackerStatusTest : public ::testing::Test {
 protected:
  ServiceTracker tracker_{Config()};
};

TEST_F(TrackerStatusTest, HealthCheckCountsDistinctReadyLocalEndpointIps) {
  ASSERT_OK(tracker_.UpsertService(HealthChecked(TwoPorts("web"))));
  // Two local ready pods (each behind both ports: counted once), a local
  // terminating one and a remote one: neither counts.
  ASSERT_OK(tracker_.UpsertEndpointSlice(
      TwoPortSlice("web", {Ready("10.244.1.5", kNode), Ready("10.244.1.6", kNode),
                           ServingTerminating("10.244.1.7", kNode), Ready("10.244.2.6", "node-b")})));
  EXPECT_THAT(tracker_.HealthCheckServices(), IsEmpty()) << "nothing is reported before it is taken";
  tracker_.TakeChanges();
  EXPECT_THAT(tracker_.HealthCheckServices(), ElementsAre(Check("web", 32001, 2)));
}

TEST_F(TrackerStatusTest, DualStackHealthCheckCountsEachFamilyApart) {
  // kube-proxy runs a proxier per family: a dual-stack pod is one local
  // endpoint on IPv4 and one on IPv6, never two; a probe gets its family's.
  ASSERT_OK(tracker_.UpsertService(HealthChecked(TwoPorts("web", "10.96.0.10"))));
  json dual = HealthChecked(MakeService("default", "dual", {"fd00:96::10", "10.96.0.20"},
                                        {{"http", 80, "TCP", 8080}, {"https", 443, "TCP", 8443}}),
                            32002);
  ASSERT_OK(tracker_.UpsertService(dual));
  ASSERT_OK(tracker_.UpsertEndpointSlice(
      TwoPortSlice("dual", {Ready("10.244.1.5", kNode), Ready("10.244.1.6", kNode)}, "IPv4")));
  ASSERT_OK(tracker_.UpsertEndpointSlice(TwoPortSlice("dual", {Ready("fd00:244:1::5", kNode)}, "IPv6")));
  ASSERT_OK(tracker_.UpsertEndpointSlice(TwoPortSlice("web", {Ready("10.244.1.5", kNode)}, "IPv4")));
  tracker_.TakeChanges();
  std::vector<HealthCheckService> checks = tracker_.HealthCheckServices();
  ASSERT_EQ(checks.size(), 2u);
  // ipFamilies[0] is IPv6: that is the primary count.
  EXPECT_EQ(checks[0], (HealthCheckService{.namespace_ = "default",
                                           .name = "dual",
                                           .node_port = 32002,
                                           .local_endpoints = 1,
                                           .secondary_local_endpoints = 2,
                                           .primary_ipv6 = true}));
  EXPECT_EQ(checks[0].LocalEndpointsFor(/*ipv6=*/true), 1u);
  EXPECT_EQ(checks[0].LocalEndpointsFor(/*ipv6=*/false), 2u);
  // Single-stack: every probe gets the one family's count.
  EXPECT_EQ(checks[1], Check("web", 32001, 1));
  EXPECT_EQ(checks[1].LocalEndpointsFor(/*ipv6=*/true), 1u);
}

TEST_F(TrackerStatusTest, OnlyLoadBalancersWithTheLocalPolicyHaveAHealthCheck) {
  // The API server sets healthCheckNodePort on these only; a stale field
  // elsewhere is ignored, as kube-proxy's NeedsHealthCheck does.
  ASSERT_OK(tracker_.UpsertService(
      WithHealthCheckNodePort(WithNodePorts(TwoPorts("nodeport", "10.96.0.11"), {30081, 30444}), 32002)));
  ASSERT_OK(tracker_.UpsertService(WithHealthCheckNodePort(
      WithIngress(WithNodePorts(TwoPorts("cluster-lb", "10.96.0.12"), {30082, 30445}), {{"198.51.100.8", ""}}),
      32003)));
  ASSERT_OK(tracker_.UpsertService(HealthChecked(TwoPorts("web"))));
  tracker_.TakeChanges();
  EXPECT_THAT(tracker_.HealthCheckServices(), ElementsAre(Check("web", 32001, 0)));
}

TEST_F(TrackerStatusTest, HealthCheckFollowsLocalEndpointsAndTheNodePort) {
  ASSERT_OK(tracker_.UpsertService(HealthChecked(TwoPorts("web"))));
  ASSERT_OK(tracker_.UpsertEndpointSlice(TwoPortSlice("web", {Ready("10.244.1.5", kNode)})));
  tracker_.TakeChanges();
  EXPECT_THAT(tracker_.HealthCheckServices(), ElementsAre(Check("web", 32001, 1)));

  ASSERT_OK(tracker_.UpsertEndpointSlice(TwoPortSlice("web", {Ready("10.244.2.6", "node-b")})));
  tracker_.TakeChanges();
  EXPECT_THAT(tracker_.HealthCheckServices(), ElementsAre(Check("web", 32001, 0)));

  // A new health check port changes no frontend, yet is reported.
  ASSERT_OK(tracker_.UpsertService(HealthChecked(TwoPorts("web"), 32009)));
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
  EXPECT_THAT(tracker_.HealthCheckServices(), ElementsAre(Check("web", 32009, 0)));

  ASSERT_OK(tracker_.DeleteService(TwoPorts("web")));
  tracker_.TakeChanges();
  EXPECT_THAT(tracker_.HealthCheckServices(), IsEmpty());
}

struct NoLocalCase {
  std::string name;
  json service;
  std::vector<json> slices;
  size_t internal = 0, external = 0;
};

void PrintTo(const NoLocalCase& c, std::ostream* os) { *os << c.name; }

class NoLocalEndpointsTest : public ::testing::TestWithParam<NoLocalCase> {};

std::vector<EndpointSpec> RemoteOnly() { return {Ready("10.244.2.6", "node-b")}; }

TEST_P(NoLocalEndpointsTest, CountsServicePortsWithALocalPolicyAndNoLocalEndpoint) {
  const NoLocalCase& c = GetParam();
  ServiceTracker tracker(Config());
  ASSERT_OK(tracker.UpsertService(c.service));
  for (const json& s : c.slices) ASSERT_OK(tracker.UpsertEndpointSlice(s));
  tracker.TakeChanges();
  EXPECT_EQ(tracker.no_local_endpoints_internal(), c.internal);
  EXPECT_EQ(tracker.no_local_endpoints_external(), c.external);
}

INSTANTIATE_TEST_SUITE_P(
    Policies, NoLocalEndpointsTest,
    ::testing::ValuesIn(std::vector<NoLocalCase>{
        {"InternalLocalRemoteOnlyCountsEachPort",
         WithInternalTrafficPolicyLocal(TwoPorts("web")),
         {TwoPortSlice("web", RemoteOnly())},
         2,
         0},
        {"ExternalLocalRemoteOnly",
         WithExternalTrafficPolicyLocal(WithNodePorts(TwoPorts("web"), {30080, 30443})),
         {TwoPortSlice("web", RemoteOnly())},
         0,
         2},
        {"BothLocalRemoteOnly",
         WithInternalTrafficPolicyLocal(WithExternalTrafficPolicyLocal(HealthChecked(TwoPorts("web")))),
         {TwoPortSlice("web", RemoteOnly())},
         2,
         2},
        {"ALocalEndpointIsEnough",
         WithInternalTrafficPolicyLocal(HealthChecked(TwoPorts("web"))),
         {TwoPortSlice("web", {Ready("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")})},
         0,
         0},
        {"ALocalTerminatingEndpointIsEnough",
         WithInternalTrafficPolicyLocal(HealthChecked(TwoPorts("web"))),
         {TwoPortSlice("web", {ServingTerminating("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")})},
         0,
         0},
        {"NoEndpointsAtAllIsNotCounted", WithInternalTrafficPolicyLocal(HealthChecked(TwoPorts("web"))), {}, 0, 0},
        {"ExternalLocalOnAClusterIpServiceIsNoPolicy",
         WithExternalTrafficPolicyLocal(TwoPorts("web")),
         {TwoPortSlice("web", RemoteOnly())},
         0,
         0},
        {"DualStackCountsEachFamily",
         WithInternalTrafficPolicyLocal(MakeService("default", "web", {"10.96.0.10", "fd00:96::10"},
                                                    {{"http", 80, "TCP", 8080}, {"https", 443, "TCP", 8443}})),
         {TwoPortSlice("web", RemoteOnly()), TwoPortSlice("web", {Ready("fd00:244::6", "node-b")}, "IPv6")},
         4,
         0},
    }),
    [](const ::testing::TestParamInfo<NoLocalCase>& info) { return info.param.name; });

TEST_F(TrackerStatusTest, NoLocalCountsAreAsOfTheLastCheckout) {
  ASSERT_OK(tracker_.UpsertService(WithInternalTrafficPolicyLocal(TwoPorts("web"))));
  ASSERT_OK(tracker_.UpsertEndpointSlice(TwoPortSlice("web", RemoteOnly())));
  ASSERT_OK(tracker_.UpsertService(WithInternalTrafficPolicyLocal(TwoPorts("api", "10.96.0.20"))));
  ASSERT_OK(tracker_.UpsertEndpointSlice(TwoPortSlice("api", RemoteOnly())));
  EXPECT_EQ(tracker_.no_local_endpoints_internal(), 0u);
  tracker_.TakeChanges();
  EXPECT_EQ(tracker_.no_local_endpoints_internal(), 4u);
  ASSERT_OK(tracker_.DeleteService(TwoPorts("web")));
  EXPECT_EQ(tracker_.no_local_endpoints_internal(), 4u);
  tracker_.TakeChanges();
  EXPECT_EQ(tracker_.no_local_endpoints_internal(), 2u);
  ASSERT_OK(tracker_.UpsertEndpointSlice(TwoPortSlice("api", {Ready("10.244.1.5", kNode)})));
  tracker_.TakeChanges();
  EXPECT_EQ(tracker_.no_local_endpoints_internal(), 0u);
}

// ---- The external view in TakeChanges() ----

json WebNodePort() {
  return WithNodePorts(MakeService("default", "web", {"10.96.0.10"}, {{"http", 80, "TCP", 8080}}), {30080});
}
json WebSlice(std::vector<EndpointSpec> endpoints) {
  return MakeSlice("default", "web-1", "web", "IPv4", {{"http", 8080}}, endpoints);
}

TEST_F(TrackerStatusTest, AnExternalPolicySwitchChangesTheExternalViewOnly) {
  ASSERT_OK(tracker_.UpsertService(WebNodePort()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice({Ready("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertService(WithExternalTrafficPolicyLocal(WebNodePort())));
  absl::btree_map<ServiceName, FrontendChange> changes = tracker_.TakeChanges();
  ASSERT_THAT(ChangedNames(changes), ElementsAre("default/web"));
  const FrontendChange& change = changes.begin()->second;
  EXPECT_EQ(change.previous, change.current) << "pods and the node still use every endpoint";
  EXPECT_THAT(DumpExternal(change.external_previous),
              ElementsAre("192.168.1.10:30080/TCP -> 10.244.1.5:8080/TCP 10.244.2.6:8080/TCP flags=none"));
  EXPECT_THAT(DumpExternal(change.external_current),
              ElementsAre("192.168.1.10:30080/TCP -> 10.244.1.5:8080/TCP flags=preserve-source"));
}

TEST_F(TrackerStatusTest, LosingTheLastLocalEndpointTurnsRejectIntoDrop) {
  ASSERT_OK(tracker_.UpsertService(WithExternalTrafficPolicyLocal(WebNodePort())));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice({Ready("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice({Ready("10.244.2.6", "node-b")})));
  absl::btree_map<ServiceName, FrontendChange> changes = tracker_.TakeChanges();
  ASSERT_THAT(ChangedNames(changes), ElementsAre("default/web"));
  EXPECT_THAT(DumpExternal(changes.begin()->second.external_current),
              ElementsAre("192.168.1.10:30080/TCP -> none flags=preserve-source,drop-no-backend"));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice({})));
  changes = tracker_.TakeChanges();
  ASSERT_THAT(ChangedNames(changes), ElementsAre("default/web"));
  EXPECT_THAT(DumpExternal(changes.begin()->second.external_current),
              ElementsAre("192.168.1.10:30080/TCP -> none flags=preserve-source"));
}

TEST_F(TrackerStatusTest, ATypeChangeFromNodePortToClusterIpRemovesTheExternalFrontends) {
  ASSERT_OK(tracker_.UpsertService(WebNodePort()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice({Ready("10.244.1.5", kNode)})));
  tracker_.TakeChanges();
  // The API server clears the node ports when the type goes back.
  ASSERT_OK(tracker_.UpsertService(MakeService("default", "web", {"10.96.0.10"}, {{"http", 80, "TCP", 8080}})));
  absl::btree_map<ServiceName, FrontendChange> changes = tracker_.TakeChanges();
  ASSERT_THAT(ChangedNames(changes), ElementsAre("default/web"));
  EXPECT_TRUE(changes.begin()->second.external_current.empty());
  EXPECT_THAT(tracker_testing::Dump(changes.begin()->second.current, {}),
              ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP"));
  EXPECT_TRUE(tracker_.AllExternalFrontends().empty());
}

}  // namespace
}  // namespace bpfproxy
