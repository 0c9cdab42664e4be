// Both views of a Service, one shape per case: the exact frontends, backends
// and verdicts of the socket view (pods and the node) and the frontends,
// backends and policies of the external view (clients outside the node).
// Every case is fed to a ServiceTracker; what TakeChanges() hands out must
// agree with AllViews().
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
using k8s::testing::MakeNode;
using k8s::testing::MakeService;
using k8s::testing::MakeSlice;
using k8s::testing::PortSpec;
using k8s::testing::Ready;
using k8s::testing::ServingTerminating;
using k8s::testing::SlicePortSpec;
using ::testing::ElementsAreArray;
using tracker_testing::Dump;
using tracker_testing::DumpExternal;
using tracker_testing::WithExternalIps;
using tracker_testing::WithExternalTrafficPolicyLocal;
using tracker_testing::WithIngress;
using tracker_testing::WithInternalTrafficPolicyLocal;
using tracker_testing::WithNodePorts;
using tracker_testing::WithSourceRanges;
using tracker_testing::WithType;

constexpr char kNode[] = "node-a";

IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }

// The node: two IPv4 addresses and one IPv6 address serve NodePorts.
ViewConfig NodeViews() {
  return ViewConfig{.nodeport_addresses = {Ip("192.168.1.10"), Ip("192.168.2.10"), Ip("fd00:1::10")},
                    .localhost_nodeports = true,
                    .external_view = true,
                    .cluster_ips_in_external_view = false};
}
ViewConfig HostOnlyViews() {
  ViewConfig views = NodeViews();
  views.cluster_ips_in_external_view = true;
  return views;
}

struct ViewsCase {
  std::string name;
  std::vector<json> services;
  std::vector<json> slices;
  std::vector<std::string> socket;    // Dump() lines.
  std::vector<std::string> external;  // DumpExternal() lines.
  ViewConfig views = NodeViews();
};

void PrintTo(const ViewsCase& c, std::ostream* os) { *os << c.name; }

// default/web: 10.96.0.10 (and fd00:96::10 when dual-stack), http 80 -> 8080.
json Web(std::vector<PortSpec> ports = {{"http", 80, "TCP", 8080}}, std::vector<std::string> ips = {"10.96.0.10"}) {
  return MakeService("default", "web", ips, ports);
}
json WebNodePort(int node_port = 30080) { return WithNodePorts(Web(), {node_port}); }
json WebSlice(std::vector<EndpointSpec> endpoints, std::vector<SlicePortSpec> ports = {{"http", 8080}},
              const std::string& type = "IPv4", const std::string& name = "web-1") {
  return MakeSlice("default", name, "web", type, ports, endpoints);
}
// One endpoint on this node, one on another.
json LocalAndRemote() { return WebSlice({Ready("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")}); }
json RemoteOnly() { return WebSlice({Ready("10.244.2.6", "node-b")}); }

constexpr char kBoth[] = "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP";
constexpr char kLocal[] = "10.244.1.5:8080/TCP";
constexpr char kRemote[] = "10.244.2.6:8080/TCP";

std::string Line(const std::string& frontend, const std::string& rest) { return frontend + " -> " + rest; }

