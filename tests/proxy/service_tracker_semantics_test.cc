// kube-proxy's rules for which Services and endpoints are programmed, one
// case each: Services, slices and this node in, frontends out. Every case
// runs with the objects in two orders, which must not matter.
#include <algorithm>
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
using tracker_testing::WithInternalTrafficPolicyLocal;

constexpr char kNode[] = "node-a";

struct SemanticsCase {
  std::string name;
  std::vector<json> services;
  std::vector<json> slices;
  std::vector<std::string> want;  // Dump() lines.
  // This node's zone label; "-" means no Node object at all.
  std::string node_zone = "zone-a";
};

void PrintTo(const SemanticsCase& c, std::ostream* os) { *os << c.name; }

json Web(std::vector<PortSpec> ports = {{"http", 80, "TCP", 8080}}, std::vector<std::string> ips = {"10.96.0.10"}) {
  return MakeService("default", "web", ips, ports);
}
json WebSlice(const std::string& name, std::vector<EndpointSpec> endpoints,
              std::vector<SlicePortSpec> ports = {{"http", 8080}}, const std::string& type = "IPv4") {
  return MakeSlice("default", name, "web", type, ports, endpoints);
}
json Labelled(json object, const std::string& key, const std::string& value) {
  object["metadata"]["labels"][key] = value;
  return object;
}
EndpointSpec Conditions(const std::string& ip, std::optional<bool> ready, std::optional<bool> serving,
                        std::optional<bool> terminating) {
  EndpointSpec spec;
  spec.addresses = {ip};
  spec.node_name = "node-b";
  spec.ready = ready;
  spec.serving = serving;
  spec.terminating = terminating;
  return spec;
}
EndpointSpec Hinted(EndpointSpec spec, std::vector<std::string> zones, std::vector<std::string> nodes = {}) {
  spec.zone_hints = std::move(zones);
  spec.node_hints = std::move(nodes);
  return spec;
}
EndpointSpec Addresses(std::vector<std::string> addresses) {
  EndpointSpec spec = Ready("0.0.0.0");
  spec.addresses = std::move(addresses);
  return spec;
}

constexpr char kWeb[] = "10.96.0.10:80/TCP -> ";

