// The ServiceTracker over time: what TakeChanges() returns after each
// update, the pending counts, trigger times, the Node, and bad input.
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
using k8s::testing::Ready;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using tracker_testing::ChangedNames;
using tracker_testing::DumpAll;
using tracker_testing::DumpCurrent;
using tracker_testing::DumpPrevious;

constexpr char kNode[] = "node-a";

json Web(const std::string& cluster_ip = "10.96.0.10") {
  return MakeService("default", "web", {cluster_ip}, {{"http", 80, "TCP", 8080}});
}
json Api() { return MakeService("default", "api", {"10.96.0.20"}, {{"grpc", 9000}}); }
json WebSlice(const std::string& name, const std::vector<EndpointSpec>& endpoints) {
  return MakeSlice("default", name, "web", "IPv4", {{"http", 8080}}, endpoints);
}
json ApiSlice(const std::string& name, const std::vector<EndpointSpec>& endpoints) {
  return MakeSlice("default", name, "api", "IPv4", {{"grpc", 9001}}, endpoints);
}

TrackerConfig Config(const std::string& service_proxy_name = "") {
  TrackerConfig config;
  config.node_name = kNode;
  config.service_proxy_name = service_proxy_name;
  config.start_time = absl::FromUnixSeconds(1714521600);  // 2024-05-01T00:00:00Z
  return config;
}

class TrackerChangesTest : public ::testing::Test {
 protected:
  // TakeChanges() for a single Service, which must be the only change.
  FrontendChange TakeOnly(const std::string& service) {
    absl::btree_map<ServiceName, FrontendChange> changes = tracker_.TakeChanges();
    EXPECT_THAT(ChangedNames(changes), ElementsAre(service));
    return changes.empty() ? FrontendChange{} : changes.begin()->second;
  }

  ServiceTracker tracker_{Config()};
};

TEST_F(TrackerChangesTest, NothingHappenedNothingChanged) {
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
  EXPECT_THAT(DumpAll(tracker_), IsEmpty());
}

TEST_F(TrackerChangesTest, NewServiceIsReturnedOnce) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  FrontendChange change = TakeOnly("default/web");
  EXPECT_THAT(DumpPrevious(change), IsEmpty());
  EXPECT_THAT(DumpCurrent(change), ElementsAre("10.96.0.10:80/TCP -> REJECT"));
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
}

TEST_F(TrackerChangesTest, OnlyChangedServicesAreReturned) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertService(Api()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(ApiSlice("api-1", {Ready("10.244.2.6")})));
  EXPECT_THAT(ChangedNames(tracker_.TakeChanges()), ElementsAre("default/api", "default/web"));

  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  FrontendChange change = TakeOnly("default/web");
  EXPECT_THAT(DumpPrevious(change), ElementsAre("10.96.0.10:80/TCP -> REJECT"));
  EXPECT_THAT(DumpCurrent(change), ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP"));
}

TEST_F(TrackerChangesTest, RewritesWithANewResourceVersionAreNoChange) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertService(Web()));  // MakeService: a new resourceVersion.
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  EXPECT_EQ(tracker_.pending_service_changes(), 0u);
  EXPECT_EQ(tracker_.pending_endpoint_changes(), 0u);
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
}

TEST_F(TrackerChangesTest, ChangedAndChangedBackIsNoChange) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.2.6")})));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  ASSERT_OK(tracker_.UpsertService(Web("10.96.0.11")));
  ASSERT_OK(tracker_.UpsertService(Web()));
  // kube-proxy counts each slice update; a Service back where it was is not pending.
  EXPECT_EQ(tracker_.pending_endpoint_changes(), 2u);
  EXPECT_EQ(tracker_.pending_service_changes(), 0u);
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
}

TEST_F(TrackerChangesTest, EndpointAddedToItsNewSliceFirstNeverDisappears) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5"), Ready("10.244.1.6")})));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-2", {Ready("10.244.2.7")})));
  tracker_.TakeChanges();
  // 10.244.1.6 moves from web-1 to web-2: for a moment it is in both.
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-2", {Ready("10.244.2.7"), Ready("10.244.1.6")})));
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
  EXPECT_THAT(DumpAll(tracker_),
              ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP 10.244.1.6:8080/TCP 10.244.2.7:8080/TCP"));
  // It is in web-2 now: deleting web-1 keeps it.
  ASSERT_OK(tracker_.DeleteEndpointSlice(WebSlice("web-1", {})));
  FrontendChange change = TakeOnly("default/web");
  EXPECT_THAT(DumpCurrent(change), ElementsAre("10.96.0.10:80/TCP -> 10.244.1.6:8080/TCP 10.244.2.7:8080/TCP"));
}

