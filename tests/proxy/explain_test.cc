// `bpfproxyctl explain`'s logic (proxy/explain.h): which Services a query
// matches, one case per reason an endpoint is not used, the verdicts and
// policies each view should have, and the comparison with what the
// datapath holds. The cross-check against the ServiceTracker lives in
// explain_crosscheck_test.cc.
#include "proxy/explain.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/proxy/explain_test_util.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using json = nlohmann::json;
using explain_testing::Build;
using explain_testing::kNode;
using explain_testing::Lines;
using explain_testing::ViewLines;
using k8s::testing::EndpointSpec;
using k8s::testing::MakeService;
using k8s::testing::MakeSlice;
using k8s::testing::PortSpec;
using k8s::testing::Ready;
using k8s::testing::ServingTerminating;
using k8s::testing::SlicePortSpec;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

L4Address L4(const char* text) { return L4Address::Parse(text).value(); }

json Web(std::vector<PortSpec> ports = {{"http", 80, "TCP", 8080}}) {
  return MakeService("default", "web", {"10.96.0.10"}, ports);
}
json WebSlice(const std::string& name, std::vector<EndpointSpec> endpoints,
              std::vector<SlicePortSpec> ports = {{"http", 8080}}, const std::string& type = "IPv4") {
  return MakeSlice("default", name, "web", type, ports, endpoints);
}
json With(json object, const json& patch) {
  object.merge_patch(patch);
  return object;
}
EndpointSpec NotReady(const std::string& ip, const std::string& node = kNode) {
  EndpointSpec spec = Ready(ip, node);
  spec.ready = false;
  spec.serving = false;
  return spec;
}
EndpointSpec Terminating(const std::string& ip) {
  EndpointSpec spec = Ready(ip);
  spec.ready = false;
  spec.serving = false;
  spec.terminating = true;
  return spec;
}
EndpointSpec Hinted(EndpointSpec spec, std::vector<std::string> zones, std::vector<std::string> nodes = {}) {
  spec.zone_hints = std::move(zones);
  spec.node_hints = std::move(nodes);
  return spec;
}

// A NodePort Service web-np: 10.96.0.20, port 80 -> nodePort 30080.
json NodePortService(const std::string& etp = "Cluster") {
  json s = MakeService("default", "web", {"10.96.0.20"}, {{"http", 80, "TCP", 8080}});
  s["spec"]["type"] = "NodePort";
  s["spec"]["ports"][0]["nodePort"] = 30080;
  s["spec"]["externalTrafficPolicy"] = etp;
  return s;
}

json LoadBalancerService(const std::string& etp, std::vector<std::string> ranges = {}) {
  json s = NodePortService(etp);
  s["spec"]["type"] = "LoadBalancer";
  s["spec"]["externalIPs"] = {"203.0.113.7"};
  s["status"]["loadBalancer"]["ingress"] = {{{"ip", "198.51.100.5"}}};
  if (!ranges.empty()) s["spec"]["loadBalancerSourceRanges"] = ranges;
  return s;
}

// ---- Parsing the query ----

TEST(ExplainQueryTest, ParsesAddressesWithAndWithoutProtocol) {
  struct Case {
    std::string text, want;
  };
  for (const Case& c : std::vector<Case>{{"10.96.0.10:80", "10.96.0.10:80"},
                                         {"10.96.0.10:80/TCP", "10.96.0.10:80/TCP"},
                                         {"10.96.0.10:53/udp", "10.96.0.10:53/UDP"},
                                         {"[fd00::10]:443/SCTP", "[fd00::10]:443/SCTP"},
                                         {"[fd00::10]:443", "[fd00::10]:443"}}) {
    ASSERT_OK_AND_ASSIGN(ExplainQuery q, ExplainQuery::Parse(c.text));
    EXPECT_EQ(q.ToString(), c.want) << c.text;
  }
}

