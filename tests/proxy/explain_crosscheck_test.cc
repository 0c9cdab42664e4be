// explain (proxy/explain.h) re-derives kube-proxy's rules per endpoint, to
// say *why*; the daemon derives them in the ServiceTracker and
// ComputeViews(). This test keeps the two from drifting: for a table of
// Service/slice shapes and a few hundred random ones, the endpoints explain
// calls eligible (cluster and local) equal ServiceTracker::PortStates(), and
// every frontend explain expects in a view, with its backends, verdict and
// policy, is exactly what the tracker's views hold.
#include <random>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "proxy/explain.h"
#include "proxy/service_tracker.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/proxy/explain_test_util.h"

namespace bpfproxy {
namespace {

using json = nlohmann::json;
using explain_testing::kNode;
using k8s::testing::EndpointSpec;
using k8s::testing::MakeNode;
using k8s::testing::MakeService;
using k8s::testing::MakeSlice;
using k8s::testing::PortSpec;
using k8s::testing::Ready;
using k8s::testing::ServingTerminating;
using k8s::testing::SlicePortSpec;

const IpAddress kNodeV4 = IpAddress::Parse("192.168.1.2").value();
const IpAddress kNodeV6 = IpAddress::Parse("fd00:1::2").value();

struct Shape {
  std::string name;
  std::vector<json> services;
  std::vector<json> slices;
  std::string zone = "zone-a";  // "-": no Node object.
};

void PrintTo(const Shape& s, std::ostream* os) { *os << s.name; }

std::string Join(const std::vector<L4Address>& addresses) {
  std::vector<std::string> out;
  for (const L4Address& a : addresses) out.push_back(a.ToString());
  return "[" + absl::StrJoin(out, " ") + "]";
}

std::vector<L4Address> Sorted(std::vector<L4Address> v) {
  absl::c_sort(v);
  return v;
}

ServiceTracker MakeTracker(const Shape& shape, bool host_only) {
  ServiceTracker tracker(TrackerConfig{.node_name = kNode,
                                       .views = {.nodeport_addresses = {kNodeV4, kNodeV6},
                                                 .localhost_nodeports = true,
                                                 .external_view = true,
                                                 .cluster_ips_in_external_view = host_only}});
  if (shape.zone != "-") {
    EXPECT_TRUE(tracker.UpsertNode(MakeNode(kNode, shape.zone)).ok());
  }
  for (const json& s : shape.services) EXPECT_TRUE(tracker.UpsertService(s).ok());
  for (const json& s : shape.slices) EXPECT_TRUE(tracker.UpsertEndpointSlice(s).ok());
  return tracker;
}

ExplainInput MakeInput(const Shape& shape) {
  ExplainInput input = explain_testing::Build(shape.services, shape.slices, shape.zone);
  input.nodeport_addresses = {kNodeV4, kNodeV6};
  return input;
}

std::optional<ExplainQuery> QueryFor(const L4Address& frontend) {
  return ExplainQuery{frontend.ip, frontend.port, frontend.proto};
}

// PortStates() against explain's categories, for every programmed port.
void CheckCategories(const Shape& shape, const ServiceTracker& tracker, const ExplainInput& input,
                     std::vector<std::string>& diffs) {
  for (const k8s::Service& service : input.services) {
    for (const ServicePortState& state : tracker.PortStates(ServiceName{service.meta.namespace_, service.meta.name})) {
      const Explanation e = Explain(*QueryFor(state.cluster_ip), input);
      const ExplainedPort* port = nullptr;
      for (const ExplainedPort& p : e.ports) {
        if (p.service == service.meta.Key() && p.port.name == state.port_name && p.family == state.family) port = &p;
      }
      const std::string where = absl::StrCat(service.meta.Key(), " ", state.cluster_ip.ToString());
      if (port == nullptr) {
        diffs.push_back(where + ": explain does not match it");
        continue;
      }
      if (port->cluster != state.endpoints.cluster) {
        diffs.push_back(
            absl::StrCat(where, ": cluster ", Join(port->cluster), " vs tracker ", Join(state.endpoints.cluster)));
      }
      if (port->local != state.endpoints.local) {
        diffs.push_back(
            absl::StrCat(where, ": local ", Join(port->local), " vs tracker ", Join(state.endpoints.local)));
      }
      if (port->has_any != state.endpoints.has_any) diffs.push_back(where + ": has_any differs");
    }
  }
}

// Every address a Service of |input| might be reached on, with its ports.
absl::btree_set<L4Address> CandidateFrontends(const ExplainInput& input) {
  absl::btree_set<L4Address> out;
  for (const k8s::Service& s : input.services) {
    for (const k8s::ServicePort& p : s.ports) {
      std::vector<IpAddress> ips = s.cluster_ips;
      ips.insert(ips.end(), s.external_ips.begin(), s.external_ips.end());
      for (const k8s::LoadBalancerIngress& i : s.load_balancer_ingress) ips.push_back(i.ip);
      for (const IpAddress& ip : ips) out.insert(L4Address{ip, p.port, p.protocol});
      if (p.node_port == 0) continue;
      for (const IpAddress& ip : {kNodeV4, kNodeV6, IpAddress::Parse("127.0.0.1").value()}) {
        out.insert(L4Address{ip, p.node_port, p.protocol});
      }
    }
  }
  return out;
}

// The tracker's views against the views explain expects, both ways.
void CheckViews(const Shape& shape, bool host_only, const ExplainInput& input, std::vector<std::string>& diffs) {
  const ServiceTracker tracker = MakeTracker(shape, host_only);
  const ServiceFrontends all = tracker.AllViews();
  absl::btree_set<std::pair<ctl::View, L4Address>> expected;
  const std::string mode = host_only ? " (host-only)" : "";
  for (const L4Address& frontend : CandidateFrontends(input)) {
    const Explanation e = Explain(*QueryFor(frontend), input);
    for (const ExplainedPort& port : e.ports) {
      for (const ExplainedView& v : port.views) {
        if (v.shadowed || (!v.required && !(host_only && v.view == ctl::View::kExternal))) continue;
        const std::string where =
            absl::StrCat(port.service, " ", ctl::ViewName(v.view), " ", v.frontend.ToString(), mode);
        expected.insert({v.view, v.frontend});
        if (v.view == ctl::View::kSocket) {
          auto it = all.frontends.find(v.frontend);
          if (it == all.frontends.end()) {
            diffs.push_back(where + ": not in the tracker's socket view");
            continue;
          }
          if (Sorted(it->second) != v.eligible) {
            diffs.push_back(absl::StrCat(where, ": eligible ", Join(v.eligible), " vs tracker ", Join(it->second)));
          }
          if ((v.verdict == Verdict::kDrop) != all.drop.contains(v.frontend)) diffs.push_back(where + ": drop differs");
          continue;
        }
        auto it = all.external.frontends.find(v.frontend);
        if (it == all.external.frontends.end()) {
          diffs.push_back(where + ": not in the tracker's external view");
          continue;
        }
        if (Sorted(it->second) != v.eligible) {
          diffs.push_back(absl::StrCat(where, ": eligible ", Join(v.eligible), " vs tracker ", Join(it->second)));
        }
        const FrontendPolicy& policy = all.external.PolicyOf(v.frontend);
        const ctl::ProgrammedPolicy tracker_policy{policy.flags, policy.source_ranges};
        if (tracker_policy != *v.expected_policy) {
          diffs.push_back(absl::StrCat(where, ": policy ", explain_testing::PolicyString(*v.expected_policy),
                                       " vs tracker ", explain_testing::PolicyString(tracker_policy)));
        }
      }
    }
  }
  // Nothing the tracker programs is missing from explain's expectations.
  for (const auto& [frontend, backends] : all.frontends) {
    if (!expected.contains({ctl::View::kSocket, frontend})) {
      diffs.push_back(absl::StrCat("socket ", frontend.ToString(), mode, ": programmed, explain does not expect it"));
    }
  }
  for (const auto& [frontend, backends] : all.external.frontends) {
    if (!expected.contains({ctl::View::kExternal, frontend})) {
      diffs.push_back(absl::StrCat("external ", frontend.ToString(), mode, ": programmed, explain does not expect it"));
    }
  }
}

std::vector<std::string> Differences(const Shape& shape) {
  std::vector<std::string> diffs;
  const ExplainInput input = MakeInput(shape);
  CheckCategories(shape, MakeTracker(shape, false), input, diffs);
  CheckViews(shape, /*host_only=*/false, input, diffs);
  CheckViews(shape, /*host_only=*/true, input, diffs);
  return diffs;
}

// ---- A table of shapes ----

json Web(std::vector<PortSpec> ports = {{"http", 80, "TCP", 8080}}, std::vector<std::string> ips = {"10.96.0.10"}) {
  return MakeService("default", "web", ips, ports);
}
json WebSlice(const std::string& name, std::vector<EndpointSpec> endpoints,
              std::vector<SlicePortSpec> ports = {{"http", 8080}}, const std::string& type = "IPv4") {
  return MakeSlice("default", name, "web", type, ports, endpoints);
}
json Patched(json object, const json& patch) {
  object.merge_patch(patch);
  return object;
}
EndpointSpec Hinted(EndpointSpec spec, std::vector<std::string> zones, std::vector<std::string> nodes = {}) {
  spec.zone_hints = std::move(zones);
  spec.node_hints = std::move(nodes);
  return spec;
}
json NodePort(const std::string& type, const std::string& etp, const std::string& itp = "Cluster") {
  json s = Web({{"http", 80, "TCP", 8080}, {"dns", 53, "UDP", 53}, {"sig", 36412, "SCTP", 36412}},
               {"10.96.0.10", "fd00:96::10"});
  s["spec"]["type"] = type;
  s["spec"]["externalTrafficPolicy"] = etp;
  s["spec"]["internalTrafficPolicy"] = itp;
  for (int i = 0; i < 3; ++i) s["spec"]["ports"][i]["nodePort"] = 30080 + i;
  s["spec"]["externalIPs"] = {"203.0.113.7", "2001:db8::7"};
  if (type == "LoadBalancer") {
    s["status"]["loadBalancer"]["ingress"] = {
        {{"ip", "198.51.100.5"}}, {{"ip", "203.0.113.7"}}, {{"ip", "198.51.100.6"}, {"ipMode", "Proxy"}}};
    s["spec"]["loadBalancerSourceRanges"] = {"10.1.0.0/16", "fd00::/8"};
  }
  return s;
}

std::vector<Shape> TableShapes() {
  const std::vector<EndpointSpec> mixed = {Ready("10.244.1.1"), Ready("10.244.2.1", "node-b"),
                                           ServingTerminating("10.244.1.2"),
                                           ServingTerminating("10.244.2.2", "node-b")};
  const std::vector<EndpointSpec> mixed6 = {Ready("fd00:244::1"), Ready("fd00:244::2", "node-b")};
  const std::vector<json> dual_slices = {
      WebSlice("web-4", mixed, {{"http", 8080}, {"dns", 5353, "UDP"}, {"sig", 36412, "SCTP"}}),
      WebSlice("web-6", mixed6, {{"http", 8080}, {"dns", 5353, "UDP"}}, "IPv6")};
  return {
      {"ClusterIpMixedConditions", {Web()}, {WebSlice("web-1", mixed)}},
      {"InternalLocal", {Patched(Web(), {{"spec", {{"internalTrafficPolicy", "Local"}}}})}, {WebSlice("web-1", mixed)}},
      {"InternalLocalRemoteOnly",
       {Patched(Web(), {{"spec", {{"internalTrafficPolicy", "Local"}}}})},
       {WebSlice("web-1", {Ready("10.244.2.1", "node-b")})}},
      {"OnlyTerminating", {Web()}, {WebSlice("web-1", {ServingTerminating("10.244.1.2", "node-b")})}},
      {"ZoneHints",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.1"), {"zone-a"}), Hinted(Ready("10.244.2.1", "node-b"), {"zone-b"}),
                           Hinted(ServingTerminating("10.244.3.1"), {"zone-b"})})}},
      {"ZoneHintsNoNode",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.1"), {"zone-a"}), Hinted(Ready("10.244.2.1"), {"zone-b"})})},
       "-"},
      {"NodeHints",
       {Web()},
       {WebSlice("web-1", {Hinted(Ready("10.244.1.1"), {"zone-b"}, {"node-a"}),
                           Hinted(Ready("10.244.2.1"), {"zone-b"}, {"node-b"})})}},
      {"DuplicatesAcrossSlices",
       {Web()},
       {WebSlice("web-a", {ServingTerminating("10.244.1.1")}), WebSlice("web-b", {Ready("10.244.1.1", "node-b")})}},
      {"NodePortClusterPolicy", {NodePort("NodePort", "Cluster")}, dual_slices},
      {"NodePortLocalPolicy", {NodePort("NodePort", "Local")}, dual_slices},
      {"LoadBalancerLocal", {NodePort("LoadBalancer", "Local", "Local")}, dual_slices},
      {"LoadBalancerLocalRemoteOnly",
       {NodePort("LoadBalancer", "Local")},
       {WebSlice("web-4", {Ready("10.244.2.1", "node-b")}, {{"http", 8080}})}},
      {"TwoServicesOneClusterIp",
       {MakeService("default", "b", {"10.96.0.10"}, {{"http", 80, "TCP"}}),
        MakeService("default", "a", {"10.96.0.10"}, {{"http", 80, "TCP"}})},
       {MakeSlice("default", "b-1", "b", "IPv4", {{"http", 8080}}, {Ready("10.244.1.1")}),
        MakeSlice("default", "a-1", "a", "IPv4", {{"http", 8080}}, {Ready("10.244.2.1")})}},
  };
}