TEST_F(TrackerChangesTest, EndpointRemovedFromItsOldSliceFirstComesBack) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5"), Ready("10.244.1.6")})));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-2", {Ready("10.244.2.7")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  EXPECT_THAT(DumpCurrent(TakeOnly("default/web")),
              ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP 10.244.2.7:8080/TCP"));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-2", {Ready("10.244.2.7"), Ready("10.244.1.6")})));
  EXPECT_THAT(DumpCurrent(TakeOnly("default/web")),
              ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP 10.244.1.6:8080/TCP 10.244.2.7:8080/TCP"));
}

TEST_F(TrackerChangesTest, DeletingTheLastSliceLeavesARejectingFrontend) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.DeleteEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  FrontendChange change = TakeOnly("default/web");
  EXPECT_THAT(DumpPrevious(change), ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP"));
  EXPECT_THAT(DumpCurrent(change), ElementsAre("10.96.0.10:80/TCP -> REJECT"));
}

TEST_F(TrackerChangesTest, DeletedServiceIsAChangeWithEmptyCurrentAndItsSlicesStay) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.DeleteService(Web()));
  FrontendChange change = TakeOnly("default/web");
  EXPECT_THAT(DumpPrevious(change), ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP"));
  EXPECT_TRUE(change.current.empty());
  EXPECT_THAT(DumpAll(tracker_), IsEmpty());
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
  // Recreated (the slice controller may not have caught up): endpoints at once.
  ASSERT_OK(tracker_.UpsertService(Web()));
  EXPECT_THAT(DumpCurrent(TakeOnly("default/web")), ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP"));
}

TEST_F(TrackerChangesTest, DeletingUnknownObjectsChangesNothing) {
  ASSERT_OK(tracker_.DeleteService(Web()));
  ASSERT_OK(tracker_.DeleteEndpointSlice(WebSlice("web-1", {})));
  ASSERT_OK(tracker_.DeleteNode(MakeNode(kNode, "zone-a")));
  EXPECT_EQ(tracker_.pending_service_changes(), 0u);
  EXPECT_EQ(tracker_.pending_endpoint_changes(), 0u);
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
}

TEST_F(TrackerChangesTest, NewClusterIpReplacesTheOldFrontend) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertService(Web("10.96.0.99")));
  FrontendChange change = TakeOnly("default/web");
  EXPECT_THAT(DumpPrevious(change), ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP"));
  EXPECT_THAT(DumpCurrent(change), ElementsAre("10.96.0.99:80/TCP -> 10.244.1.5:8080/TCP"));
}

TEST_F(TrackerChangesTest, InternalTrafficPolicySwitchChangesBackendsAndVerdict) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.2.6", "node-b")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertService(tracker_testing::WithInternalTrafficPolicyLocal(Web())));
  FrontendChange to_local = TakeOnly("default/web");
  EXPECT_THAT(DumpCurrent(to_local), ElementsAre("10.96.0.10:80/TCP -> DROP"));
  EXPECT_THAT(to_local.current_drop, ElementsAre(L4Address::Parse("10.96.0.10:80/TCP").value()));
  ASSERT_OK(tracker_.UpsertService(Web()));
  FrontendChange back = TakeOnly("default/web");
  EXPECT_THAT(DumpPrevious(back), ElementsAre("10.96.0.10:80/TCP -> DROP"));
  EXPECT_THAT(DumpCurrent(back), ElementsAre("10.96.0.10:80/TCP -> 10.244.2.6:8080/TCP"));
  EXPECT_THAT(back.current_drop, IsEmpty());
}

TEST_F(TrackerChangesTest, RejectBecomingDropIsAChange) {
  // Same (empty) backends, different verdict: the caller must hear of it.
  ASSERT_OK(tracker_.UpsertService(tracker_testing::WithInternalTrafficPolicyLocal(Web())));
  EXPECT_THAT(DumpCurrent(TakeOnly("default/web")), ElementsAre("10.96.0.10:80/TCP -> REJECT"));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.2.6", "node-b")})));
  FrontendChange change = TakeOnly("default/web");
  EXPECT_EQ(change.previous, change.current);
  EXPECT_THAT(DumpCurrent(change), ElementsAre("10.96.0.10:80/TCP -> DROP"));
}