TEST(ExplainQueryTest, RejectsWhatIsNotAnAddress) {
  struct Case {
    std::string text, error;
  };
  for (const Case& c : std::vector<Case>{{"10.96.0.10", "no port"},
                                         {"10.96.0.10:http", "bad port"},
                                         {"10.96.0.10:0", "bad port"},
                                         {"10.96.0.10:70000", "bad port"},
                                         {"10.96.0.10:80/ICMP", "unknown protocol"},
                                         {"fd00::10:80", "IPv6 needs brackets"},
                                         {"[fd00::10:80", "unbalanced brackets"},
                                         {"web:80", "not an IP address"}}) {
    absl::StatusOr<ExplainQuery> q = ExplainQuery::Parse(c.text);
    ASSERT_FALSE(q.ok()) << c.text;
    EXPECT_THAT(q.status().message(), HasSubstr(c.error)) << c.text;
  }
}

// ---- One case per reason ----

struct ReasonCase {
  std::string name;
  std::vector<json> services;
  std::vector<json> slices;
  std::string query;
  ctl::View view = ctl::View::kSocket;
  std::vector<std::string> want;  // ViewLines(): "<slice> <endpoint> <reason>[: detail]"
  std::string zone = "zone-a";
};

void PrintTo(const ReasonCase& c, std::ostream* os) { *os << c.name; }

class ReasonTest : public ::testing::TestWithParam<ReasonCase> {};

TEST_P(ReasonTest, NamesWhyEachEndpointIsOrIsNotUsed) {
  const ReasonCase& c = GetParam();
  Explanation e = Explain(ExplainQuery::Parse(c.query).value(), Build(c.services, c.slices, c.zone));
  EXPECT_THAT(ViewLines(e, c.view), ElementsAreArray(c.want)) << absl::StrJoin(Lines(e), "\n");
}

