// Random operations: the changes TakeChanges() hands out, applied in turn,
// always rebuild AllFrontends() and AllExternalFrontends(); mutated objects never crash the tracker and,
// when rejected, change nothing.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/service_tracker.h"
#include "tests/k8s/objects_fixtures.h"
#include "tests/k8s/objects_mutator.h"
#include "tests/proxy/service_tracker_test_util.h"
#include "tests/util/status_macros.h"

namespace bpfproxy {
namespace {

using json = nlohmann::json;
using k8s::testing::EndpointSpec;
using k8s::testing::MakeNode;
using k8s::testing::MakeService;
using k8s::testing::MakeSlice;
using tracker_testing::Dump;
using tracker_testing::DumpExternal;

constexpr char kNode[] = "node-a";

class RandomObjects {
 public:
  explicit RandomObjects(uint64_t seed) : rng_(seed) {}

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Coin() { return Pick(2) == 0; }
  template <typename T>
  const T& OneOf(const std::vector<T>& values) {
    return values[Pick(values.size())];
  }

  // web or api, in one of a few shapes; no two Services ever share a
  // ClusterIP, so AllFrontends() is exactly the union of the changes.
  json Service() {
    const bool web = Coin();
    std::vector<std::string> ips =
        web ? OneOf<std::vector<std::string>>({{"10.96.0.10"}, {"10.96.0.11"}, {"10.96.0.10", "fd00:96::10"}, {"None"}})
            : std::vector<std::string>{"10.96.0.20"};
    std::vector<k8s::testing::PortSpec> ports =
        OneOf<std::vector<k8s::testing::PortSpec>>({{{"http", 80}}, {{"http", 80}, {"dns", 53, "UDP"}}, {{"", 80}}});
    json svc = MakeService("default", web ? "web" : "api", ips, ports);
    if (Pick(3) == 0) svc["spec"]["internalTrafficPolicy"] = "Local";
    // What the external view is made of; each Service has addresses of its
    // own, so that no two ever share a frontend.
    if (Coin()) {
      std::vector<int> node_ports;
      for (size_t i = 0; i < ports.size(); ++i) node_ports.push_back((web ? 30080 : 30090) + static_cast<int>(i));
      svc = tracker_testing::WithNodePorts(svc, node_ports);
    }
    if (Pick(3) == 0) {
      svc = tracker_testing::WithExternalIps(
          svc, {web ? "203.0.113.10" : "203.0.113.20", web ? "2001:db8::10" : "2001:db8::20"});
    }
    if (Pick(3) == 0) {
      svc = tracker_testing::WithIngress(
          svc, {{web ? "198.51.100.10" : "198.51.100.20", OneOf<std::string>({"", "VIP", "Proxy"})}});
    }
    if (Pick(3) == 0) svc = tracker_testing::WithSourceRanges(svc, {"198.51.100.0/24", "2001:db8:1::/48"});
    if (Coin()) svc = tracker_testing::WithExternalTrafficPolicyLocal(svc);
    if (Pick(10) == 0) svc["metadata"]["labels"]["service.kubernetes.io/headless"] = "";
    if (Pick(10) == 0) svc["spec"]["type"] = "ExternalName";
    return svc;
  }