class CrossCheckTest : public ::testing::TestWithParam<Shape> {};

TEST_P(CrossCheckTest, ExplainAgreesWithTheServiceTracker) {
  const std::vector<std::string> diffs = Differences(GetParam());
  EXPECT_TRUE(diffs.empty()) << absl::StrJoin(diffs, "\n");
}

INSTANTIATE_TEST_SUITE_P(Shapes, CrossCheckTest, ::testing::ValuesIn(TableShapes()),
                         [](const auto& info) { return info.param.name; });

// ---- Random shapes ----

class RandomShapes {
 public:
  explicit RandomShapes(uint32_t seed) : rng_(seed) {}

  Shape Next() {
    Shape shape{.name = "random"};
    shape.zone = Pick<std::string>({"zone-a", "zone-b", "-"});
    const int services = Int(1, 3);
    for (int i = 0; i < services; ++i) AddService(shape, i);
    return shape;
  }

 private:
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Int(1, 100) <= percent; }
  template <typename T>
  T Pick(std::vector<T> options) {
    return options[Int(0, static_cast<int>(options.size()) - 1)];
  }
  std::optional<bool> Condition() { return Pick<std::optional<bool>>({std::nullopt, true, false}); }

  void AddService(Shape& shape, int index) {
    const std::string name = absl::StrCat("svc-", index);
    // Few distinct ClusterIPs, so that two Services sometimes share one.
    std::vector<std::string> ips = {absl::StrCat("10.96.0.", Int(1, 4))};
    if (Chance(30)) ips.push_back(absl::StrCat("fd00:96::", Int(1, 4)));
    std::vector<PortSpec> ports = {{"http", 80, "TCP", 8080}};
    if (Chance(50)) ports.push_back({"dns", 53, Pick<std::string>({"UDP", "TCP"}), 53});
    if (Chance(15)) ports.push_back({"sig", 36412, "SCTP", 36412});
    json s = MakeService("default", name, ips, ports);
    const std::string type = Pick<std::string>({"ClusterIP", "NodePort", "LoadBalancer"});
    s["spec"]["type"] = type;
    s["spec"]["internalTrafficPolicy"] = Pick<std::string>({"Cluster", "Local"});
    s["spec"]["externalTrafficPolicy"] = Pick<std::string>({"Cluster", "Local"});
    if (type != "ClusterIP") {
      for (size_t p = 0; p < ports.size(); ++p) s["spec"]["ports"][p]["nodePort"] = 30000 + index * 10 + p;
    }
    if (Chance(40)) s["spec"]["externalIPs"] = {absl::StrCat("203.0.113.", Int(1, 3)), "2001:db8::7"};
    if (type == "LoadBalancer" && Chance(70)) {
      json ingress = {{{"ip", absl::StrCat("198.51.100.", Int(1, 3))}}};
      if (Chance(20)) ingress[0]["ipMode"] = "Proxy";
      if (Chance(20)) ingress.push_back({{"ip", "fd00:51::5"}});
      s["status"]["loadBalancer"]["ingress"] = ingress;
      if (Chance(50)) s["spec"]["loadBalancerSourceRanges"] = {"10.1.2.0/16", "fd00::/8", "192.0.2.0/24"};
    }
    if (Chance(10)) s["metadata"]["labels"][k8s::kLabelServiceProxyName] = "other";
    shape.services.push_back(s);
    const int slices = Int(0, 3);
    for (int i = 0; i < slices; ++i) shape.slices.push_back(RandomSlice(name, absl::StrCat(name, "-", i), ports));
  }

  json RandomSlice(const std::string& service, const std::string& name, const std::vector<PortSpec>& service_ports) {
    const std::string type = Pick<std::string>({"IPv4", "IPv4", "IPv6", "FQDN"});
    std::vector<SlicePortSpec> ports;
    for (const PortSpec& p : service_ports) {
      if (Chance(80)) {
        ports.push_back(
            {Chance(90) ? p.name : "other", Chance(95) ? Pick<int>({8080, 9090}) : 0, Chance(90) ? p.protocol : "UDP"});
      }
    }
    std::vector<EndpointSpec> endpoints;
    const int count = Int(0, 4);
    for (int i = 0; i < count; ++i) {
      EndpointSpec e;
      // Few distinct IPs, so that duplicates happen.
      if (Chance(95)) {
        if (type == "IPv4") e.addresses = {absl::StrCat("10.244.0.", Int(1, 4))};
        if (type == "IPv6") e.addresses = {absl::StrCat("fd00:244::", Int(1, 4))};
        if (type == "FQDN") e.addresses = {"db.example.com"};
      }
      e.node_name = Pick<std::string>({kNode, "node-b", ""});
      e.ready = Condition();
      e.serving = Condition();
      e.terminating = Condition();
      if (Chance(40)) {
        for (const char* z : {"zone-a", "zone-b"}) {
          if (Chance(50)) e.zone_hints.push_back(z);
        }
        for (const char* n : {"node-a", "node-b"}) {
          if (Chance(30)) e.node_hints.push_back(n);
        }
      }
      endpoints.push_back(e);
    }
    return MakeSlice("default", name, service, type, ports, endpoints);
  }

  std::mt19937 rng_;
};

TEST(CrossCheckRandomTest, ExplainAgreesWithTheServiceTrackerOnRandomShapes) {
  RandomShapes shapes(/*seed=*/20240501);
  for (int i = 0; i < 400; ++i) {
    const Shape shape = shapes.Next();
    const std::vector<std::string> diffs = Differences(shape);
    if (!diffs.empty()) {
      std::vector<std::string> objects;
      for (const json& o : shape.services) objects.push_back(o.dump());
      for (const json& o : shape.slices) objects.push_back(o.dump());
      ADD_FAILURE() << "shape " << i << " (zone " << shape.zone << "):\n"
                    << absl::StrJoin(diffs, "\n") << "\nobjects:\n"
                    << absl::StrJoin(objects, "\n");
      return;
    }
  }
}

}  // namespace
}  // namespace bpfproxy