std::vector<SemanticsCase> Cases() {
  const json web_itp_local = WithInternalTrafficPolicyLocal(Web());
  return {
      {"ReadyEndpointsBackTheClusterIp",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.5"), Ready("10.244.2.6", "node-b")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      // Skipped Services.
      {"ExternalNameIsSkipped",
       {k8s::testing::ExternalNameServiceFixture()},
       {MakeSlice("default", "search-1", "search", "IPv4", {{"https", 443}}, {Ready("10.244.1.5")})},
       {}},
      {"HeadlessIsSkipped",
       {k8s::testing::HeadlessServiceFixture()},
       {MakeSlice("default", "db-1", "db", "IPv4", {{"pg", 5432}}, {Ready("10.244.1.5")})},
       {}},
      {"WithoutClusterIpIsSkipped", {Web({{"http", 80}}, {})}, {WebSlice("web-1", {Ready("10.244.1.5")})}, {}},
      {"HeadlessLabelIsSkipped",
       {Labelled(Web(), "service.kubernetes.io/headless", "")},
       {WebSlice("web-1", {Ready("10.244.1.5")})},
       {}},
      {"OtherProxysServiceIsSkipped",
       {Labelled(Web(), "service.kubernetes.io/service-proxy-name", "other")},
       {WebSlice("web-1", {Ready("10.244.1.5")})},
       {}},
      // No endpoints: the frontend stays, refusing connections.
      {"NoSlicesRejects", {Web()}, {}, {absl::StrCat(kWeb, "REJECT")}},
      {"SliceWithoutEndpointsRejects", {Web()}, {WebSlice("web-1", {})}, {absl::StrCat(kWeb, "REJECT")}},
      // IP families.
      {"DualStackEachFamilyUsesItsOwnSlices",
       {Web({{"http", 80}}, {"10.96.0.10", "fd00:96::10"})},
       {WebSlice("web-v4", {Ready("10.244.1.5")}),
        WebSlice("web-v6", {Ready("fd00:244::5")}, {{"http", 8080}}, "IPv6")},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP"), "[fd00:96::10]:80/TCP -> [fd00:244::5]:8080/TCP"}},
      {"DualStackFamilyWithoutSlicesRejects",
       {Web({{"http", 80}}, {"10.96.0.10", "fd00:96::10"})},
       {WebSlice("web-v4", {Ready("10.244.1.5")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP"), "[fd00:96::10]:80/TCP -> REJECT"}},
      {"SliceOfTheOtherFamilyIsIgnored",
       {Web()},
       {WebSlice("web-v6", {Ready("fd00:244::5")}, {{"http", 8080}}, "IPv6")},
       {absl::StrCat(kWeb, "REJECT")}},
      // Ports.
      {"PortsMatchByName",
       {Web({{"http", 80}, {"metrics", 9090}})},
       {WebSlice("web-1", {Ready("10.244.1.5")}, {{"metrics", 9100}, {"http", 8080}})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP"), "10.96.0.10:9090/TCP -> 10.244.1.5:9100/TCP"}},
      {"PortNameMismatchMatchesNothing",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.5")}, {{"web", 8080}})},
       {absl::StrCat(kWeb, "REJECT")}},
      {"UnnamedPortsMatch",
       {Web({{"", 80}})},
       {WebSlice("web-1", {Ready("10.244.1.5")}, {{"", 8080}})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"ProtocolMismatchMatchesNothing",
       {Web({{"dns", 53, "UDP"}})},
       {WebSlice("web-1", {Ready("10.244.1.5")}, {{"dns", 53, "TCP"}})},
       {"10.96.0.10:53/UDP -> REJECT"}},
      {"SamePortNumberTwoProtocols",
       {Web({{"dns-udp", 53, "UDP"}, {"dns-tcp", 53, "TCP"}})},
       {WebSlice("web-1", {Ready("10.244.1.5")}, {{"dns-tcp", 5353, "TCP"}, {"dns-udp", 53, "UDP"}})},
       {"10.96.0.10:53/TCP -> 10.244.1.5:5353/TCP", "10.96.0.10:53/UDP -> 10.244.1.5:53/UDP"}},
      {"SctpIsCarriedThrough",
       {Web({{"sig", 3868, "SCTP"}})},
       {WebSlice("web-1", {Ready("10.244.1.5")}, {{"sig", 3868, "SCTP"}})},
       {"10.96.0.10:3868/SCTP -> 10.244.1.5:3868/SCTP"}},
      {"TargetPortComesFromTheSlice",
       {Web({{"http", 80, "TCP", 8080}})},
       {WebSlice("web-1", {Ready("10.244.1.5")}, {{"http", 9376}})},
       {absl::StrCat(kWeb, "10.244.1.5:9376/TCP")}},
      {"SlicePortWithoutNumberIsIgnored",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.5")}, {{"http", 0}})},
       {absl::StrCat(kWeb, "REJECT")}},
      // Addresses and duplicates.
      {"OnlyTheFirstAddressCounts",
       {Web()},
       {WebSlice("web-1", {Addresses({"10.244.1.5", "10.244.1.6"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"EndpointWithoutAddressesIsIgnored",
       {Web()},
       {WebSlice("web-1", {Addresses({}), Ready("10.244.2.6")})},
       {absl::StrCat(kWeb, "10.244.2.6:8080/TCP")}},
      // If the terminating copy of 10.244.1.5 won, it would not be ready and
      // only 10.244.2.6 would be used.
      {"DuplicateNonTerminatingWinsFromALaterSlice",
       {Web()},
       {WebSlice("web-a", {ServingTerminating("10.244.1.5")}),
        WebSlice("web-b", {Ready("10.244.1.5"), Ready("10.244.2.6")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      {"DuplicateNonTerminatingWinsFromAnEarlierSlice",
       {Web()},
       {WebSlice("web-a", {Ready("10.244.1.5"), Ready("10.244.2.6")}),
        WebSlice("web-b", {ServingTerminating("10.244.1.5")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      {"DuplicateNonTerminatingWinsInOneSlice",
       {Web()},
       {WebSlice("web-a", {ServingTerminating("10.244.1.5"), Ready("10.244.1.5"), Ready("10.244.2.6")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      {"SamePodInTwoSlicesIsOneBackend",
       {Web()},
       {WebSlice("web-a", {Ready("10.244.1.5")}), WebSlice("web-b", {Ready("10.244.1.5")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"SlicesAreMerged",
       {Web()},
       {WebSlice("web-a", {Ready("10.244.1.5")}), WebSlice("web-b", {Ready("10.244.2.6")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      // Conditions.
      {"AbsentConditionsMeanReady",
       {Web()},
       {WebSlice("web-1", {Conditions("10.244.1.5", {}, {}, {})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"NotReadyIsNotUsed",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.5"), Conditions("10.244.2.6", false, {}, {})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"NotReadyNotTerminatingIsNoFallback",
       {Web()},
       {WebSlice("web-1", {Conditions("10.244.2.6", false, true, {})})},
       {absl::StrCat(kWeb, "REJECT")}},
      {"ReadyBeatsServingTerminating",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.5"), ServingTerminating("10.244.2.6")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"ServingTerminatingWhenNoneReady",
       {Web()},
       {WebSlice("web-1", {ServingTerminating("10.244.1.5"), ServingTerminating("10.244.2.6", "node-b")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      {"TerminatingNotServingIsNeverUsed",
       {Web()},
       {WebSlice("web-1", {Conditions("10.244.1.5", false, false, true)})},
       {absl::StrCat(kWeb, "REJECT")}},
      // internalTrafficPolicy: Local.
      {"ItpLocalUsesOnlyLocalEndpoints",
       {web_itp_local},
       {WebSlice("web-1", {Ready("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"ItpLocalWithoutLocalEndpointDrops",
       {web_itp_local},
       {WebSlice("web-1", {Ready("10.244.2.6", "node-b")})},
       {absl::StrCat(kWeb, "DROP")}},
      {"ItpLocalWithNoEndpointsAtAllRejects", {web_itp_local}, {}, {absl::StrCat(kWeb, "REJECT")}},
      {"ItpLocalWithOnlyUnusableEndpointsRejects",
       {web_itp_local},
       {WebSlice("web-1", {Conditions("10.244.2.6", false, false, true)})},
       {absl::StrCat(kWeb, "REJECT")}},
      {"ItpLocalFallsBackToLocalServingTerminating",
       {web_itp_local},
       {WebSlice("web-1", {ServingTerminating("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"ItpLocalWithOnlyRemoteServingTerminatingDrops",
       {web_itp_local},
       {WebSlice("web-1", {ServingTerminating("10.244.2.6", "node-b")})},
       {absl::StrCat(kWeb, "DROP")}},
      {"ItpLocalIgnoresTopologyHints",
       {web_itp_local},
       {WebSlice("web-1",
                 {Hinted(Ready("10.244.1.5", kNode), {"zone-b"}), Hinted(Ready("10.244.2.6", "node-b"), {"zone-a"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      // Topology hints.
      {"ZoneHintsHonouredWhenAllHintedAndOneMatches",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.5"), {"zone-a"}), Hinted(Ready("10.244.2.6", "node-b"), {"zone-b"}),
                           Hinted(Ready("10.244.3.7", "node-c"), {"zone-b", "zone-a"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.3.7:8080/TCP")}},
      {"OneUnhintedReadyEndpointDisablesHints",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.5"), {"zone-a"}), Hinted(Ready("10.244.2.6", "node-b"), {"zone-b"}),
                           Ready("10.244.3.7", "node-c")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP 10.244.3.7:8080/TCP")}},
      {"HintsMatchingNoZoneAreIgnored",
       {Web()},
       {WebSlice("web-1",
                 {Hinted(Ready("10.244.1.5"), {"zone-b"}), Hinted(Ready("10.244.2.6", "node-b"), {"zone-c"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      {"UnhintedNotReadyEndpointsDoNotDisableHints",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.5"), {"zone-a"}), Hinted(Ready("10.244.2.6", "node-b"), {"zone-b"}),
                           ServingTerminating("10.244.3.7", "node-c")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"NodeHintsHonoured",
       {Web()},
       {WebSlice("web-1",
                 {Hinted(Ready("10.244.1.5"), {}, {kNode}), Hinted(Ready("10.244.2.6", "node-b"), {}, {"node-b"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"NodeHintsBeatZoneHints",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.5"), {"zone-a"}, {"node-b"}),
                           Hinted(Ready("10.244.2.6", "node-b"), {"zone-a"}, {kNode}),
                           Hinted(Ready("10.244.3.7", "node-c"), {"zone-b"}, {"node-c"})})},
       {absl::StrCat(kWeb, "10.244.2.6:8080/TCP")}},
      {"OneEndpointWithoutNodeHintDisablesNodeHints",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.5"), {"zone-a"}, {"node-b"}),
                           Hinted(Ready("10.244.2.6", "node-b"), {"zone-a"}, {kNode}),
                           Hinted(Ready("10.244.3.7", "node-c"), {"zone-b"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      {"ZoneHintsWhenNodeHintsMatchNothing",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.5"), {"zone-a"}, {"node-b"}),
                           Hinted(Ready("10.244.2.6", "node-b"), {"zone-b"}, {"node-c"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP")}},
      {"ZoneHintsIgnoredWhenTheNodeHasNoZone",
       {Web()},
       {WebSlice("web-1",
                 {Hinted(Ready("10.244.1.5"), {"zone-a"}), Hinted(Ready("10.244.2.6", "node-b"), {"zone-b"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")},
       ""},
      {"ZoneHintsIgnoredBeforeTheNodeIsKnown",
       {Web()},
       {WebSlice("web-1",
                 {Hinted(Ready("10.244.1.5"), {"zone-a"}), Hinted(Ready("10.244.2.6", "node-b"), {"zone-b"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")},
       "-"},
      {"ServingTerminatingFallbackIgnoresHints",
       {Web()},
       {WebSlice("web-1", {Hinted(ServingTerminating("10.244.1.5"), {"zone-b"}),
                           Hinted(ServingTerminating("10.244.2.6", "node-b"), {"zone-b"})})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP 10.244.2.6:8080/TCP")}},
      // Slices that belong to no Service (of this name).
      {"SliceWithoutServiceNameLabelIsIgnored",
       {Web()},
       {MakeSlice("default", "web-1", "", "IPv4", {{"http", 8080}}, {Ready("10.244.1.5")})},
       {absl::StrCat(kWeb, "REJECT")}},
      {"FqdnSliceIsIgnored",
       {Web()},
       {WebSlice("web-1", {Addresses({"web-0.example.com"})}, {{"http", 8080}}, "FQDN")},
       {absl::StrCat(kWeb, "REJECT")}},
      {"SliceInAnotherNamespaceIsIgnored",
       {Web()},
       {MakeSlice("other", "web-1", "web", "IPv4", {{"http", 8080}}, {Ready("10.244.1.5")})},
       {absl::StrCat(kWeb, "REJECT")}},
      {"ServicesAreIndependent",
       {Web(), MakeService("default", "api", {"10.96.0.20"}, {{"grpc", 9000}})},
       {WebSlice("web-1", {Ready("10.244.1.5")}),
        MakeSlice("default", "api-1", "api", "IPv4", {{"grpc", 9001}}, {Ready("10.244.2.6")})},
       {absl::StrCat(kWeb, "10.244.1.5:8080/TCP"), "10.96.0.20:9000/TCP -> 10.244.2.6:9001/TCP"}},
  };
}

class TrackerSemanticsTest : public ::testing::TestWithParam<SemanticsCase> {
 protected:
  // Feeds the case's objects in the given order and returns every current
  // frontend of TakeChanges() (which must agree with AllFrontends()).
  std::vector<std::string> Run(bool node_first, bool services_first) {
    const SemanticsCase& c = GetParam();
    TrackerConfig config;
    config.node_name = kNode;
    ServiceTracker tracker(config);
    auto node = [&] {
      if (c.node_zone != "-") ASSERT_OK(tracker.UpsertNode(MakeNode(kNode, c.node_zone)));
    };
    auto services = [&] {
      for (const json& s : c.services) ASSERT_OK(tracker.UpsertService(s));
    };
    auto slices = [&] {
      std::vector<json> in_order = c.slices;
      if (!services_first) std::reverse(in_order.begin(), in_order.end());
      for (const json& s : in_order) ASSERT_OK(tracker.UpsertEndpointSlice(s));
    };
    if (node_first) node();
    if (services_first) {
      services();
      slices();
    } else {
      slices();
      services();
    }
    if (!node_first) node();

    DesiredFrontends current;
    absl::btree_set<L4Address> drop;
    for (const auto& [name, change] : tracker.TakeChanges()) {
      EXPECT_TRUE(change.previous.empty()) << name.ToString();
      current.insert(change.current.begin(), change.current.end());
      drop.insert(change.current_drop.begin(), change.current_drop.end());
    }
    std::vector<std::string> from_changes = Dump(current, drop);
    EXPECT_THAT(tracker_testing::DumpAll(tracker), ElementsAreArray(from_changes));
    EXPECT_TRUE(tracker.TakeChanges().empty());
    return from_changes;
  }
};

TEST_P(TrackerSemanticsTest, NodeServicesThenSlices) {
  EXPECT_THAT(Run(/*node_first=*/true, /*services_first=*/true), ElementsAreArray(GetParam().want));
}

TEST_P(TrackerSemanticsTest, SlicesReversedThenServicesThenNode) {
  EXPECT_THAT(Run(/*node_first=*/false, /*services_first=*/false), ElementsAreArray(GetParam().want));
}

INSTANTIATE_TEST_SUITE_P(Rules, TrackerSemanticsTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<SemanticsCase>& info) { return info.param.name; });

}  // namespace
}  // namespace bpfproxy