  json Slice() {
    const std::string name = OneOf<std::string>({"web-1", "web-2", "api-1", "orphan-1"});
    const std::string service = Pick(8) == 0 ? "" : name.substr(0, name.find('-'));
    const bool v6 = Pick(4) == 0;
    std::vector<EndpointSpec> endpoints;
    for (size_t i = Pick(4); i > 0; --i) endpoints.push_back(Endpoint(v6));
    std::vector<k8s::testing::SlicePortSpec> ports = OneOf<std::vector<k8s::testing::SlicePortSpec>>(
        {{{"http", 8080}}, {{"http", 8081}, {"dns", 5353, "UDP"}}, {{"", 8080}}, {{"dns", 53, "TCP"}}});
    json slice = MakeSlice("default", name, service, v6 ? "IPv6" : "IPv4", ports, endpoints);
    slice["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] =
        absl::StrCat("2024-05-01T10:00:", 10 + Pick(50), "Z");
    return slice;
  }

  json Node() { return MakeNode(kNode, OneOf<std::string>({"", "zone-a", "zone-b"})); }

 private:
  EndpointSpec Endpoint(bool v6) {
    // Few addresses, so that duplicates across slices are common.
    EndpointSpec spec = k8s::testing::Ready(absl::StrCat(v6 ? "fd00:244::" : "10.244.0.", 1 + Pick(4)),
                                            OneOf<std::string>({kNode, "node-b", ""}));
    auto condition = [&]() -> std::optional<bool> {
      size_t r = Pick(3);
      return r == 0 ? std::nullopt : std::optional<bool>(r == 1);
    };
    spec.ready = condition();
    spec.serving = condition();
    spec.terminating = condition();
    if (Pick(3) == 0) spec.zone_hints = {OneOf<std::string>({"zone-a", "zone-b"})};
    if (Pick(4) == 0) spec.node_hints = {OneOf<std::string>({kNode, "node-b"})};
    return spec;
  }

  std::mt19937_64 rng_;
};

TEST(TrackerModelTest, ChangesReplayedInOrderRebuildAllFrontends) {
  RandomObjects random(/*seed=*/7);
  TrackerConfig config;
  config.node_name = kNode;
  config.start_time = absl::InfinitePast();
  config.views = {
      .nodeport_addresses = {IpAddress::Parse("192.168.1.10").value(), IpAddress::Parse("fd00:1::10").value()},
      .external_view = true};
  ServiceTracker tracker(config);
  // What a caller that applies every change would hold, per Service.
  absl::btree_map<ServiceName, ServiceFrontends> applied;
  size_t changes_seen = 0, drops_seen = 0, external_policies_seen = 0;
  for (int step = 0; step < 4000; ++step) {
    switch (random.Pick(7)) {
      case 0:
      case 1:
        ASSERT_OK(tracker.UpsertService(random.Service()));
        break;
      case 2:
        ASSERT_OK(tracker.DeleteService(random.Service()));
        break;
      case 3:
      case 4:
        ASSERT_OK(tracker.UpsertEndpointSlice(random.Slice()));
        break;
      case 5:
        ASSERT_OK(tracker.DeleteEndpointSlice(random.Slice()));
        break;
      case 6:
        ASSERT_OK(random.Coin() ? tracker.UpsertNode(random.Node()) : tracker.DeleteNode(random.Node()));
        break;
    }
    if (random.Pick(3) != 0) continue;
    for (const auto& [name, change] : tracker.TakeChanges()) {
      ++changes_seen;
      ServiceFrontends& mine = applied[name];
      // |previous| is exactly what the last change for this Service said.
      ASSERT_EQ(Dump(change.previous, change.previous_drop), Dump(mine.frontends, mine.drop)) << name.ToString();
      ASSERT_EQ(DumpExternal(change.external_previous), DumpExternal(mine.external)) << name.ToString();
      ASSERT_TRUE(Dump(change.previous, change.previous_drop) != Dump(change.current, change.current_drop) ||
                  DumpExternal(change.external_previous) != DumpExternal(change.external_current))
          << "an unchanged Service was returned: " << name.ToString();
      mine = ServiceFrontends{change.current, change.current_drop, change.external_current};
      drops_seen += change.current_drop.size();
      external_policies_seen += change.external_current.policies.size();
    }
    EXPECT_EQ(tracker.pending_service_changes(), 0u);
    EXPECT_EQ(tracker.pending_endpoint_changes(), 0u);
    ServiceFrontends all;
    for (const auto& [name, mine] : applied) {
      all.frontends.insert(mine.frontends.begin(), mine.frontends.end());
      all.drop.insert(mine.drop.begin(), mine.drop.end());
      all.external.frontends.insert(mine.external.frontends.begin(), mine.external.frontends.end());
      all.external.policies.insert(mine.external.policies.begin(), mine.external.policies.end());
    }
    ASSERT_EQ(tracker_testing::DumpAll(tracker), Dump(all.frontends, all.drop)) << "step " << step;
    ASSERT_EQ(DumpExternal(tracker.AllExternalFrontends()), DumpExternal(all.external)) << "step " << step;
    std::vector<absl::Time> times = tracker.TakeTriggerTimes();
    ASSERT_TRUE(std::is_sorted(times.begin(), times.end()));
  }
  // The walk must have covered real work, drops included.
  EXPECT_GT(changes_seen, 500u);
  EXPECT_GT(drops_seen, 10u);
  EXPECT_GT(external_policies_seen, 100u);
}

TEST(TrackerModelTest, MutatedObjectsNeverCrashAndRejectedOnesChangeNothing) {
  TrackerConfig config;
  config.node_name = kNode;
  ServiceTracker tracker(config);
  k8s::testing::Mutator mutator(/*seed=*/11);
  const std::vector<json> fixtures = {
      k8s::testing::ClusterIpServiceFixture(),
      k8s::testing::LoadBalancerServiceFixture(),
      k8s::testing::EndpointSliceFixture(),
      k8s::testing::NodeFixture(),
      MakeSlice("default", "web-2", "web", "IPv6", {{"http", 8080}}, {k8s::testing::Ready("fd00:244::5")}),
  };
  size_t accepted = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    json object = fixtures[round % fixtures.size()];
    for (int i = round % 3; i >= 0; --i) mutator.Mutate(object);
    const std::vector<std::string> before = tracker_testing::DumpAll(tracker);
    const size_t pending_services = tracker.pending_service_changes();
    const size_t pending_endpoints = tracker.pending_endpoint_changes();
    absl::Status status;
    switch (round % 6) {
      case 0:
        status = tracker.UpsertService(object);
        break;
      case 1:
        status = tracker.UpsertEndpointSlice(object);
        break;
      case 2:
        status = tracker.UpsertNode(object);
        break;
      case 3:
        status = tracker.DeleteService(object);
        break;
      case 4:
        status = tracker.DeleteEndpointSlice(object);
        break;
      case 5:
        status = tracker.DeleteNode(object);
        break;
    }
    if (status.ok()) {
      ++accepted;
    } else {
      ++rejected;
      ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
      ASSERT_EQ(tracker_testing::DumpAll(tracker), before);
      ASSERT_EQ(tracker.pending_service_changes(), pending_services);
      ASSERT_EQ(tracker.pending_endpoint_changes(), pending_endpoints);
    }
    if (round % 10 == 0) tracker.TakeChanges();
  }
  EXPECT_GT(accepted, 500u);
  EXPECT_GT(rejected, 500u);
}

}  // namespace
}  // namespace bpfproxy