TEST_F(TrackerChangesTest, SelectorLabelAddedRemovesTheService) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  tracker_.TakeChanges();
  json labelled = Web();
  labelled["metadata"]["labels"]["service.kubernetes.io/headless"] = "";
  ASSERT_OK(tracker_.UpsertService(labelled));
  FrontendChange change = TakeOnly("default/web");
  EXPECT_THAT(DumpPrevious(change), ElementsAre("10.96.0.10:80/TCP -> REJECT"));
  EXPECT_TRUE(change.current.empty());
}

TEST(TrackerSelectorTest, ServiceProxyNameSelectsOnlyItsServices) {
  ServiceTracker tracker(Config("bpfproxy"));
  json api = Api();
  api["metadata"]["labels"]["service.kubernetes.io/service-proxy-name"] = "bpfproxy";
  json other = MakeService("default", "other", {"10.96.0.30"}, {{"http", 80}});
  other["metadata"]["labels"]["service.kubernetes.io/service-proxy-name"] = "kube-proxy";
  ASSERT_OK(tracker.UpsertService(Web()));
  ASSERT_OK(tracker.UpsertService(api));
  ASSERT_OK(tracker.UpsertService(other));
  EXPECT_THAT(ChangedNames(tracker.TakeChanges()), ElementsAre("default/api"));
}

TEST_F(TrackerChangesTest, RelabelledSliceMovesToTheOtherService) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertService(MakeService("default", "web2", {"10.96.0.11"}, {{"http", 80}})));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("shared", {Ready("10.244.1.5")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertEndpointSlice(
      MakeSlice("default", "shared", "web2", "IPv4", {{"http", 8080}}, {Ready("10.244.1.5")})));
  EXPECT_EQ(tracker_.pending_endpoint_changes(), 1u);
  EXPECT_THAT(ChangedNames(tracker_.TakeChanges()), ElementsAre("default/web", "default/web2"));
  EXPECT_THAT(DumpAll(tracker_),
              ElementsAre("10.96.0.10:80/TCP -> REJECT", "10.96.0.11:80/TCP -> 10.244.1.5:8080/TCP"));
  // Losing the label detaches it from every Service.
  ASSERT_OK(tracker_.UpsertEndpointSlice(
      MakeSlice("default", "shared", "", "IPv4", {{"http", 8080}}, {Ready("10.244.1.5")})));
  EXPECT_THAT(ChangedNames(tracker_.TakeChanges()), ElementsAre("default/web2"));
}

TEST_F(TrackerChangesTest, NodeZoneDecidesWhichHintsCount) {
  auto hinted = [](const std::string& ip, const std::string& zone) {
    EndpointSpec spec = Ready(ip, "node-x");
    spec.zone_hints = {zone};
    return spec;
  };
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(
      WebSlice("web-1", {hinted("10.244.1.5", "zone-a"), hinted("10.244.2.6", "zone-b")})));
  EXPECT_THAT(DumpCurrent(TakeOnly("default/web")),
              ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP 10.244.2.6:8080/TCP"));
  ASSERT_OK(tracker_.UpsertNode(MakeNode(kNode, "zone-a")));
  EXPECT_THAT(DumpCurrent(TakeOnly("default/web")), ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP"));
  ASSERT_OK(tracker_.UpsertNode(MakeNode(kNode, "zone-b")));
  EXPECT_THAT(DumpCurrent(TakeOnly("default/web")), ElementsAre("10.96.0.10:80/TCP -> 10.244.2.6:8080/TCP"));
  ASSERT_OK(tracker_.UpsertNode(MakeNode(kNode, "zone-b")));  // Same zone: nothing to redo.
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
  ASSERT_OK(tracker_.DeleteNode(MakeNode(kNode, "zone-b")));
  EXPECT_THAT(DumpCurrent(TakeOnly("default/web")),
              ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP 10.244.2.6:8080/TCP"));
}

TEST_F(TrackerChangesTest, OnlyThisNodesObjectMatters) {
  auto hinted = Ready("10.244.1.5", "node-x");
  hinted.zone_hints = {"zone-b"};
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {hinted, Ready("10.244.2.6")})));
  tracker_.TakeChanges();
  ASSERT_OK(tracker_.UpsertNode(MakeNode("node-b", "zone-b")));
  EXPECT_EQ(tracker_.node(), std::nullopt);
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());

  json own = k8s::testing::NodeFixture();  // node-a, being deleted.
  ASSERT_OK(tracker_.UpsertNode(own));
  ASSERT_TRUE(tracker_.node().has_value());
  EXPECT_EQ(tracker_.node()->zone, "zone-a");
  EXPECT_FALSE(tracker_.node()->Eligible());
  ASSERT_OK(tracker_.DeleteNode(MakeNode("node-b", "")));
  EXPECT_TRUE(tracker_.node().has_value());
}