std::vector<ViewsCase> Cases() {
  const std::string both = kBoth;
  return {
      // ---- NodePorts ----
      {"NodePortOnEveryNodeAddressAndLocalhost",
       {WebNodePort()},
       {LocalAndRemote()},
       {Line("10.96.0.10:80/TCP", both), Line("127.0.0.1:30080/TCP", both), Line("192.168.1.10:30080/TCP", both),
        Line("192.168.2.10:30080/TCP", both)},
       {Line("192.168.1.10:30080/TCP", both + " flags=none"), Line("192.168.2.10:30080/TCP", both + " flags=none")}},
      {"NodePortDualStackEachFamilyOnItsOwnAddresses",
       {WithNodePorts(Web({{"http", 80, "TCP", 8080}}, {"10.96.0.10", "fd00:96::10"}), {30080})},
       {WebSlice({Ready("10.244.1.5", kNode)}),
        WebSlice({Ready("fd00:244::5", kNode)}, {{"http", 8080}}, "IPv6", "web-v6")},
       {Line("10.96.0.10:80/TCP", kLocal), Line("127.0.0.1:30080/TCP", kLocal), Line("192.168.1.10:30080/TCP", kLocal),
        Line("192.168.2.10:30080/TCP", kLocal), Line("[fd00:1::10]:30080/TCP", "[fd00:244::5]:8080/TCP"),
        Line("[fd00:96::10]:80/TCP", "[fd00:244::5]:8080/TCP")},
       {Line("192.168.1.10:30080/TCP", "10.244.1.5:8080/TCP flags=none"),
        Line("192.168.2.10:30080/TCP", "10.244.1.5:8080/TCP flags=none"),
        Line("[fd00:1::10]:30080/TCP", "[fd00:244::5]:8080/TCP flags=none")}},
      {"NodePortIpv6OnlyHasNoLocalhost",
       {WithNodePorts(Web({{"http", 80, "TCP", 8080}}, {"fd00:96::10"}), {30080})},
       {WebSlice({Ready("fd00:244::5", kNode)}, {{"http", 8080}}, "IPv6")},
       {Line("[fd00:1::10]:30080/TCP", "[fd00:244::5]:8080/TCP"),
        Line("[fd00:96::10]:80/TCP", "[fd00:244::5]:8080/TCP")},
       {Line("[fd00:1::10]:30080/TCP", "[fd00:244::5]:8080/TCP flags=none")}},
      {"UdpNodePort",
       {WithNodePorts(Web({{"dns", 53, "UDP", 5353}}), {30053})},
       {WebSlice({Ready("10.244.1.5", kNode)}, {{"dns", 5353, "UDP"}})},
       {Line("10.96.0.10:53/UDP", "10.244.1.5:5353/UDP"), Line("127.0.0.1:30053/UDP", "10.244.1.5:5353/UDP"),
        Line("192.168.1.10:30053/UDP", "10.244.1.5:5353/UDP"), Line("192.168.2.10:30053/UDP", "10.244.1.5:5353/UDP")},
       {Line("192.168.1.10:30053/UDP", "10.244.1.5:5353/UDP flags=none"),
        Line("192.168.2.10:30053/UDP", "10.244.1.5:5353/UDP flags=none")}},
      {"OneNodePortNumberPerProtocolIsTwoFrontends",
       {WithNodePorts(Web({{"dns-tcp", 53, "TCP", 5353}, {"dns-udp", 53, "UDP", 5353}}), {30053, 30053})},
       {WebSlice({Ready("10.244.1.5", kNode)}, {{"dns-tcp", 5353, "TCP"}, {"dns-udp", 5353, "UDP"}})},
       {Line("10.96.0.10:53/TCP", "10.244.1.5:5353/TCP"), Line("10.96.0.10:53/UDP", "10.244.1.5:5353/UDP"),
        Line("127.0.0.1:30053/TCP", "10.244.1.5:5353/TCP"), Line("127.0.0.1:30053/UDP", "10.244.1.5:5353/UDP"),
        Line("192.168.1.10:30053/TCP", "10.244.1.5:5353/TCP"), Line("192.168.1.10:30053/UDP", "10.244.1.5:5353/UDP"),
        Line("192.168.2.10:30053/TCP", "10.244.1.5:5353/TCP"), Line("192.168.2.10:30053/UDP", "10.244.1.5:5353/UDP")},
       {Line("192.168.1.10:30053/TCP", "10.244.1.5:5353/TCP flags=none"),
        Line("192.168.1.10:30053/UDP", "10.244.1.5:5353/UDP flags=none"),
        Line("192.168.2.10:30053/TCP", "10.244.1.5:5353/TCP flags=none"),
        Line("192.168.2.10:30053/UDP", "10.244.1.5:5353/UDP flags=none")}},
      {"SctpIsServedByTheSocketViewOnly",
       {WithNodePorts(Web({{"sig", 3868, "SCTP"}}), {30868})},
       {WebSlice({Ready("10.244.1.5", kNode)}, {{"sig", 3868, "SCTP"}})},
       {Line("10.96.0.10:3868/SCTP", "10.244.1.5:3868/SCTP"), Line("127.0.0.1:30868/SCTP", "10.244.1.5:3868/SCTP"),
        Line("192.168.1.10:30868/SCTP", "10.244.1.5:3868/SCTP"),
        Line("192.168.2.10:30868/SCTP", "10.244.1.5:3868/SCTP")},
       {}},
      {"NodePortWithoutEndpointsRejectsInBothViews",
       {WebNodePort()},
       {},
       {Line("10.96.0.10:80/TCP", "REJECT"), Line("127.0.0.1:30080/TCP", "REJECT"),
        Line("192.168.1.10:30080/TCP", "REJECT"), Line("192.168.2.10:30080/TCP", "REJECT")},
       {Line("192.168.1.10:30080/TCP", "none flags=none"), Line("192.168.2.10:30080/TCP", "none flags=none")}},
      {"LocalhostNodePortsOff",
       {WebNodePort()},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", kRemote), Line("192.168.1.10:30080/TCP", kRemote),
        Line("192.168.2.10:30080/TCP", kRemote)},
       {Line("192.168.1.10:30080/TCP", std::string(kRemote) + " flags=none"),
        Line("192.168.2.10:30080/TCP", std::string(kRemote) + " flags=none")},
       ViewConfig{.nodeport_addresses = {Ip("192.168.1.10"), Ip("192.168.2.10")},
                  .localhost_nodeports = false,
                  .external_view = true}},
      {"NoNodePortAddressesLeavesLocalhostOnly",
       {WebNodePort()},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", kRemote), Line("127.0.0.1:30080/TCP", kRemote)},
       {},
       ViewConfig{.external_view = true}},
      {"ExternalViewOffComputesNoExternalFrontends",
       {WithExternalTrafficPolicyLocal(WebNodePort())},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", kRemote), Line("127.0.0.1:30080/TCP", kRemote),
        Line("192.168.1.10:30080/TCP", kRemote), Line("192.168.2.10:30080/TCP", kRemote)},
       {},
       ViewConfig{.nodeport_addresses = {Ip("192.168.1.10"), Ip("192.168.2.10")}}},
      // ---- externalIPs ----
      {"ExternalIpsOfTheServicesFamily",
       {WithExternalIps(Web(), {"203.0.113.7", "2001:db8::7"})},
       {LocalAndRemote()},
       {Line("10.96.0.10:80/TCP", both), Line("203.0.113.7:80/TCP", both)},
       {Line("203.0.113.7:80/TCP", both + " flags=none")}},
      {"ExternalTrafficPolicyLocalIsIgnoredOnAClusterIpService",
       {WithExternalTrafficPolicyLocal(WithExternalIps(Web(), {"203.0.113.7"}))},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", kRemote), Line("203.0.113.7:80/TCP", kRemote)},
       {Line("203.0.113.7:80/TCP", std::string(kRemote) + " flags=none")}},
      // ---- LoadBalancer ingress ----
      {"LoadBalancerIpsWithIpModeUnsetOrVip",
       {WithIngress(
           Web(),
           {{"198.51.100.7", "VIP"}, {"198.51.100.8", ""}, {"198.51.100.9", "Proxy"}, {"2001:db8:ffff::7", "VIP"}})},
       {LocalAndRemote()},
       {Line("10.96.0.10:80/TCP", both), Line("198.51.100.7:80/TCP", both), Line("198.51.100.8:80/TCP", both)},
       {Line("198.51.100.7:80/TCP", both + " flags=none"), Line("198.51.100.8:80/TCP", both + " flags=none")}},
      {"SourceRangesOfTheFamilyApplyToLoadBalancerIpsOnly",
       {WithSourceRanges(
           WithNodePorts(WithExternalIps(WithIngress(Web(), {{"198.51.100.7", ""}}), {"203.0.113.7"}), {30080}),
           {"203.0.113.0/24", "10.1.2.3/8", "2001:db8:1::/48"})},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", kRemote), Line("127.0.0.1:30080/TCP", kRemote),
        Line("192.168.1.10:30080/TCP", kRemote), Line("192.168.2.10:30080/TCP", kRemote),
        Line("198.51.100.7:80/TCP", kRemote), Line("203.0.113.7:80/TCP", kRemote)},
       {Line("192.168.1.10:30080/TCP", std::string(kRemote) + " flags=none"),
        Line("192.168.2.10:30080/TCP", std::string(kRemote) + " flags=none"),
        Line("198.51.100.7:80/TCP", std::string(kRemote) + " flags=source-ranges ranges=10.0.0.0/8,203.0.113.0/24"),
        Line("203.0.113.7:80/TCP", std::string(kRemote) + " flags=none")}},
      {"SourceRangesOfTheOtherFamilyOnlyAllowEverySource",
       {WithSourceRanges(WithIngress(Web(), {{"198.51.100.7", ""}}), {"2001:db8:1::/48"})},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", kRemote), Line("198.51.100.7:80/TCP", kRemote)},
       {Line("198.51.100.7:80/TCP", std::string(kRemote) + " flags=none")}},
      {"AnExternalIpThatIsAlsoTheLoadBalancerIpKeepsTheSourceRanges",
       {WithSourceRanges(WithExternalIps(WithIngress(Web(), {{"198.51.100.7", ""}}), {"198.51.100.7"}),
                         {"203.0.113.0/24"})},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", kRemote), Line("198.51.100.7:80/TCP", kRemote)},
       {Line("198.51.100.7:80/TCP", std::string(kRemote) + " flags=source-ranges ranges=203.0.113.0/24")}},
      // ---- externalTrafficPolicy: Local ----
      {"ExternalLocalSendsOutsideTrafficToLocalEndpointsOnly",
       {WithExternalTrafficPolicyLocal(WithExternalIps(WebNodePort(), {"203.0.113.7"}))},
       {LocalAndRemote()},
       {Line("10.96.0.10:80/TCP", both), Line("127.0.0.1:30080/TCP", both), Line("192.168.1.10:30080/TCP", both),
        Line("192.168.2.10:30080/TCP", both), Line("203.0.113.7:80/TCP", both)},
       {Line("192.168.1.10:30080/TCP", std::string(kLocal) + " flags=preserve-source"),
        Line("192.168.2.10:30080/TCP", std::string(kLocal) + " flags=preserve-source"),
        Line("203.0.113.7:80/TCP", std::string(kLocal) + " flags=preserve-source")}},
      {"ExternalLocalWithRemoteEndpointsOnlyDrops",
       {WithExternalTrafficPolicyLocal(WithIngress(WebNodePort(), {{"198.51.100.7", ""}}))},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", kRemote), Line("127.0.0.1:30080/TCP", kRemote),
        Line("192.168.1.10:30080/TCP", kRemote), Line("192.168.2.10:30080/TCP", kRemote),
        Line("198.51.100.7:80/TCP", kRemote)},
       {Line("192.168.1.10:30080/TCP", "none flags=preserve-source,drop-no-backend"),
        Line("192.168.2.10:30080/TCP", "none flags=preserve-source,drop-no-backend"),
        Line("198.51.100.7:80/TCP", "none flags=preserve-source,drop-no-backend")}},
      {"ExternalLocalWithoutAnyEndpointRejects",
       {WithExternalTrafficPolicyLocal(WebNodePort())},
       {WebSlice({})},
       {Line("10.96.0.10:80/TCP", "REJECT"), Line("127.0.0.1:30080/TCP", "REJECT"),
        Line("192.168.1.10:30080/TCP", "REJECT"), Line("192.168.2.10:30080/TCP", "REJECT")},
       {Line("192.168.1.10:30080/TCP", "none flags=preserve-source"),
        Line("192.168.2.10:30080/TCP", "none flags=preserve-source")}},
      {"ExternalLocalFallsBackToALocalTerminatingEndpoint",
       {WithExternalTrafficPolicyLocal(WebNodePort())},
       {WebSlice({ServingTerminating("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")})},
       {Line("10.96.0.10:80/TCP", kRemote), Line("127.0.0.1:30080/TCP", kRemote),
        Line("192.168.1.10:30080/TCP", kRemote), Line("192.168.2.10:30080/TCP", kRemote)},
       {Line("192.168.1.10:30080/TCP", std::string(kLocal) + " flags=preserve-source"),
        Line("192.168.2.10:30080/TCP", std::string(kLocal) + " flags=preserve-source")}},
      {"ExternalLocalWithSourceRanges",
       {WithSourceRanges(WithExternalTrafficPolicyLocal(WithIngress(Web(), {{"198.51.100.7", ""}})),
                         {"203.0.113.0/24"})},
       {LocalAndRemote()},
       {Line("10.96.0.10:80/TCP", both), Line("198.51.100.7:80/TCP", both)},
       {Line("198.51.100.7:80/TCP",
             std::string(kLocal) + " flags=preserve-source,source-ranges ranges=203.0.113.0/24")}},
      // ---- --socket-lb=host-only: ClusterIPs per packet ----
      {"HostOnlyPutsClusterIpsInTheExternalView",
       {WithNodePorts(Web(), {30080})},
       {LocalAndRemote()},
       {Line("10.96.0.10:80/TCP", both), Line("127.0.0.1:30080/TCP", both), Line("192.168.1.10:30080/TCP", both),
        Line("192.168.2.10:30080/TCP", both)},
       {Line("10.96.0.10:80/TCP", both + " flags=preserve-source"),
        Line("192.168.1.10:30080/TCP", both + " flags=none"), Line("192.168.2.10:30080/TCP", both + " flags=none")},
       HostOnlyViews()},
      {"HostOnlyInternalLocalWithRemoteEndpointsOnlyDrops",
       {WithInternalTrafficPolicyLocal(Web())},
       {RemoteOnly()},
       {Line("10.96.0.10:80/TCP", "DROP")},
       {Line("10.96.0.10:80/TCP", "none flags=preserve-source,drop-no-backend")},
       HostOnlyViews()},
      {"HostOnlyInternalLocalWithALocalEndpoint",
       {WithInternalTrafficPolicyLocal(Web())},
       {LocalAndRemote()},
       {Line("10.96.0.10:80/TCP", kLocal)},
       {Line("10.96.0.10:80/TCP", std::string(kLocal) + " flags=preserve-source")},
       HostOnlyViews()},
      // ---- Services that program nothing ----
      {"HeadlessWithExternalIpsProgramsNothing",
       {WithExternalIps(Web({{"http", 80}}, {"None"}), {"203.0.113.7"})},
       {LocalAndRemote()},
       {},
       {}},
      {"ExternalNameProgramsNothing",
       {WithType(WithExternalIps(Web(), {"203.0.113.7"}), "ExternalName")},
       {LocalAndRemote()},
       {},
       {}},
  };
}