std::vector<ReasonCase> ReasonCases() {
  const json itp_local = With(Web(), {{"spec", {{"internalTrafficPolicy", "Local"}}}});
  return {
      {"ReadyIsEligibleNotReadyIsNot",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.1"), NotReady("10.244.1.2")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready",
        "web-1 10.244.1.2:8080 not-ready: ready=false serving=false terminating=false"}},
      {"TerminatingWhileReadyEndpointsExist",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.1"), ServingTerminating("10.244.1.2")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready",
        "web-1 10.244.1.2:8080 terminating-while-ready: serving but terminating; 1 ready endpoint take the "
        "traffic"}},
      {"ServingTerminatingIsTheFallback",
       {Web()},
       {WebSlice("web-1", {ServingTerminating("10.244.1.2"), Terminating("10.244.1.3")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.2:8080 eligible: serving and terminating: no endpoint is ready",
        "web-1 10.244.1.3:8080 not-ready: ready=false serving=false terminating=true"}},
      {"OtherNodeUnderInternalTrafficPolicyLocal",
       {itp_local},
       {WebSlice("web-1", {Ready("10.244.1.1"), Ready("10.244.2.1", "node-b"), Ready("10.244.3.1", "")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready", "web-1 10.244.2.1:8080 other-node: on node node-b, not node-a",
        "web-1 10.244.3.1:8080 other-node: no nodeName: never local"}},
      {"NotReadyWinsOverOtherNode",
       {itp_local},
       {WebSlice("web-1", {NotReady("10.244.2.1", "node-b")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.2.1:8080 not-ready: ready=false serving=false terminating=false"}},
      {"OtherNodeUnderExternalTrafficPolicyLocalInTheExternalView",
       {NodePortService("Local")},
       {WebSlice("web-1", {Ready("10.244.1.1"), Ready("10.244.2.1", "node-b")})},
       "192.168.1.2:30080",
       ctl::View::kExternal,
       {"web-1 10.244.1.1:8080 eligible: ready", "web-1 10.244.2.1:8080 other-node: on node node-b, not node-a"}},
      {"ExternalTrafficPolicyLocalDoesNotApplyToPodsAndTheNode",
       {NodePortService("Local")},
       {WebSlice("web-1", {Ready("10.244.1.1"), Ready("10.244.2.1", "node-b")})},
       "192.168.1.2:30080",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready", "web-1 10.244.2.1:8080 eligible: ready"}},
      {"ZoneHintsForAnotherZone",
       {Web()},
       {WebSlice("web-1",
                 {Hinted(Ready("10.244.1.1"), {"zone-a"}), Hinted(Ready("10.244.2.1", "node-b"), {"zone-b"})})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready",
        "web-1 10.244.2.1:8080 topology: hints: zones [zone-b] nodes []; this node is node-a in zone zone-a"}},
      {"NodeHintsForAnotherNode",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.1"), {}, {"node-a"}), Hinted(Ready("10.244.2.1"), {}, {"node-b"})})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready",
        "web-1 10.244.2.1:8080 topology: hints: zones [] nodes [node-b]; this node is node-a in zone zone-a"}},
      {"HintsAreIgnoredUnlessEveryReadyEndpointHasOne",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.1"), {"zone-a"}), Ready("10.244.2.1", "node-b")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready", "web-1 10.244.2.1:8080 eligible: ready"}},
      {"PortNameMismatch",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.1")}, {{"https", 8443}})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1 port-mismatch: slice ports: https/TCP:8443; none is http/TCP (ports match by name and "
        "protocol)"}},
      {"PortProtocolMismatch",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.1")}, {{"http", 8080, "UDP"}})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1 port-mismatch: slice ports: http/UDP:8080; none is http/TCP (ports match by name and "
        "protocol)"}},
      {"SlicePortWithoutANumber",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.1")}, {{"http", 0}})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1 port-mismatch: slice port http/TCP has no number (all ports): unsupported"}},
      {"OtherFamilyAndFqdnSlices",
       {Web()},
       {WebSlice("web-v4", {Ready("10.244.1.1")}), WebSlice("web-v6", {Ready("fd00::1")}, {{"http", 8080}}, "IPv6"),
        WebSlice("web-fqdn", {Ready("db.example.com")}, {{"http", 8080}}, "FQDN")},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-fqdn - other-family: FQDN slice: a proxy cannot use it", "web-v4 10.244.1.1:8080 eligible: ready",
        "web-v6 fd00::1 other-family: IPv6 slice; this frontend is IPv4"}},
      {"DuplicateIpPortAcrossSlicesFirstByNameWins",
       {Web()},
       {WebSlice("web-b", {Ready("10.244.1.1")}), WebSlice("web-a", {Ready("10.244.1.1", "node-b")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-a 10.244.1.1:8080 eligible: ready",
        "web-b 10.244.1.1:8080 duplicate: same IP:port as the endpoint in slice web-a, which is used instead"}},
      {"DuplicateIpPortTheRunningPodWins",
       {Web()},
       {WebSlice("web-a", {ServingTerminating("10.244.1.1")}), WebSlice("web-b", {Ready("10.244.1.1")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-a 10.244.1.1:8080 duplicate: same IP:port as the non-terminating endpoint in slice web-b, which is "
        "used instead",
        "web-b 10.244.1.1:8080 eligible: ready"}},
      {"NoAddress",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.1"), EndpointSpec{.node_name = kNode}})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready", "web-1 - no-address: the endpoint has no address"}},
      {"SlicesOfOtherServicesAndNamespacesAreNotConsidered",
       {Web()},
       {WebSlice("web-1", {Ready("10.244.1.1")}),
        MakeSlice("default", "other-1", "other", "IPv4", {{"http", 8080}}, {Ready("10.244.9.9")}),
        MakeSlice("prod", "web-1", "web", "IPv4", {{"http", 8080}}, {Ready("10.244.9.8")})},
       "10.96.0.10:80",
       ctl::View::kSocket,
       {"web-1 10.244.1.1:8080 eligible: ready"}},
  };
}

INSTANTIATE_TEST_SUITE_P(Reasons, ReasonTest, ::testing::ValuesIn(ReasonCases()),
                         [](const auto& info) { return info.param.name; });

// ---- Matching, views, verdicts and policies ----

TEST(ExplainTest, MatchesEveryKindOfFrontend) {
  const ExplainInput input = Build({LoadBalancerService("Cluster")}, {});
  struct Case {
    std::string query;
    std::vector<std::string> want;  // "<kind> <frontend>: <views>"
  };
  for (const Case& c : std::vector<Case>{
           {"10.96.0.20:80", {"ClusterIP 10.96.0.20:80/TCP: socket(required) external(optional)"}},
           {"203.0.113.7:80", {"externalIP 203.0.113.7:80/TCP: external(required) socket(required)"}},
           {"198.51.100.5:80", {"LoadBalancer IP 198.51.100.5:80/TCP: external(required) socket(required)"}},
           {"192.168.1.2:30080", {"NodePort 192.168.1.2:30080/TCP: external(required) socket(required)"}},
           {"127.0.0.1:30080", {"localhost NodePort 127.0.0.1:30080/TCP: socket(required)"}},
           {"192.168.1.2:80", {}},
           {"10.96.0.20:80/UDP", {}},
       }) {
    Explanation e = Explain(ExplainQuery::Parse(c.query).value(), input);
    std::vector<std::string> got;
    for (const ExplainedPort& port : e.ports) {
      std::vector<std::string> views;
      for (const ExplainedView& v : port.views) {
        views.push_back(absl::StrCat(ctl::ViewName(v.view), v.required ? "(required)" : "(optional)"));
      }
      got.push_back(
          absl::StrCat(FrontendKindName(port.kind), " ", port.frontend.ToString(), ": ", absl::StrJoin(views, " ")));
    }
    EXPECT_THAT(got, ElementsAreArray(c.want)) << c.query;
  }
}

TEST(ExplainTest, WithoutAProtocolEveryProtocolOnThePortMatches) {
  const json dns = MakeService("kube-system", "dns", {"10.96.0.53"}, {{"dns", 53, "UDP"}, {"dns-tcp", 53, "TCP"}});
  Explanation e = Explain(ExplainQuery::Parse("10.96.0.53:53").value(), Build({dns}, {}));
  ASSERT_EQ(e.ports.size(), 2u);
  EXPECT_EQ(e.ports[0].frontend, L4("10.96.0.53:53/UDP"));
  EXPECT_EQ(e.ports[1].frontend, L4("10.96.0.53:53/TCP"));
  e = Explain(ExplainQuery::Parse("10.96.0.53:53/tcp").value(), Build({dns}, {}));
  ASSERT_EQ(e.ports.size(), 1u);
  EXPECT_EQ(e.ports[0].port.name, "dns-tcp");
}

TEST(ExplainTest, VerdictsForFrontendsWithoutEligibleEndpoints) {
  struct Case {
    std::string name;
    json service;
    std::vector<json> slices;
    std::string query;
    ctl::View view;
    Verdict want;
  };
  const json itp_local = With(Web(), {{"spec", {{"internalTrafficPolicy", "Local"}}}});
  const json remote = WebSlice("web-1", {Ready("10.244.2.1", "node-b")});
  for (const Case& c : std::vector<Case>{
           {"no endpoints: refused", Web(), {}, "10.96.0.10:80", ctl::View::kSocket, Verdict::kRefuse},
           {"only not-ready endpoints: refused",
            Web(),
            {WebSlice("web-1", {NotReady("10.244.1.1")})},
            "10.96.0.10:80",
            ctl::View::kSocket,
            Verdict::kRefuse},
           {"ITP Local, endpoints elsewhere: dropped",
            itp_local,
            {remote},
            "10.96.0.10:80",
            ctl::View::kSocket,
            Verdict::kDrop},
           {"ITP Local, no endpoints at all: refused",
            itp_local,
            {},
            "10.96.0.10:80",
            ctl::View::kSocket,
            Verdict::kRefuse},
           {"eTP Local, endpoints elsewhere: dropped from outside",
            NodePortService("Local"),
            {remote},
            "192.168.1.2:30080",
            ctl::View::kExternal,
            Verdict::kDrop},
           {"eTP Local, endpoints elsewhere: forwarded for pods",
            NodePortService("Local"),
            {remote},
            "192.168.1.2:30080",
            ctl::View::kSocket,
            Verdict::kForward},
           {"eTP Local on a ClusterIP Service does not apply",
            With(Web(), {{"spec", {{"externalIPs", {"203.0.113.7"}}, {"externalTrafficPolicy", "Local"}}}}),
            {remote},
            "203.0.113.7:80",
            ctl::View::kExternal,
            Verdict::kForward},
       }) {
    Explanation e = Explain(ExplainQuery::Parse(c.query).value(), Build({c.service}, c.slices));
    const ExplainedView* v = explain_testing::FindView(e, c.view);
    ASSERT_NE(v, nullptr) << c.name;
    EXPECT_EQ(VerdictName(v->verdict), VerdictName(c.want)) << c.name;
  }
}

TEST(ExplainTest, ExpectedPoliciesOfTheExternalView) {
  struct Case {
    std::string name;
    json service;
    std::vector<json> slices;
    std::string query;
    std::string want;  // PolicyFlagNames() + " " + ranges
  };
  const json local = WebSlice("web-1", {Ready("10.244.1.1")});
  const json remote = WebSlice("web-1", {Ready("10.244.2.1", "node-b")});
  for (const Case& c : std::vector<Case>{
           {"eTP Cluster: SNAT", NodePortService("Cluster"), {local}, "192.168.1.2:30080", "none "},
           {"eTP Local: the client's address",
            NodePortService("Local"),
            {local},
            "192.168.1.2:30080",
            "preserve-source "},
           {"eTP Local, none here: drop",
            NodePortService("Local"),
            {remote},
            "192.168.1.2:30080",
            "preserve-source,drop-no-backend "},
           {"LB IP with ranges: masked, own family only",
            LoadBalancerService("Cluster", {"10.1.2.3/8", "192.0.2.0/24", "fd00::/64"}),
            {local},
            "198.51.100.5:80",
            "source-ranges 10.0.0.0/8,192.0.2.0/24"},
           {"externalIP of the same Service: no ranges",
            LoadBalancerService("Cluster", {"10.0.0.0/8"}),
            {local},
            "203.0.113.7:80",
            "none "},
           {"ClusterIP in the external view (host-only mode)", Web(), {local}, "10.96.0.10:80", "preserve-source "},
       }) {
    Explanation e = Explain(ExplainQuery::Parse(c.query).value(), Build({c.service}, c.slices));
    const ExplainedView* v = explain_testing::FindView(e, ctl::View::kExternal);
    ASSERT_NE(v, nullptr) << c.name;
    ASSERT_TRUE(v->expected_policy.has_value()) << c.name;
    EXPECT_EQ(explain_testing::PolicyString(*v->expected_policy), c.want) << c.name;
  }
}

TEST(ExplainTest, ServicesThatProgramNothingSayWhy) {
  json other_proxy = Web();
  other_proxy["metadata"]["labels"][k8s::kLabelServiceProxyName] = "other";
  json headless_label = Web();
  headless_label["metadata"]["labels"][k8s::kLabelHeadless] = "";
  struct Case {
    json service;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {other_proxy, "label service.kubernetes.io/service-proxy-name=other: it belongs to another proxy"},
           {headless_label, "label service.kubernetes.io/headless: kube-proxy's watch leaves it out"},
       }) {
    Explanation e = Explain(ExplainQuery::Parse("10.96.0.10:80").value(), Build({c.service}, {}));
    ASSERT_EQ(e.ports.size(), 1u);
    EXPECT_EQ(e.ports[0].not_programmed, c.want);
    EXPECT_THAT(e.ports[0].views, IsEmpty());
  }
}

TEST(ExplainTest, TwoServicesClaimingOneFrontendTheFirstByNameWins) {
  const json a = MakeService("default", "a", {"10.96.0.10"}, {{"http", 80, "TCP"}});
  const json b = MakeService("default", "b", {"10.96.0.10"}, {{"http", 80, "TCP"}});
  Explanation e = Explain(ExplainQuery::Parse("10.96.0.10:80/TCP").value(), Build({b, a}, {}));
  ASSERT_EQ(e.ports.size(), 2u);
  EXPECT_EQ(e.ports[0].service, "default/a");
  EXPECT_FALSE(e.ports[0].views[0].shadowed);
  EXPECT_TRUE(e.ports[1].views[0].shadowed);
  EXPECT_THAT(e.ports[1].views[0].notes[0], HasSubstr("shadowed: default/a claims 10.96.0.10:80/TCP first"));
}

TEST(ExplainTest, AQueryThatMatchesNothingSaysWhatComesClose) {
  Explanation e = Explain(ExplainQuery::Parse("10.0.0.99:30080").value(), Build({NodePortService()}, {}));
  EXPECT_THAT(e.ports, IsEmpty());
  EXPECT_THAT(e.notes, ElementsAre("default/web has NodePort 30080/TCP, but 10.0.0.99 is not a NodePort address of "
                                   "this node (192.168.1.2; see --nodeport-addresses)"));
  e = Explain(ExplainQuery::Parse("10.0.0.99:81").value(), Build({NodePortService()}, {}));
  EXPECT_THAT(e.notes, ElementsAre("no Service has the frontend 10.0.0.99:81"));
}

TEST(ExplainTest, WithoutTheNodeNothingIsLocalAndItSaysSo) {
  ExplainInput input = Build({With(Web(), {{"spec", {{"internalTrafficPolicy", "Local"}}}})},
                             {WebSlice("web-1", {Ready("10.244.1.1")})});
  input.node.reset();
  input.node_name = "wrong-name";
  Explanation e = Explain(ExplainQuery::Parse("10.96.0.10:80").value(), input);
  EXPECT_THAT(e.notes[0], HasSubstr("Node wrong-name not found"));
  EXPECT_THAT(ViewLines(e, ctl::View::kSocket),
              ElementsAre("web-1 10.244.1.1:8080 other-node: on node node-a, not wrong-name"));
}

// ---- Comparing with the datapath ----

ctl::DatapathSnapshot Socket(std::vector<std::pair<const char*, std::vector<const char*>>> frontends) {
  ctl::DatapathSnapshot s;
  uint32_t id = 1;
  for (const auto& [frontend, backends] : frontends) {
    ctl::ProgrammedFrontend f{.service_id = id++, .count = static_cast<uint16_t>(backends.size())};
    for (const char* b : backends) f.backends.push_back(L4(b));
    s.socket.frontends[L4(frontend)] = f;
  }
  return s;
}

class CompareTest : public ::testing::Test {
 protected:
  Explanation Compare(const ctl::DatapathSnapshot& datapath, std::vector<json> services = {},
                      const std::string& query = "10.96.0.10:80") {
    if (services.empty()) services = {Web()};
    Explanation e = Explain(ExplainQuery::Parse(query).value(),
                            Build(services, {WebSlice("web-1", {Ready("10.244.1.1"), NotReady("10.244.1.2")})}));
    CompareWithDatapath(datapath, e);
    return e;
  }
};

TEST_F(CompareTest, AgreeingDatapathIsNoMismatch) {
  ctl::DatapathSnapshot datapath = Socket({{"10.96.0.10:80/TCP", {"10.244.1.1:8080/TCP"}}});
  datapath.connections = ctl::ConnectionCounts{{{ctl::View::kSocket, 1}, 42}};
  Explanation e = Compare(datapath);
  EXPECT_FALSE(e.mismatch());
  const ExplainedView& v = e.ports[0].views[0];
  ASSERT_TRUE(v.programmed.has_value());
  EXPECT_EQ(v.connections, 42u);
  EXPECT_TRUE(v.InDatapath(e.ports[0].endpoints[0]));
  EXPECT_FALSE(v.InDatapath(e.ports[0].endpoints[1]));
  // The external view is not loaded: socket-LB-only mode is a choice, not a fault.
  EXPECT_THAT(e.ports[0].views[1].notes[0], HasSubstr("per-packet path is not loaded"));
}

TEST_F(CompareTest, MissingExtraAndBrokenBackendsAreMismatches) {
  ctl::DatapathSnapshot datapath = Socket({{"10.96.0.10:80/TCP", {"10.244.1.2:8080/TCP"}}});
  datapath.socket.frontends.begin()->second.problems.push_back("slot 2 is missing");
  Explanation e = Compare(datapath);
  EXPECT_TRUE(e.mismatch());
  EXPECT_THAT(e.ports[0].views[0].mismatches,
              ElementsAre("eligible but not in the datapath: 10.244.1.1:8080/TCP",
                          "in the datapath but not eligible: 10.244.1.2:8080/TCP", "broken entry: slot 2 is missing"));
}

TEST_F(CompareTest, ARequiredFrontendMissingIsAMismatchAnOptionalOneIsNot) {
  ctl::DatapathSnapshot datapath = Socket({});
  datapath.external.emplace();
  Explanation e = Compare(datapath);
  EXPECT_THAT(e.ports[0].views[0].mismatches,
              ElementsAre("not in the datapath: the daemon has not programmed this frontend"));
  EXPECT_THAT(e.ports[0].views[1].mismatches, IsEmpty());
  EXPECT_THAT(e.ports[0].views[1].notes, ElementsAre(HasSubstr("--socket-lb=host-only")));
}

TEST_F(CompareTest, PolicyAndVerdictOfTheExternalViewAreCompared) {
  const json service = NodePortService("Local");
  // Endpoints exist only elsewhere: kube-proxy drops; the datapath refuses
  // and rewrites the source.
  ctl::DatapathSnapshot datapath =
      Socket({{"10.96.0.20:80/TCP", {}}, {"192.168.1.2:30080/TCP", {"10.244.1.1:8080/TCP"}}});
  datapath.external.emplace();
  datapath.external->frontends[L4("192.168.1.2:30080/TCP")] = ctl::ProgrammedFrontend{.service_id = 9};
  Explanation e = Explain(ExplainQuery::Parse("192.168.1.2:30080").value(),
                          Build({service}, {WebSlice("web-1", {Ready("10.244.2.1", "node-b")})}));
  CompareWithDatapath(datapath, e);
  const ExplainedView* external = explain_testing::FindView(e, ctl::View::kExternal);
  EXPECT_THAT(external->mismatches, ElementsAre("policy flags: the datapath has none, kube-proxy's rules ask for "
                                                "preserve-source,drop-no-backend",
                                                "no backends: the datapath refuses the traffic, kube-proxy drops it"));
  const ExplainedView* socket = explain_testing::FindView(e, ctl::View::kSocket);
  EXPECT_THAT(socket->mismatches, ElementsAre("eligible but not in the datapath: 10.244.2.1:8080/TCP",
                                              "in the datapath but not eligible: 10.244.1.1:8080/TCP"));
}

TEST_F(CompareTest, SourceRangesAreCompared) {
  const json service = LoadBalancerService("Cluster", {"10.0.0.0/8"});
  ctl::DatapathSnapshot datapath = Socket({{"198.51.100.5:80/TCP", {"10.244.1.1:8080/TCP"}}});
  datapath.external.emplace();
  datapath.external->frontends[L4("198.51.100.5:80/TCP")] =
      ctl::ProgrammedFrontend{.service_id = 9, .count = 1, .backends = {L4("10.244.1.1:8080/TCP")}};
  datapath.policies[L4("198.51.100.5:80/TCP")] = {LB_POL_F_SOURCE_RANGES,
                                                  {IpPrefix{IpAddress::Parse("192.0.2.0").value(), 24}}};
  Explanation e = Compare(datapath, {service}, "198.51.100.5:80");
  EXPECT_THAT(explain_testing::FindView(e, ctl::View::kExternal)->mismatches,
              ElementsAre("source ranges: the datapath has 192.0.2.0/24, the Service asks for 10.0.0.0/8"));
}

TEST_F(CompareTest, SocketViewDropIsANoteNotAMismatch) {
  const json itp_local = With(Web(), {{"spec", {{"internalTrafficPolicy", "Local"}}}});
  Explanation e = Explain(ExplainQuery::Parse("10.96.0.10:80").value(),
                          Build({itp_local}, {WebSlice("web-1", {Ready("10.244.2.1", "node-b")})}));
  CompareWithDatapath(Socket({{"10.96.0.10:80/TCP", {}}}), e);
  EXPECT_FALSE(e.mismatch());
  EXPECT_THAT(e.ports[0].views[0].notes, ElementsAre(HasSubstr("the socket hooks have no drop verdict")));
}

TEST_F(CompareTest, AFrontendNoServiceExplainsIsStale) {
  ctl::DatapathSnapshot datapath =
      Socket({{"10.96.0.10:80/TCP", {"10.244.1.1:8080/TCP"}}, {"10.96.0.10:80/UDP", {"10.244.1.1:8080/UDP"}}});
  Explanation e = Compare(datapath);
  EXPECT_TRUE(e.mismatch());
  ASSERT_EQ(e.stale.size(), 1u);
  EXPECT_EQ(e.stale[0].frontend, L4("10.96.0.10:80/UDP"));
  // A Service that programs nothing does not explain its address either.
  json other_proxy = Web();
  other_proxy["metadata"]["labels"][k8s::kLabelServiceProxyName] = "other";
  e = Compare(Socket({{"10.96.0.10:80/TCP", {}}}), {other_proxy});
  ASSERT_EQ(e.stale.size(), 1u);
  EXPECT_EQ(e.stale[0].frontend, L4("10.96.0.10:80/TCP"));
}

}  // namespace
}  // namespace bpfproxy