TEST_F(TrackerChangesTest, PendingCountsUntilTaken) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertService(Web("10.96.0.11")));  // Same Service again.
  ASSERT_OK(tracker_.UpsertService(Api()));
  EXPECT_EQ(tracker_.pending_service_changes(), 2u);
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.6")})));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.6")})));  // Unchanged.
  ASSERT_OK(tracker_.UpsertEndpointSlice(ApiSlice("api-1", {})));
  ASSERT_OK(tracker_.DeleteEndpointSlice(ApiSlice("api-1", {})));
  EXPECT_EQ(tracker_.pending_endpoint_changes(), 4u);
  tracker_.TakeChanges();
  EXPECT_EQ(tracker_.pending_service_changes(), 0u);
  EXPECT_EQ(tracker_.pending_endpoint_changes(), 0u);
  // Created and deleted before anyone looked: nothing pending.
  ASSERT_OK(tracker_.UpsertService(MakeService("default", "blip", {"10.96.0.40"}, {{"http", 80}})));
  ASSERT_OK(tracker_.DeleteService(MakeService("default", "blip", {"10.96.0.40"}, {{"http", 80}})));
  EXPECT_EQ(tracker_.pending_service_changes(), 0u);
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
}

json WithTriggerTime(json slice, const std::string& time) {
  slice["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] = time;
  return slice;
}

absl::Time Rfc3339(const std::string& text) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << err;
  return t;
}

TEST_F(TrackerChangesTest, TriggerTimesOfChangedSlicesAfterTheStart) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(
      tracker_.UpsertEndpointSlice(WithTriggerTime(WebSlice("web-1", {Ready("10.244.1.5")}), "2024-05-01T10:00:07Z")));
  ASSERT_OK(
      tracker_.UpsertEndpointSlice(WithTriggerTime(ApiSlice("api-1", {Ready("10.244.2.6")}), "2024-05-01T10:00:03Z")));
  // Unchanged endpoints: no programming to measure.
  ASSERT_OK(
      tracker_.UpsertEndpointSlice(WithTriggerTime(WebSlice("web-1", {Ready("10.244.1.5")}), "2024-05-01T10:00:09Z")));
  // Before the tracker started (Config(): 2024-05-01T00:00:00Z).
  ASSERT_OK(
      tracker_.UpsertEndpointSlice(WithTriggerTime(WebSlice("web-2", {Ready("10.244.1.7")}), "2024-04-30T23:59:59Z")));
  // Not RFC 3339: ignored, the endpoints still count.
  ASSERT_OK(tracker_.UpsertEndpointSlice(WithTriggerTime(WebSlice("web-3", {Ready("10.244.1.8")}), "soon")));
  EXPECT_THAT(tracker_.TakeTriggerTimes(),
              ElementsAre(Rfc3339("2024-05-01T10:00:03Z"), Rfc3339("2024-05-01T10:00:07Z")));
  EXPECT_THAT(tracker_.TakeTriggerTimes(), IsEmpty());
  EXPECT_THAT(DumpAll(tracker_),
              ElementsAre("10.96.0.10:80/TCP -> 10.244.1.5:8080/TCP 10.244.1.7:8080/TCP 10.244.1.8:8080/TCP"));
}