class ServiceViewsTest : public ::testing::TestWithParam<ViewsCase> {
 protected:
  void SetUp() override {
    const ViewsCase& c = GetParam();
    ServiceTracker tracker(TrackerConfig{.node_name = kNode, .views = c.views});
    ASSERT_OK(tracker.UpsertNode(MakeNode(kNode, "zone-a")));
    for (const json& s : c.services) ASSERT_OK(tracker.UpsertService(s));
    for (const json& s : c.slices) ASSERT_OK(tracker.UpsertEndpointSlice(s));
    ServiceFrontends from_changes;
    for (const auto& [name, change] : tracker.TakeChanges()) {
      EXPECT_TRUE(change.previous.empty() && change.external_previous.empty()) << name.ToString();
      from_changes.frontends.insert(change.current.begin(), change.current.end());
      from_changes.drop.insert(change.current_drop.begin(), change.current_drop.end());
      from_changes.external.frontends.insert(change.external_current.frontends.begin(),
                                             change.external_current.frontends.end());
      from_changes.external.policies.insert(change.external_current.policies.begin(),
                                            change.external_current.policies.end());
    }
    EXPECT_EQ(tracker.AllViews(), from_changes) << "TakeChanges() and AllViews() disagree";
    socket_ = Dump(from_changes.frontends, from_changes.drop);
    external_ = DumpExternal(from_changes.external);
  }

  std::vector<std::string> socket_, external_;
};

TEST_P(ServiceViewsTest, SocketView) { EXPECT_THAT(socket_, ElementsAreArray(GetParam().socket)); }

TEST_P(ServiceViewsTest, ExternalView) { EXPECT_THAT(external_, ElementsAreArray(GetParam().external)); }

INSTANTIATE_TEST_SUITE_P(Shapes, ServiceViewsTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<ViewsCase>& info) { return info.param.name; });

}  // namespace
}  // namespace bpfproxy