TEST_F(TrackerChangesTest, DeletedSliceDropsItsServicesTriggerTimes) {
  // A deleted slice's annotation dates from its last update, not from the
  // deletion: kube-proxy reports nothing for the Service rather than that.
  ASSERT_OK(
      tracker_.UpsertEndpointSlice(WithTriggerTime(WebSlice("web-1", {Ready("10.244.1.5")}), "2024-05-01T10:00:07Z")));
  ASSERT_OK(
      tracker_.UpsertEndpointSlice(WithTriggerTime(ApiSlice("api-1", {Ready("10.244.2.6")}), "2024-05-01T10:00:03Z")));
  ASSERT_OK(tracker_.DeleteEndpointSlice(WebSlice("web-1", {})));
  EXPECT_THAT(tracker_.TakeTriggerTimes(), ElementsAre(Rfc3339("2024-05-01T10:00:03Z")));
}

TEST_F(TrackerChangesTest, UndecodableObjectsAreRejectedAndChangeNothing) {
  ASSERT_OK(tracker_.UpsertService(Web()));
  ASSERT_OK(tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5")})));
  ASSERT_OK(tracker_.UpsertNode(MakeNode(kNode, "zone-a")));
  tracker_.TakeChanges();
  const std::vector<std::string> before = DumpAll(tracker_);

  json bad_service = Web("10.96.0.99");
  bad_service["spec"]["ports"][0]["port"] = 70000;
  json bad_slice = WebSlice("web-1", {Ready("10.244.1.99")});
  bad_slice["endpoints"][0]["addresses"][0] = "10.244.1";
  json bad_node = MakeNode(kNode, "zone-b");
  bad_node["metadata"]["labels"]["topology.kubernetes.io/zone"] = 7;
  json nameless = Web();
  nameless["metadata"].erase("name");
  for (absl::Status status :
       {tracker_.UpsertService(bad_service), tracker_.UpsertEndpointSlice(bad_slice), tracker_.UpsertNode(bad_node),
        tracker_.DeleteService(nameless), tracker_.DeleteEndpointSlice(json::array()), tracker_.DeleteNode("node-a")}) {
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  }
  EXPECT_EQ(tracker_.pending_service_changes(), 0u);
  EXPECT_EQ(tracker_.pending_endpoint_changes(), 0u);
  EXPECT_THAT(tracker_.TakeChanges(), IsEmpty());
  EXPECT_EQ(DumpAll(tracker_), before);
  EXPECT_EQ(tracker_.node()->zone, "zone-a");
}

TEST_F(TrackerChangesTest, PortStatesKeepBothEndpointSets) {
  ASSERT_OK(tracker_.UpsertService(MakeService("default", "web", {"10.96.0.10", "fd00:96::10"}, {{"http", 80}})));
  ASSERT_OK(
      tracker_.UpsertEndpointSlice(WebSlice("web-1", {Ready("10.244.1.5", kNode), Ready("10.244.2.6", "node-b")})));
  std::vector<ServicePortState> states = tracker_.PortStates({"default", "web"});
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].family, k8s::IpFamily::kIPv4);
  EXPECT_EQ(states[0].cluster_ip.ToString(), "10.96.0.10:80/TCP");
  EXPECT_EQ(states[0].endpoints, (CategorizedEndpoints{{L4Address::Parse("10.244.1.5:8080/TCP").value(),
                                                        L4Address::Parse("10.244.2.6:8080/TCP").value()},
                                                       {L4Address::Parse("10.244.1.5:8080/TCP").value()},
                                                       true}));
  EXPECT_EQ(states[1].family, k8s::IpFamily::kIPv6);
  EXPECT_EQ(states[1].endpoints, CategorizedEndpoints{});
  EXPECT_THAT(tracker_.PortStates({"default", "nope"}), IsEmpty());
}

TEST_F(TrackerChangesTest, SharedFrontendGoesToTheFirstServiceByName) {
  // Only possible for a moment, when a ClusterIP is freed and reused.
  ASSERT_OK(tracker_.UpsertService(MakeService("default", "b-new", {"10.96.0.10"}, {{"http", 80}})));
  ASSERT_OK(tracker_.UpsertService(MakeService("default", "a-old", {"10.96.0.10"}, {{"http", 80}})));
  ASSERT_OK(tracker_.UpsertEndpointSlice(
      MakeSlice("default", "b-new-1", "b-new", "IPv4", {{"http", 8080}}, {Ready("10.244.1.5")})));
  EXPECT_THAT(DumpAll(tracker_), ElementsAre("10.96.0.10:80/TCP -> REJECT"));
}

}  // namespace
}  // namespace bpfproxy
